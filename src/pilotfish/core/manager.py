"""The plugin manager: discovery, enabling, instrumentation and a typed facade over the hooks.

Discovery reads the entry-point group ``pilotfish`` (built-ins are declared there exactly like
third-party plugins). Environment variables:

- ``PILOTFISH_LOAD_PLUGINS=a,b``: load only these entry points (the defaults ``core`` and
  ``models`` are always loaded unless disabled).
- ``PILOTFISH_DISABLE_PLUGINS=a,b``: never load or register these.
- ``PILOTFISH_TRACE=1``: print every hook implementation call with its plugin and duration
  to stderr.

Each hook implementation is wrapped once at registration: the wrapper times the call, records
a :class:`~pilotfish.core.types.TraceEvent` into the current run's trace, awaits coroutine
results, and applies the plugin's ``on_error`` policy (``raise`` wraps the exception in a
:class:`~pilotfish.core.errors.PluginError` naming plugin and hook; ``skip`` records it and
returns ``None`` so the hook goes on without that plugin).
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import inspect
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import pluggy

from . import hookspecs
from .errors import ConfigError, PilotfishError, PluginError, PluginNotFoundError
from .plugin import Plugin, options_model, validate_options
from .types import TraceEvent

logger = logging.getLogger("pilotfish")

ENTRY_POINT_GROUP = "pilotfish"
DEFAULT_PLUGINS: tuple[str, ...] = ("core", "models")
"""Always enabled; each is also declared in pyproject.toml's entry points."""
_BUILTIN_MODULES = {"core": "pilotfish.plugins.core", "models": "pilotfish.models.builtin"}

OnError = Literal["raise", "skip"]

_current_trace: contextvars.ContextVar[list[TraceEvent] | None] = contextvars.ContextVar(
    "pilotfish_trace", default=None
)


@contextmanager
def collecting_trace(trace: list[TraceEvent]) -> Iterator[list[TraceEvent]]:
    """Record every hook call made in this context (thread/task) into ``trace``."""
    token = _current_trace.set(trace)
    try:
        yield trace
    finally:
        _current_trace.reset(token)


def _env_list(name: str) -> list[str] | None:
    raw = os.environ.get(name)
    if raw is None:
        return None
    return [x.strip() for x in raw.split(",") if x.strip()]


def _trace_enabled() -> bool:
    return os.environ.get("PILOTFISH_TRACE", "") not in ("", "0", "false", "no")


@dataclass
class InstalledPlugin:
    """An entry point in the ``pilotfish`` group."""

    name: str
    value: str
    dist: str | None
    version: str | None
    _obj: Any = None
    _loaded: bool = False

    def load(self) -> Any:
        if not self._loaded:
            module, _, attr = self.value.partition(":")
            try:
                obj = importlib.import_module(module)
                for part in filter(None, attr.split(".")):
                    obj = getattr(obj, part)
            except Exception as exc:  # a broken third-party package must not hide the others
                raise PluginError(self.name, None, f"could not be loaded from {self.value!r}: {exc}") from exc
            self._obj = obj
            self._loaded = True
        return self._obj


_installed_lock = threading.Lock()
_installed_cache: dict[str, InstalledPlugin] | None = None


def installed_plugins(refresh: bool = False) -> dict[str, InstalledPlugin]:
    """Entry points of the ``pilotfish`` group, narrowed by the environment variables."""
    global _installed_cache
    with _installed_lock:
        if _installed_cache is None or refresh:
            from importlib.metadata import entry_points

            found: dict[str, InstalledPlugin] = {}
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                dist = getattr(ep, "dist", None)
                found.setdefault(
                    ep.name,
                    InstalledPlugin(
                        ep.name,
                        ep.value,
                        dist.metadata["Name"] if dist is not None else None,
                        dist.version if dist is not None else None,
                    ),
                )
            # Running from a source tree that was not pip-installed: the defaults still work.
            for name, module in _BUILTIN_MODULES.items():
                found.setdefault(name, InstalledPlugin(name, module, "pilotfish", None))
            _installed_cache = found
        result = dict(_installed_cache)
    only = _env_list("PILOTFISH_LOAD_PLUGINS")
    blocked = set(_env_list("PILOTFISH_DISABLE_PLUGINS") or [])
    if only is not None:
        keep = set(only) | set(DEFAULT_PLUGINS)
        result = {k: v for k, v in result.items() if k in keep}
    return {k: v for k, v in result.items() if k not in blocked}


def _plugin_display_name(obj: Any) -> str:
    name = getattr(obj, "name", None)
    if isinstance(name, str) and name:
        return name
    if inspect.ismodule(obj):
        return obj.__name__
    return type(obj).__name__


class PluginManager(pluggy.PluginManager):
    """pluggy's manager with pilotfish's hookspecs, error policies and tracing."""

    def __init__(self, *, on_error: OnError = "raise"):
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.default_on_error: OnError = on_error
        self.on_error: dict[str, OnError] = {}
        self.hooks = Hooks(self)

    # -- registration ----------------------------------------------------------------------

    def register(self, plugin: Any, name: str | None = None, on_error: OnError | None = None) -> str | None:  # type: ignore[override]
        name = name or _plugin_display_name(plugin)
        blocked = set(_env_list("PILOTFISH_DISABLE_PLUGINS") or [])
        if name in blocked:
            self.set_blocked(name)
            return None
        try:
            registered = super().register(plugin, name)
        except pluggy.PluginValidationError as exc:
            detail = "; ".join(line.strip() for line in str(exc).splitlines())
            raise PluginError(name, None, f"does not match the hook specification: {detail}") from None
        except ValueError as exc:
            raise PluginError(name, None, str(exc)) from None
        if registered is None:
            return None
        self.on_error[name] = on_error or self.default_on_error
        for caller in self.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and not (impl.wrapper or impl.hookwrapper):
                    _instrument(impl, caller.name, self)
        return registered

    def check_pending(self) -> None:
        try:
            super().check_pending()
        except pluggy.PluginValidationError as exc:
            plugin = getattr(exc, "plugin", None)
            raise PluginError(
                self.get_name(plugin) or "?", None,
                "implements a hook that does not exist: " + "; ".join(str(exc).splitlines()),
            ) from None

    def plugin_names(self) -> list[str]:
        return [name for name, _ in self.list_name_plugin() if name is not None]


def _resolve_awaitable(value: Any) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_await(value))
    raise PilotfishError(
        "an async hook implementation was called from inside a running event loop; "
        "use `await pilot.arun(...)` instead of `pilot.run(...)` in async code"
    )


async def _await(value: Any) -> Any:
    return await value


def _instrument(impl: pluggy.HookImpl, hook: str, pm: PluginManager) -> None:
    """Wrap one hook implementation: timing, trace, awaiting, error policy."""
    function = impl.function
    plugin = impl.plugin_name

    def call(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        status: Any = "ok"
        error = None
        try:
            result = function(*args, **kwargs)
            if inspect.isawaitable(result):
                result = _resolve_awaitable(result)
            if result is None:
                status = "none"
            return result
        except PilotfishError as exc:
            status, error = "error", f"{type(exc).__name__}: {exc}"
            if pm.on_error.get(plugin, pm.default_on_error) == "skip":
                status = "skipped-error"
                return None
            if isinstance(exc, PluginError):
                raise
            raise PluginError(plugin, hook, error) from exc
        except Exception as exc:
            status, error = "error", f"{type(exc).__name__}: {exc}"
            if pm.on_error.get(plugin, pm.default_on_error) == "skip":
                status = "skipped-error"
                return None
            raise PluginError(plugin, hook, error) from exc
        finally:
            duration = time.perf_counter() - start
            trace = _current_trace.get()
            if trace is not None:
                trace.append(TraceEvent(hook, plugin, duration, status, error, start))
            if _trace_enabled():
                extra = f" {error}" if error else ""
                print(
                    f"[pilotfish] {hook:<16} {plugin:<24} {duration * 1000:8.2f} ms {status}{extra}",
                    file=sys.stderr,
                )

    call.__wrapped__ = function  # type: ignore[attr-defined]
    impl.function = call  # type: ignore[misc]  # Final only for type checkers


class Hooks:
    """Typed facade: one method per hook, so the host's own calls are type-checked.

    ``pm.hook.X(...)`` returns ``Any``; these methods say what comes back.
    """

    def __init__(self, pm: PluginManager):
        self._pm = pm

    def before_prompt(self, request: Any, pilot: Any) -> Any:
        """Chained: each implementation sees the previous one's result."""
        impls = self._pm.hook.before_prompt.get_hookimpls()
        for impl in reversed(impls):  # pluggy's call order
            if impl.wrapper or impl.hookwrapper:
                raise PluginError(impl.plugin_name, "before_prompt", "wrappers are not supported on this hook")
            available = {"request": request, "pilot": pilot}
            result = impl.function(*[available[a] for a in impl.argnames])
            if result is not None:
                request = result
        return request

    def route(self, request: Any, pilot: Any) -> Any:
        return self._pm.hook.route(request=request, pilot=pilot)

    def retrieve(self, request: Any, k: int, pilot: Any) -> list[list[Any]]:
        return [r for r in self._pm.hook.retrieve(request=request, k=k, pilot=pilot) if r]

    def rerank(self, request: Any, documents: list[Any], k: int, pilot: Any) -> list[Any] | None:
        return self._pm.hook.rerank(request=request, documents=documents, k=k, pilot=pilot)

    def compress(self, request: Any, documents: list[Any], pilot: Any) -> list[Any] | None:
        return self._pm.hook.compress(request=request, documents=documents, pilot=pilot)

    def build_messages(self, request: Any, documents: list[Any], pilot: Any) -> list[dict[str, str]]:
        return self._pm.hook.build_messages(request=request, documents=documents, pilot=pilot)

    def logits_processors(self, request: Any, model: Any, pilot: Any) -> list[Any]:
        out: list[Any] = []
        for procs in self._pm.hook.logits_processors(request=request, model=model, pilot=pilot):
            out.extend(procs or [])
        return out

    def generate(self, request: Any, messages: list[Any], model: Any, on_token: Any, pilot: Any) -> Any:
        return self._pm.hook.generate(
            request=request, messages=messages, model=model, on_token=on_token, pilot=pilot
        )

    def verify(self, request: Any, text: str, documents: list[Any], pilot: Any) -> list[Any]:
        out: list[Any] = []
        for verdicts in self._pm.hook.verify(request=request, text=text, documents=documents, pilot=pilot):
            out.extend(verdicts or [])
        return out

    def repair(self, request: Any, text: str, verdicts: list[Any], documents: list[Any], round: int, pilot: Any) -> Any:
        return self._pm.hook.repair(
            request=request, text=text, verdicts=verdicts, documents=documents, round=round, pilot=pilot
        )

    def synthesize(self, method: str, records: list[Any], params: dict[str, Any], model: Any, pilot: Any) -> Any:
        return self._pm.hook.synthesize(method=method, records=records, params=params, model=model, pilot=pilot)

    def score_examples(self, records: list[Any], pilot: Any) -> list[dict[str, list[Any]]]:
        return [c for c in self._pm.hook.score_examples(records=records, pilot=pilot) if c]

    def distill(self, task: str, records: list[Any], teacher: Any, student: Any, params: dict[str, Any], pilot: Any) -> Any:
        return self._pm.hook.distill(task=task, records=records, teacher=teacher, student=student, params=params,
                                     pilot=pilot)


def instantiate(name: str, obj: Any, options: dict[str, Any] | None) -> Any:
    """Turn an entry-point object into a registrable plugin, validating its options."""
    options = dict(options or {})
    if inspect.isclass(obj):
        if issubclass(obj, Plugin):
            plugin = obj(options)
            return plugin
        raise PluginError(name, None, f"entry point gives a class {obj.__name__} that is not a pilotfish.Plugin")
    model = options_model(obj)
    if options and model is None:
        raise ConfigError(
            f"plugin {name!r}: takes no options, got {', '.join(sorted(options))}"
        )
    if model is not None:
        validate_options(name, model, options)
    return obj


def build_manager(
    enabled: list[Any] | tuple[Any, ...] = (),
    options: dict[str, dict[str, Any]] | None = None,
    *,
    on_error: OnError = "raise",
    load_defaults: bool = True,
    use_entrypoints: bool = True,
) -> PluginManager:
    """A fresh manager with the default plugins and the ``enabled`` ones.

    ``enabled`` holds entry-point names or plugin objects (modules, instances, Plugin classes).
    ``options`` maps a plugin name to its option table; the reserved key ``on_error`` sets that
    plugin's error policy.
    """
    pm = PluginManager(on_error=on_error)
    options = {k: dict(v) for k, v in (options or {}).items()}
    installed = installed_plugins() if use_entrypoints else {
        n: InstalledPlugin(n, m, "pilotfish", None) for n, m in _BUILTIN_MODULES.items()
    }
    names: list[Any] = list(DEFAULT_PLUGINS) if load_defaults else []
    names += [e for e in enabled if not (isinstance(e, str) and e in names)]
    for entry in names:
        if isinstance(entry, str):
            if entry not in installed:
                if entry in DEFAULT_PLUGINS:
                    continue  # explicitly disabled default
                available = ", ".join(sorted(installed)) or "(none)"
                raise PluginNotFoundError(
                    f"plugin {entry!r} is not installed; installed plugins: {available}"
                )
            name = entry
            obj = installed[entry].load()
        else:
            obj = entry
            name = _plugin_display_name(entry)
            if inspect.isclass(entry):
                name = getattr(entry, "name", "") or entry.__name__
        opts = options.get(name, {})
        policy = opts.pop("on_error", None)
        if policy not in (None, "raise", "skip"):
            raise ConfigError(f"plugin {name!r}: option 'on_error' expects 'raise' or 'skip', got {policy!r}")
        plugin = instantiate(name, obj, opts) if (isinstance(entry, str) or inspect.isclass(entry)) else obj
        if pm.is_registered(plugin):
            continue
        pm.register(plugin, name=name, on_error=policy)
    pm.check_pending()
    return pm


def discovery_manager() -> PluginManager:
    """A manager with every installed plugin that can be registered without options.

    Used for the process-wide hooks (``register_models``, ``register_commands``) and by
    ``pilotfish plugins``. Plugin classes are inspected, not instantiated: their
    ``register_models`` / ``register_commands`` must be static methods.
    """
    pm = PluginManager()
    for name, info in installed_plugins().items():
        try:
            obj = info.load()
            if inspect.isclass(obj):
                obj = _StaticHooks(obj)
            pm.register(obj, name=name)
        except PluginError as exc:
            # one broken package must not take every model and command down with it
            logger.warning("skipping plugin %s: %s", name, exc)
    return pm


class _StaticHooks:
    """The process-wide hooks of a plugin class, without instantiating it."""

    def __init__(self, cls: type):
        self.__name__ = cls.__name__
        for hook in ("register_models", "register_commands"):
            raw = inspect.getattr_static(cls, hook, None)
            if isinstance(raw, (staticmethod, classmethod)):
                setattr(self, hook, getattr(cls, hook))


def hooks_of(obj: Any) -> list[str]:
    """Names of the hooks an object (module, instance or class) implements."""
    names = []
    for attr in dir(obj):
        value = getattr(obj, attr, None)
        if callable(value) and getattr(value, "pilotfish_impl", None) is not None and attr in _hook_names():
            names.append(attr)
    return sorted(names)


def _hook_names() -> set[str]:
    return {n for n in dir(hookspecs) if getattr(getattr(hookspecs, n), "pilotfish_spec", None) is not None}


HookCallable = Callable[..., Any]

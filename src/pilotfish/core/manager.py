"""The plugin manager: enabling plugins, registering them instrumented, and the typed hook facade.

Discovery of installed plugins (the entry-point group ``pilotfish``, ``PILOTFISH_LOAD_PLUGINS``,
``PILOTFISH_DISABLE_PLUGINS``) is in :mod:`pilotfish.core.discovery`; the wrapper every hook
implementation gets at registration (timing, trace, awaiting, ``on_error`` policy,
``PILOTFISH_TRACE=1``) in :mod:`pilotfish.core.tracing`; the typed facade ``pm.hooks`` in
:mod:`pilotfish.core.hooks`.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Literal

import pluggy

from . import hookspecs
from .discovery import BUILTIN_MODULES, DEFAULT_PLUGINS, InstalledPlugin, env_list, installed_plugins
from .errors import ConfigError, PluginError, PluginNotFoundError
from .hooks import Hooks
from .plugin import Plugin, options_model, validate_options
from .tracing import collecting_trace, instrument

__all__ = [
    "DEFAULT_PLUGINS", "InstalledPlugin", "OnError", "PluginManager", "build_manager", "collecting_trace",
    "discovery_manager", "hooks_of", "installed_plugins", "instantiate",
]

logger = logging.getLogger("pilotfish")

OnError = Literal["raise", "skip"]


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
        blocked = set(env_list("PILOTFISH_DISABLE_PLUGINS") or [])
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
                    instrument(impl, caller.name, self)
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
        n: InstalledPlugin(n, m, "pilotfish", None) for n, m in BUILTIN_MODULES.items()
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

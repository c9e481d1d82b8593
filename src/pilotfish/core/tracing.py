"""Tracing of hook calls: each hook implementation is wrapped once at registration (:func:`instrument`);
the wrapper times the call, records a :class:`~pilotfish.core.types.TraceEvent` into the current run's
trace (:func:`collecting_trace`), awaits coroutine results, and applies the plugin's ``on_error`` policy
(``raise`` wraps the exception in a :class:`~pilotfish.core.errors.PluginError` naming plugin and hook;
``skip`` records it and returns ``None`` so the hook goes on without that plugin).

``PILOTFISH_TRACE=1`` also prints every call with its plugin and duration to stderr.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pluggy

from .errors import PilotfishError, PluginError
from .types import TraceEvent

if TYPE_CHECKING:
    from .manager import PluginManager

current_trace: contextvars.ContextVar[list[TraceEvent] | None] = contextvars.ContextVar(
    "pilotfish_trace", default=None
)


@contextmanager
def collecting_trace(trace: list[TraceEvent]) -> Iterator[list[TraceEvent]]:
    """Record every hook call made in this context (thread/task) into ``trace``."""
    token = current_trace.set(trace)
    try:
        yield trace
    finally:
        current_trace.reset(token)



def trace_enabled() -> bool:
    return os.environ.get("PILOTFISH_TRACE", "") not in ("", "0", "false", "no")


def resolve_awaitable(value: Any) -> Any:
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


def instrument(impl: pluggy.HookImpl, hook: str, pm: PluginManager) -> None:
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
                result = resolve_awaitable(result)
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
            trace = current_trace.get()
            if trace is not None:
                trace.append(TraceEvent(hook, plugin, duration, status, error, start))
            if trace_enabled():
                extra = f" {error}" if error else ""
                print(
                    f"[pilotfish] {hook:<16} {plugin:<24} {duration * 1000:8.2f} ms {status}{extra}",
                    file=sys.stderr,
                )

    call.__wrapped__ = function  # type: ignore[attr-defined]
    impl.function = call  # type: ignore[misc]  # Final only for type checkers

"""Discovery of installed plugins: the entry-point group ``pilotfish`` (built-ins are declared there
exactly like third-party plugins). Environment variables:

- ``PILOTFISH_LOAD_PLUGINS=a,b``: load only these entry points (the defaults ``core`` and
  ``models`` are always loaded unless disabled).
- ``PILOTFISH_DISABLE_PLUGINS=a,b``: never load or register these.
"""

from __future__ import annotations

import importlib
import os
import threading
from dataclasses import dataclass
from typing import Any

from .errors import PluginError

ENTRY_POINT_GROUP = "pilotfish"
DEFAULT_PLUGINS: tuple[str, ...] = ("core", "models")
"""Always enabled; each is also declared in pyproject.toml's entry points."""
BUILTIN_MODULES = {"core": "pilotfish.plugins.core", "models": "pilotfish.models.builtin"}


def env_list(name: str) -> list[str] | None:
    raw = os.environ.get(name)
    if raw is None:
        return None
    return [x.strip() for x in raw.split(",") if x.strip()]



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
            for name, module in BUILTIN_MODULES.items():
                found.setdefault(name, InstalledPlugin(name, module, "pilotfish", None))
            _installed_cache = found
        result = dict(_installed_cache)
    only = env_list("PILOTFISH_LOAD_PLUGINS")
    blocked = set(env_list("PILOTFISH_DISABLE_PLUGINS") or [])
    if only is not None:
        keep = set(only) | set(DEFAULT_PLUGINS)
        result = {k: v for k, v in result.items() if k in keep}
    return {k: v for k, v in result.items() if k not in blocked}

"""What the LangChain and LlamaIndex adapters share, without importing either library: the model-id loader
(``langchain:<module>:<attr>``, ``llamaindex:<module>:<attr>``) and the check of a ``pilot`` argument."""

from __future__ import annotations

import importlib
from typing import Any

from pilotfish.core.errors import InputError, ModelError
from pilotfish.core.pilot import Pilot


def load_framework_object(scheme: str, path: str, base: type, kind: str, framework: str) -> Any:
    """The ``base`` instance a ``<scheme>:<module>:<attr>`` model id names (also ``<module>.<attr>``).

    ``attr`` (dotted for nested attributes) may be an instance, or a class or function called without
    arguments to make one. ``kind`` names what is loaded (``"chat model"``, ``"LLM"``) in the errors, and
    ``framework`` the library it comes from (``"LangChain"``); every failure is a :class:`ModelError`.
    """
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ModelError(f"{scheme} model id needs '{scheme}:<module>:<attr>', got '{scheme}:{path}'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(f"{scheme}:{path}: cannot import {module_name!r}: {exc}") from exc
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ModelError(f"{scheme}:{path}: {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, base) and callable(obj):
        try:
            obj = obj()
        except Exception as exc:
            raise ModelError(f"{scheme}:{path}: building the {kind} failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(obj, base):
        raise ModelError(f"{scheme}:{path} is a {type(obj).__name__}, not a {framework} {kind}")
    return obj


def require_pilot(pilot: Any) -> Pilot:
    """``pilot`` itself when it is a :class:`~pilotfish.Pilot`; otherwise an :class:`InputError`."""
    if not isinstance(pilot, Pilot):
        raise InputError(f"pilot must be a pilotfish.Pilot, got {type(pilot).__name__}")
    return pilot

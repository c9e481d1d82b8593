"""A pytest plugin for plugin authors (entry point ``pytest11``; active once pilotfish is installed).

Fixtures:

- ``fake_model``: a deterministic :class:`~pilotfish.FakeModel` (``"echo: <question>"``).
- ``make_pilot``: ``make_pilot(*plugins, model=None, **kwargs)`` builds a :class:`~pilotfish.Pilot`
  with an isolated plugin manager: only the built-in defaults and the plugins you pass (entry
  points of other installed packages are not loaded).
- ``pilot_pm``: an isolated :class:`~pilotfish.PluginManager` with just the defaults.

Example::

    def test_my_plugin(make_pilot):
        pilot = make_pilot(MyPlugin())
        answer = pilot.run("hello")
        assert answer.text == "echo: HELLO"
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pilotfish.core.manager import PluginManager, build_manager
from pilotfish.core.pilot import Pilot
from pilotfish.models.fake import FakeModel

__all__ = ["FakeModel", "fake_model", "make_pilot", "pilot_pm"]


@pytest.fixture
def fake_model() -> FakeModel:
    return FakeModel()


@pytest.fixture
def pilot_pm() -> PluginManager:
    return build_manager((), use_entrypoints=False)


@pytest.fixture
def make_pilot(fake_model: FakeModel) -> Callable[..., Pilot]:
    def make(*plugins: Any, model: Any = None, **kwargs: Any) -> Pilot:
        kwargs.setdefault("use_entrypoints", False)
        return Pilot(model=model if model is not None else fake_model, plugins=plugins, **kwargs)

    return make

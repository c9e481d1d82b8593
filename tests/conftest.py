"""Shared fixtures. Real models are loaded once per test session (``pilotfish.get_model`` caches them)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def smollm2():
    import pilotfish

    return pilotfish.get_model("smollm2-135m")


@pytest.fixture(scope="session")
def gemma3():
    import pilotfish

    return pilotfish.get_model("gemma3-270m")


@pytest.fixture(scope="session")
def minilm():
    import pilotfish

    return pilotfish.get_model("minilm")

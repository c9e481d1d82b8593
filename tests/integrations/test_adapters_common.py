"""The model-id loader and pilot check the LangChain and LlamaIndex adapters share (adapters/common.py),
on plain Python objects: every way a ``<scheme>:<module>:<attr>`` id can fail names what went wrong."""

from __future__ import annotations

import math
import os
from fractions import Fraction

import pytest

import pilotfish
from pilotfish.adapters.common import load_framework_object, require_pilot


def _load(path: str) -> object:
    return load_framework_object("frac", path, Fraction, "fraction", "Python")


def test_an_instance_a_class_or_a_factory_loads() -> None:
    assert _load("fractions:Fraction") == Fraction(0)  # a class, called without arguments
    assert _load("fractions.Fraction") == Fraction(0)  # <module>.<attr>
    assert load_framework_object("num", "math:pi", float, "number", "Python") == math.pi  # an instance, as it is
    assert load_framework_object("s", "os:path.sep", str, "text", "Python") == os.path.sep  # a dotted attribute


@pytest.mark.parametrize(("path", "message"), [
    ("nomodule", r"frac model id needs 'frac:<module>:<attr>', got 'frac:nomodule'"),
    ("no_such_module_xyz:Thing", r"frac:no_such_module_xyz:Thing: cannot import 'no_such_module_xyz'"),
    ("fractions:Nope", r"frac:fractions:Nope: 'fractions' has no attribute 'Nope'"),
    ("math:pi", r"frac:math:pi is a float, not a Python fraction"),
    ("math:sqrt", r"frac:math:sqrt: building the fraction failed: TypeError"),
])
def test_each_failure_is_a_model_error_that_says_why(path: str, message: str) -> None:
    with pytest.raises(pilotfish.ModelError, match=message):
        _load(path)


def test_require_pilot() -> None:
    pilot = pilotfish.Pilot(model="fake", use_entrypoints=False)
    assert require_pilot(pilot) is pilot
    with pytest.raises(pilotfish.InputError, match="pilot must be a pilotfish.Pilot, got str"):
        require_pilot("smollm2-135m")

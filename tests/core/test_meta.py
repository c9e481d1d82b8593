"""Meta-tests: every hook documented and tested, the public surface guarded."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pilotfish
from pilotfish.core import hookspecs

ROOT = Path(__file__).resolve().parents[2]


def hook_names() -> list[str]:
    return sorted(n for n, f in vars(hookspecs).items() if getattr(f, "pilotfish_spec", None) is not None)


def test_every_hook_has_a_docstring_with_its_call_mode():
    for name in hook_names():
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert len(doc) > 80, f"hook {name} lacks a docstring"
        assert re.search(r"first result wins|all results collected|chained|all implementations are called", doc, re.I), name
        assert "When" in doc, f"hook {name}: say when it runs"


def test_every_hook_is_documented_for_users():
    text = (ROOT / "docs" / "hooks.md").read_text()
    for name in hook_names():
        assert f"## `{name}(" in text, f"docs/hooks.md lacks a section for {name}"


def test_every_hook_is_tested():
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py") if p.name != "test_meta.py")
    for name in hook_names():
        assert re.search(rf"def {name}\(|\.{name}\(|hook\.{name}\b", tests), f"no test implements or calls hook {name}"


def test_firstresult_modes_are_chosen_on_purpose():
    first = {n for n in hook_names() if getattr(hookspecs, n).pilotfish_spec.get("firstresult")}
    assert {"route", "rerank", "build_messages", "generate", "repair"} <= first
    assert not first & {"before_prompt", "retrieve", "verify", "logits_processors", "register_models", "register_commands"}


def test_public_surface_is_guarded():
    assert sorted(pilotfish.__all__) == pilotfish.__all__
    for name in pilotfish.__all__:
        assert hasattr(pilotfish, name), name
    public = {n for n in dir(pilotfish) if not n.startswith("_") and not inspect.ismodule(getattr(pilotfish, n))}
    assert public == set(pilotfish.__all__) - {"__version__"}


def test_core_imports_without_torch():
    import subprocess
    import sys

    code = (
        "import sys, pilotfish, pilotfish.cli, pilotfish.testing;"
        "pilotfish.Pilot(model='fake', use_entrypoints=False).run('x');"
        "print(sorted(m for m in ('torch','transformers','sentence_transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_builtin_plugin_is_declared_as_an_entry_point():
    import tomllib

    eps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["pilotfish"]
    from pilotfish.core.manager import DEFAULT_PLUGINS

    assert set(DEFAULT_PLUGINS) <= set(eps)
    for name, value in eps.items():
        assert value.startswith("pilotfish."), f"{name}: built-ins live in the pilotfish package"

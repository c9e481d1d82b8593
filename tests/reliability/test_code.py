"""Issue 17, items 15-16: no silent ``except Exception: pass``; explicit ``torch.load(weights_only=)``.
Issue 14, item 5: the import graph (retrievers and verifiers never import each other; data/ below both)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from pilotfish.core.errors import ModelError, PilotfishWarning
from pilotfish.core.models import ModelSpec

ROOT = Path(__file__).resolve().parents[2]


def test_no_silent_broad_except_in_the_code() -> None:
    # a finaliser (``__del__``, run at interpreter shutdown) is the one place where swallowing is right
    silent = re.compile(r"except (Exception|BaseException)?\s*(as \w+)?:\s*\n\s*pass\b")
    found = []
    for folder in ("src", "benchmarks"):
        for p in (ROOT / folder).rglob("*.py"):
            text = p.read_text(encoding="utf-8")
            for m in silent.finditer(text):
                before = text[:m.start()].rsplit("\n    def ", 1)[-1]
                if not before.startswith("__del__("):
                    found.append(f"{p.relative_to(ROOT)}:{text[:m.start()].count(chr(10)) + 1}")
    assert not found, f"`except Exception: pass` hides errors at: {found}"


def test_every_torch_load_says_weights_only() -> None:
    calls = [(p, m.group(0)) for p in (ROOT / "src").rglob("*.py")
             for m in re.finditer(r"torch\.load\([^\n]*", p.read_text(encoding="utf-8"))]
    assert calls
    assert all("weights_only=" in call for _, call in calls), [str(p) for p, c in calls if "weights_only=" not in c]


def test_a_saved_classifier_head_loads_with_weights_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    import torch

    from pilotfish.data.classifier import TextClassifier

    torch.save(torch.nn.Linear(4, 2).state_dict(), tmp_path / "head.pt")
    (tmp_path / "pilotfish-classifier.json").write_text(json.dumps(
        {"kind": "pilotfish-text-classifier", "classes": ["a", "b"], "mode": "head", "embedder": "minilm", "hidden": 0}))
    seen: list[object] = []
    real = torch.load

    def load(*args: object, **kwargs: object) -> object:
        seen.append(kwargs.get("weights_only"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(torch, "load", load)
    clf = TextClassifier.load(tmp_path)
    assert clf.net.weight.shape == (2, 4) and seen == [True]


def test_a_broken_availability_check_is_not_reported_as_not_installed() -> None:
    def missing() -> bool:
        raise ImportError("no module named llama_cpp")

    def broken() -> bool:
        raise RuntimeError("bug in the check")

    assert ModelSpec("m", object, available=missing).is_available() is False
    with pytest.raises(ModelError, match="model 'm': its availability check failed: RuntimeError: bug in the check"):
        ModelSpec("m", object, available=broken).is_available()


def test_a_failed_cleanup_of_the_old_dense_collection_is_reported() -> None:
    pytest.importorskip("chromadb")
    from pilotfish.retrievers.dense import _after_publish

    previous = {"settings": {"dense": {"server": "http://127.0.0.1:9", "collection": "pilotfish-gen-000001"}}}
    manifest = {"settings": {"dense": {"server": "http://127.0.0.1:9", "collection": "pilotfish-gen-000002"}}}
    with pytest.warns(PilotfishWarning, match="could not delete the previous generation's collection"):
        _after_publish(previous, manifest)


# --- the import graph (issue 14, item 5) -------------------------------------------------------------

SRC = ROOT / "src" / "pilotfish"


def _imports(path: Path) -> list[tuple[str, list[str], bool]]:
    """(imported module, names taken from it, at module top level) for every import of ``path``;
    relative imports resolved to absolute names."""
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((target, [alias.name for alias in node.names], id(node) in top))
    return out


def _area(module: str) -> str:
    """``pilotfish.retrievers.colbert`` -> ``retrievers``; a top-level module is its own area."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _import_graph() -> list[tuple[str, str, list[str], bool]]:
    edges = []
    for path in sorted(SRC.rglob("*.py")):
        name = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        for target, names, top in _imports(path):
            if target == "pilotfish" or target.startswith("pilotfish."):
                edges.append((name, target, names, top))
    return edges


def test_the_import_graph_parser_sees_the_imports() -> None:
    edges = _import_graph()
    # a relative import, a lazy absolute one and a top-level absolute one, as the code writes them
    assert ("pilotfish.retrievers.bm25", "pilotfish.retrievers.base", ["RetrieverOptions", "RetrieverPlugin", "Searcher"],
            True) in edges
    assert any(src == "pilotfish.data.cloze" and dst == "pilotfish.retrievers.documents" and not top
               for src, dst, _, top in edges)
    assert any(src.startswith("pilotfish.verifiers.") and dst.startswith("pilotfish.data.") and top
               for src, dst, _, top in edges)


def test_retrievers_and_verifiers_never_import_each_other() -> None:
    """Both import what they share (training data, model paths) from data/, models/ or core/, lazily or not."""
    crossing = [f"{src} imports {dst}" for src, dst, _, _ in _import_graph()
                if {_area(src), _area(dst)} == {"retrievers", "verifiers"}]
    assert not crossing, crossing


def test_data_imports_retrievers_and_verifiers_only_inside_functions() -> None:
    """data/ sits below them: they import it at module level, so its own use of them must stay lazy."""
    top_level = [f"{src} imports {dst}" for src, dst, _, top in _import_graph()
                 if _area(src) == "data" and _area(dst) in ("retrievers", "verifiers") and top]
    assert not top_level, top_level


def test_no_module_takes_another_areas_private_names() -> None:
    private = [f"{src} imports {dst}.{name}" for src, dst, names, _ in _import_graph() for name in names
               if name.startswith("_") and not name.startswith("__") and _area(src) != _area(dst)]
    assert not private, private


def test_every_area_imports_alone_in_a_fresh_process() -> None:
    import subprocess
    import sys

    areas = sorted(p.parent.name for p in SRC.glob("*/__init__.py"))
    assert {"data", "retrievers", "verifiers"} <= set(areas)
    modules = [f"pilotfish.{a}" for a in areas] + ["pilotfish.data.claims", "pilotfish.data.cloze",
                                                   "pilotfish.retrievers.colbert_train", "pilotfish.verifiers.train"]
    for module in modules:
        run = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, f"import {module}: {run.stderr[-2000:]}"

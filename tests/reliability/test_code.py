"""Issue 17, items 15-16: no silent ``except Exception: pass``; explicit ``torch.load(weights_only=)``."""

from __future__ import annotations

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

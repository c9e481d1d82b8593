"""``plaid``: colbert-ai's PLAID engine with a colbert-ai checkpoint converted here from ``minilm-untrained``.

Real colbert-ai (installed by scripts/install.sh through the ``plaid`` extra). Its C++ extensions
compile once per cache (``$PILOTFISH_CACHE/torch_extensions``, about 100 s on a cold cache).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from pilotfish import PilotfishError
from pilotfish.core.errors import MissingDependencyError, ModelError


@pytest.fixture(scope="session")
def plaid_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pilotfish.retrievers.plaid import convert_checkpoint

    return convert_checkpoint("minilm-untrained", tmp_path_factory.mktemp("plaid-ckpt") / "minilm")


@pytest.fixture(scope="session")
def plaid_index(small_corpus: Path, plaid_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pilotfish.retrievers.index import build_index

    out = tmp_path_factory.mktemp("plaid") / "idx"
    build_index(small_corpus, out, ["bm25", "plaid"], {"plaid": {"checkpoint": str(plaid_checkpoint)}})
    return out


def test_converted_checkpoint_is_a_colbert_ai_checkpoint(plaid_checkpoint: Path) -> None:
    import json

    meta = json.loads((plaid_checkpoint / "artifact.metadata").read_text())
    assert meta["dim"] == 128 and meta["query_token_id"] == "[unused0]"
    assert (plaid_checkpoint / "config.json").is_file()


def test_plaid_finds_article_by_headline(rag_pilot, plaid_index: Path, headline_queries) -> None:  # type: ignore[no-untyped-def]
    pilot = rag_pilot(["plaid"], plaid_index)
    small = [(t, d) for t, d in headline_queries if d.endswith(("/001", "/002"))]
    assert len(small) == 10
    docs = pilot.retrieve(small[0][0], 5)
    assert docs and all(d.retriever == "plaid" for d in docs)
    assert docs[0].doc_id == small[0][1] and docs[0].id.startswith(docs[0].doc_id + "#")
    assert docs == sorted(docs, key=lambda d: -d.score)
    hits = sum(pilot.retrieve(title, 3)[0].doc_id == doc_id for title, doc_id in small)
    assert hits >= 8, hits


def test_plaid_rebuilds_only_when_passages_change(small_corpus: Path, plaid_checkpoint: Path, tmp_path: Path,
                                                  rag_pilot) -> None:  # type: ignore[no-untyped-def]
    from pilotfish.retrievers.index import build_index

    corpus = tmp_path / "corpus"
    shutil.copytree(small_corpus, corpus)
    out = tmp_path / "idx"
    opts = {"plaid": {"checkpoint": str(plaid_checkpoint)}}
    first = build_index(corpus, out, ["plaid"], opts)
    assert first.manifest["settings"]["plaid"]["reused"] is False
    again = build_index(corpus, out, ["plaid"], opts)  # nothing changed: the PLAID part is copied
    assert again.manifest["settings"]["plaid"]["reused"] is True and again.unchanged == 10
    (corpus / "tech" / "003.txt").write_text("Penguins of Antarctica\n\nEmperor penguins huddle through the polar winter "
                                             "on the sea ice of Antarctica, far from any city.\n")
    third = build_index(corpus, out, ["plaid"], opts)  # a new file: PLAID is rebuilt from scratch
    assert third.added == ["tech/003"] and third.manifest["settings"]["plaid"]["reused"] is False
    assert not (out / first.manifest["generation"]).exists()
    docs = rag_pilot(["plaid"], out).retrieve("Emperor penguins in Antarctica", 3)
    assert docs[0].doc_id == "tech/003"


def test_checkpoint_naming_hub_base_loads_offline(plaid_checkpoint: Path, plaid_index: Path, tmp_path: Path,
                                                  rag_pilot, headline_queries) -> None:  # type: ignore[no-untyped-def]
    """A checkpoint whose artifact.metadata names the hub base (model_name 'bert-base-uncased', as
    colbert-ai writes for checkpoints trained from it) loads without the hub."""
    import json

    ckpt = tmp_path / "hub-named"
    shutil.copytree(plaid_checkpoint, ckpt)
    meta = json.loads((ckpt / "artifact.metadata").read_text())
    meta["model_name"] = "bert-base-uncased"
    (ckpt / "artifact.metadata").write_text(json.dumps(meta))
    title, doc_id = headline_queries[0]
    docs = rag_pilot(["plaid"], plaid_index, {"plaid": {"checkpoint": str(ckpt)}}).retrieve(title, 3)
    assert docs[0].doc_id == doc_id


def test_checkpoint_errors(small_corpus: Path, plaid_checkpoint: Path, plaid_index: Path, tmp_path: Path,
                           rag_pilot) -> None:  # type: ignore[no-untyped-def]
    from safetensors.torch import load_file, save_file

    from pilotfish.retrievers.index import build_index

    not_ckpt = tmp_path / "not-a-checkpoint"
    shutil.copytree(plaid_checkpoint, not_ckpt)
    (not_ckpt / "artifact.metadata").unlink()
    with pytest.raises(ModelError, match="no artifact.metadata: not a colbert-ai checkpoint"):
        build_index(small_corpus, tmp_path / "idx", ["plaid"], {"plaid": {"checkpoint": str(not_ckpt)}})
    with pytest.raises(ModelError, match="needs a colbert-ai checkpoint"):
        build_index(small_corpus, tmp_path / "idx2", ["plaid"])
    with pytest.raises(PilotfishError, match="no artifact.metadata"):
        rag_pilot(["plaid"], plaid_index, {"plaid": {"checkpoint": str(not_ckpt)}}).retrieve("anything", 3)

    other = tmp_path / "other-checkpoint"  # same architecture, other weights
    shutil.copytree(plaid_checkpoint, other)
    state = load_file(str(other / "model.safetensors"))
    state["linear.weight"] = -state["linear.weight"]
    save_file(state, str(other / "model.safetensors"))
    with pytest.raises(PilotfishError, match="was built with the checkpoint .* use the same checkpoint or rebuild"):
        rag_pilot(["plaid"], plaid_index, {"plaid": {"checkpoint": str(other)}}).retrieve("anything", 3)


def test_missing_colbert_ai_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from pilotfish.retrievers import plaid

    monkeypatch.setitem(sys.modules, "colbert", None)
    with pytest.raises(MissingDependencyError, match=r"'colbert-ai' is not installed .*pilotfish\[plaid\]"):
        plaid.colbert_ai()

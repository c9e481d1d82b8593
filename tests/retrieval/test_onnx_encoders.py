"""MiniLM on ONNX Runtime (``minilm-onnx``, ``minilm-int8``): the same vectors and rankings as torch MiniLM,
the dense index built and queried with them (without importing torch), and what happens when the export
is damaged or cannot be made."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from pilotfish.core.errors import MissingDependencyError, ModelError, PilotfishWarning

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="session")
def onnx_folder() -> Path:
    """The export in the caller's cache (made once, about 10 s, when it is not there yet)."""
    from pilotfish.core.models import get_model
    from pilotfish.models.onnx import export_dir

    get_model("minilm-int8")
    return export_dir()


def _articles(corpus: Path) -> tuple[list[str], list[str]]:
    """(headline, body) of each article of the corpus fixture."""
    heads, bodies = [], []
    for path in sorted(corpus.rglob("*.txt")):
        lines = [x for x in path.read_text().splitlines() if x.strip()]
        heads.append(lines[0])
        bodies.append(" ".join(lines[1:4]))
    return heads, bodies


def test_onnx_encoders_give_torch_minilm_vectors_and_rankings(minilm, onnx_folder: Path, corpus: Path) -> None:
    from pilotfish.core.models import get_model

    heads, bodies = _articles(corpus)
    texts = heads + bodies + ["ok", " ".join(bodies)]  # a one-word text and one far past 256 tokens
    ref = minilm.embed(texts)
    fp32 = get_model("minilm-onnx").embed(texts)
    int8 = get_model("minilm-int8").embed(texts)
    assert fp32.shape == int8.shape == ref.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-4)
    assert (fp32 * ref).sum(1).min() > 0.9999
    assert (int8 * ref).sum(1).min() > 0.95
    # each headline ranks the 30 article bodies the same way at the top
    n = len(heads)
    top = {name: np.argsort(-(v[:n] @ v[n:2 * n].T), axis=1)[:, :3] for name, v in
           {"torch": ref, "fp32": fp32, "int8": int8}.items()}
    assert (top["fp32"] == top["torch"]).all()
    assert (top["int8"][:, 0] == top["torch"][:, 0]).mean() >= 0.95
    # order and batching do not change the vectors (texts are sorted by length inside)
    again = get_model("minilm-onnx").embed(texts[::-1], batch_size=4)[::-1]
    assert np.abs(again - fp32).max() < 1e-4


@pytest.fixture(scope="session")
def int8_index(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory, onnx_folder: Path) -> Path:
    from pilotfish.retrievers.index import build_index

    out = tmp_path_factory.mktemp("int8") / "idx"
    build_index(small_corpus, out, ["bm25", "dense"])
    return out


def _query_in_a_fresh_process(index: Path, query: str) -> dict:
    """What `pilotfish ask` does before generating: a Pilot on the index, one retrieval."""
    code = (
        "import json, sys\n"
        "from pilotfish import Pilot, PilotConfig\n"
        "from pilotfish.core.models import loaded_models\n"
        f"pilot = Pilot(model='fake', plugins=['dense'], config=PilotConfig(index={str(index)!r}))\n"
        f"docs = pilot.retrieve({query!r}, 3)\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'models': sorted(m for m in loaded_models() if m != 'fake'),\n"
        "                  'top': [d.doc_id for d in docs]}))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_new_index_is_built_with_int8_and_queried_without_torch(int8_index: Path, headline_queries) -> None:  # type: ignore[no-untyped-def]
    manifest = json.loads((int8_index / "index.json").read_text())
    assert manifest["settings"]["dense"]["model"] == "minilm-int8"
    title, doc_id = next((t, d) for t, d in headline_queries if d.endswith("/001"))
    got = _query_in_a_fresh_process(int8_index, title)
    assert got["torch"] is False and got["models"] == ["minilm-int8"]
    assert got["top"][0] == doc_id


def test_a_minilm_index_is_queried_by_its_onnx_twin_without_torch(index_dir: Path, headline_queries) -> None:  # type: ignore[no-untyped-def]
    assert json.loads((index_dir / "index.json").read_text())["settings"]["dense"]["model"] == "minilm"
    title, doc_id = headline_queries[7]
    got = _query_in_a_fresh_process(index_dir, title)
    assert got["torch"] is False and got["models"] == ["minilm-onnx"]
    assert got["top"][0] == doc_id


def test_an_update_keeps_the_encoder_of_the_index(tmp_path: Path, small_corpus: Path) -> None:
    """An index built with minilm stays minilm when updated without a configured model (its vectors are reused)."""
    from pilotfish.retrievers.index import build_index

    work = tmp_path / "corpus"
    shutil.copytree(small_corpus, work)
    out = tmp_path / "idx"
    build_index(work, out, ["dense"], {"dense": {"model": "minilm"}})
    (work / "tech" / "001.txt").write_text("Robots win the cup\n\nA team of robots won the football cup on Sunday.\n")
    build_index(work, out, ["dense"])
    assert json.loads((out / "index.json").read_text())["settings"]["dense"]["model"] == "minilm"


def test_a_damaged_export_is_exported_again(onnx_folder: Path, isolated_cache: Path) -> None:
    from pilotfish.models.onnx import export_dir, load_minilm_onnx
    from pilotfish.models.onnx_export import META, export_complete

    shutil.copytree(onnx_folder, export_dir())
    assert export_complete()
    bad = export_dir() / "model-int8.onnx"
    bad.write_bytes(b"\0" * bad.stat().st_size)  # same size, other bytes
    assert not export_complete()
    with pytest.warns(PilotfishWarning, match="damaged"):
        enc = load_minilm_onnx("minilm-int8")
    assert export_complete()
    meta = json.loads((export_dir() / META).read_text())
    assert meta["check_min_cosine_to_sentence_transformers"]["model-int8.onnx"] > 0.95
    assert enc.embed(["Which company did Lakshmi Mittal run?"]).shape == (1, 384)


def test_a_corrupt_onnx_file_is_a_clear_error(tmp_path: Path) -> None:
    from pilotfish.models.onnx import OnnxEmbedder
    from pilotfish.models.packaged import minilm_path

    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not an onnx graph")
    with pytest.raises(ModelError, match="ONNX Runtime could not load"):
        OnnxEmbedder(bad, minilm_path() / "tokenizer.json", "minilm-onnx")


def test_without_the_onnx_package_the_torch_encoder_is_used(isolated_cache: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """No export in the cache and no `onnx` package to make one: exporting is a clear error, a new index is
    built with torch MiniLM, and a minilm index is queried with it, without a warning."""
    from pilotfish.core.models import get_model
    from pilotfish.models.onnx import load_minilm_onnx
    from pilotfish.retrievers.dense import build_model, query_embedder

    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` raises ImportError
    with pytest.raises(MissingDependencyError, match="'onnx'.*pilotfish\\[rag\\]"):
        load_minilm_onnx("minilm-onnx")
    assert build_model({}) == "minilm" and build_model({"model": "minilm-int8"}) == "minilm-int8"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert query_embedder("minilm") is get_model("minilm")

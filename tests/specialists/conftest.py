"""Fixtures of the specialist tests: a small topic specialist trained once per session (real MiniLM)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / ".." / "shared" / "data"


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
def small_topic(tmp_path_factory: pytest.TempPathFactory, dev_doc_ids: set[str]):
    """A topic specialist trained here on 16 articles per topic (validated on 6 per topic)."""
    from pilotfish.specialists.topic import TopicSpecialist, train_topic

    out = tmp_path_factory.mktemp("topic-specialist")
    train_topic(out, exclude_docs=dev_doc_ids, per_class=16, val_per_class=6)
    return TopicSpecialist(out)

"""Fixtures of the specialist tests: a small topic specialist trained once per session (real MiniLM)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def small_topic(tmp_path_factory: pytest.TempPathFactory, dev_doc_ids: set[str]):
    """A topic specialist trained here on 16 articles per topic (validated on 6 per topic)."""
    from pilotfish.specialists.topic import TopicSpecialist, train_topic

    out = tmp_path_factory.mktemp("topic-specialist")
    train_topic(out, exclude_docs=dev_doc_ids, per_class=16, val_per_class=6)
    return TopicSpecialist(out)

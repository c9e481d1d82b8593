"""``reader-reranker``: the span reader reorders the fused candidates by how strongly it finds an answer in each.

The reader (:mod:`pilotfish.readers.model`, distilled from the large model's questions) reads the search
query with every candidate in one batched MiniLM pass and gives each passage the log-probability margin of its
best answer span over its no-answer (``Span.margin``). A retriever asks "is this passage about the question?";
the reader asks "does this passage *answer* it?", which is what separates the passages of one article (most
of the dev set's R@1 misses rank a neighbour of the right passage first). By default the margin is fused with
the untrained MiniLM MaxSim score of ``maxsim-reranker`` (each standardised over the candidates, then
summed), since the two disagree where each is weak.

Measured on bm25+dense top 20 (``python benchmarks/retrieval.py --only "hybrid RRF (bm25+dense),maxsim top,reader"
--rerank 20``; docs/retrieval.md, tenth pass): dev R@1 0.68 -> 0.76 and MRR@10 0.771 -> 0.819 over MaxSim
alone, and on the teacher's questions of the articles the reader never trained on 0.743 -> 0.771 and 0.833 ->
0.848. It costs one reader pass over the candidates (~0.5 s for 20 at one thread).

Config::

    [pilotfish]
    plugins = ["bm25", "dense", "reader-reranker"]

    [pilotfish.plugin.reader-reranker]
    candidates = 20
    fuse = "minilm-untrained"   # the MaxSim model fused with the reader's margin; "" for the reader alone
    combine = "replace"         # or "zscore": also add the first stage's standardised score
    reader = "reader"           # or "reader:<folder>"
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from pilotfish.core.errors import ConfigError, InputError
from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.pilot import standardize
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.types import Document, Request

NO_PASSAGE = -30.0
"""The margin of a candidate the reader cannot read (an empty passage): below any real span's."""


def _shown(d: Document) -> str:
    """The passage as the reader was trained to read it (and as the prompt shows it): ``title: text``."""
    return f"{d.title}: {d.text}" if d.title and not d.text.startswith(d.title) else d.text


class ReaderReranker(Plugin):
    """``rerank`` hook: candidates ordered by the reader's answer margin (fused with MaxSim by default)."""

    name: ClassVar[str] = "reader-reranker"

    class Options(PluginOptions):
        candidates: int = Field(20, ge=1)
        """How many fused candidates the reader reads."""
        fuse: str = "minilm-untrained"
        """A ColBERT model (as ``maxsim-reranker``'s ``model``) whose MaxSim score is standardised and added to the
        reader's standardised margin; ``""``: the reader's margin alone."""
        combine: Literal["replace", "zscore"] = "replace"
        """``zscore``: also add the first stage's standardised score."""
        reader: str = "reader"
        """The span reader's model id (``reader``, or ``reader:<folder>``)."""

    def scores(self, query: str, documents: list[Document], pilot: Any) -> tuple[list[float], list[dict[str, Any]]]:
        """The final score of each document, and what the reader found in it."""
        model = pilot.get_model(self.options.reader)
        reader = getattr(model, "reader", None)
        if reader is None or not hasattr(reader, "spans"):
            raise ConfigError(f"reader-reranker: reader = {self.options.reader!r} is not a span reader "
                              "(give 'reader' or 'reader:<folder>')")
        spans = reader.spans(query, [_shown(d) for d in documents])
        margins = [s.margin if s is not None else NO_PASSAGE for s in spans]
        parts = [standardize(margins)]
        if self.options.fuse:
            from pilotfish.retrievers.rerankers import MaxSimReranker

            maxsim = MaxSimReranker(candidates=len(documents), model=self.options.fuse)
            parts.append(standardize(maxsim.scores(query, documents, pilot)))
        if self.options.combine == "zscore":
            parts.append(standardize([d.score for d in documents]))
        found = [{"margin": round(m, 3), "span": s.text if s is not None else None}
                 for m, s in zip(margins, spans, strict=True)]
        return [sum(xs) for xs in zip(*parts, strict=True)], found

    @hookimpl
    def rerank(self, request: Request, documents: list[Document], k: int, pilot: Any) -> list[Document] | None:
        if not documents:
            return None
        query = request.search_query
        if not query.strip():
            raise InputError("the search query is empty")
        head, tail = documents[: self.options.candidates], documents[self.options.candidates:]
        scores, found = self.scores(query, head, pilot)
        order = sorted(range(len(head)), key=lambda i: -scores[i])
        out = [Document(head[i].id, head[i].text, head[i].doc_id, head[i].title, scores[i], head[i].retriever,
                        {**head[i].metadata, "fused_score": head[i].score, "reranker": self.name,
                         "reader": found[i]}) for i in order]
        return (out + tail)[:k]

"""Rerankers (the ``rerank`` hook): order the fused candidates and keep the best ``k``.

- ``maxsim-reranker``: late interaction; encodes the query and each candidate with a ColBERT
  model and scores exact MaxSim (full-precision vectors, no index needed).
- ``cross-encoder-reranker``: any Hugging Face sequence-classification cross-encoder (a hub id
  such as ``cross-encoder/ms-marco-MiniLM-L-6-v2`` where the hub is reachable, or a local path);
  one logit per (query, passage) pair, or the last class's logit for multi-class heads.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from pilotfish.core.errors import InputError, MissingDependencyError, ModelError
from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.types import Document, Request


def _reorder(documents: list[Document], scores: list[float], k: int, name: str) -> list[Document]:
    order = sorted(range(len(documents)), key=lambda i: -scores[i])[:k]
    out = []
    for i in order:
        d = documents[i]
        out.append(Document(d.id, d.text, d.doc_id, d.title, float(scores[i]), d.retriever,
                            {**d.metadata, "fused_score": d.score, "reranker": name}))
    return out


def _text(d: Document) -> str:
    return f"{d.title}. {d.text}" if d.title and not d.text.startswith(d.title) else d.text


class _ScoringReranker(Plugin):
    """Rescores the first ``candidates`` fused documents with ``scores`` and keeps the best ``k``."""

    def scores(self, query: str, documents: list[Document]) -> list[float]:
        raise NotImplementedError

    @hookimpl
    def rerank(self, request: Request, documents: list[Document], k: int) -> list[Document] | None:
        if not documents:
            return None
        query = request.search_query
        if not query.strip():
            raise InputError("the search query is empty")
        n = self.options.candidates  # type: ignore[attr-defined]
        head, tail = documents[:n], documents[n:]
        return (_reorder(head, self.scores(query, head), len(head), self.name) + tail)[:k]


class MaxSimReranker(_ScoringReranker):
    """Rerank with late interaction (``[pilotfish.plugin.maxsim-reranker]``)."""

    name: ClassVar[str] = "maxsim-reranker"

    class Options(PluginOptions):
        model: str | None = None
        """ColBERT model: ``default`` (trained by ``pilotfish train colbert``), ``minilm-untrained`` or a dir."""
        candidates: int = 30
        """How many fused candidates to rescore."""

    def scores(self, query: str, documents: list[Document]) -> list[float]:
        import numpy as np

        from .colbert import get_encoder

        enc = get_encoder(self.options.model)  # type: ignore[attr-defined]
        q = enc.encode_queries([query])[0].astype(np.float32)
        docs = enc.encode_docs([_text(d) for d in documents])
        return [float((q @ d.astype(np.float32).T).max(1).sum()) if len(d) else 0.0 for d in docs]


_ce_cache: dict[str, Any] = {}
_ce_lock = threading.Lock()


def load_cross_encoder(model: str) -> tuple[Any, Any]:
    with _ce_lock:
        if model not in _ce_cache:
            try:
                from transformers import AutoModelForSequenceClassification, AutoTokenizer
            except ImportError as exc:
                raise MissingDependencyError("transformers", "models", "the cross-encoder reranker") from exc
            try:
                tok = AutoTokenizer.from_pretrained(model)
                net = AutoModelForSequenceClassification.from_pretrained(model).eval()
            except (OSError, ValueError) as exc:
                raise ModelError(f"cross-encoder {model!r} could not be loaded: {str(exc).splitlines()[0]}") from None
            _ce_cache[model] = (tok, net)
        return _ce_cache[model]


class CrossEncoderReranker(_ScoringReranker):
    """Rerank with a cross-encoder (``[pilotfish.plugin.cross-encoder-reranker]``)."""

    name: ClassVar[str] = "cross-encoder-reranker"

    class Options(PluginOptions):
        model: str = "cross-encoder/ms-marco-MiniLM-L-6-v2"
        """Hub id or local directory of a sequence-classification model."""
        candidates: int = 30
        batch_size: int = 16
        max_length: int = 256

    def scores(self, query: str, documents: list[Document]) -> list[float]:
        import torch

        o = self.options
        tok, net = load_cross_encoder(o.model)  # type: ignore[attr-defined]
        out: list[float] = []
        texts = [_text(d) for d in documents]
        for s in range(0, len(texts), o.batch_size):  # type: ignore[attr-defined]
            batch = texts[s:s + o.batch_size]  # type: ignore[attr-defined]
            enc = tok([query] * len(batch), batch, truncation=True, max_length=o.max_length,  # type: ignore[attr-defined]
                      padding=True, return_tensors="pt")
            with torch.inference_mode():
                logits = net(**enc).logits
            out.extend(logits[:, -1].float().tolist())
        return out

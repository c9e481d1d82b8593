"""Rerankers (the ``rerank`` hook): order the fused candidates and keep the best ``k``.

- ``maxsim-reranker``: late interaction; encodes the query with a ColBERT model and scores MaxSim
  against each candidate's token vectors. Candidates that come from an index with a colbert part
  built by the same model are scored from their stored (residual-compressed) vectors, so only the
  query is encoded; other candidates are encoded from their text.
- ``cross-encoder-reranker``: any Hugging Face sequence-classification cross-encoder (a hub id
  such as ``cross-encoder/ms-marco-MiniLM-L-6-v2`` where the hub is reachable, a local path, or
  ``pilotfish``: the one ``pilotfish train reranker`` trains offline); one logit per (query,
  passage) pair, or the last class's logit for multi-class heads.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from pilotfish.core.errors import InputError, MissingDependencyError, ModelError
from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.pilot import standardize
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


class RerankOptions(PluginOptions):
    candidates: int = 30
    """How many fused candidates to rescore."""
    combine: Literal["replace", "zscore"] = "replace"
    """``replace``: order by the reranker's score alone; ``zscore``: by the sum of the reranker's and
    the first stage's scores, each standardised over the candidates (a convex fusion that keeps
    what the first stage knew; on the BBC dev set dense + MaxSim ``zscore`` beats either alone)."""
    doc_weight: float = Field(0.0, ge=0)
    """Add this multiple of the best score of the passage's document among the candidates (after
    ``combine``): passages of the most relevant article move up together (0: off)."""


def combine_scores(documents: Sequence[Document], scores: Sequence[float], combine: str = "replace",
                   doc_weight: float = 0.0) -> list[float]:
    """The final rerank scores: ``scores`` alone or z-fused with the documents' first-stage scores,
    plus ``doc_weight`` times the best score of each passage's document."""
    out = list(scores)
    if combine == "zscore":
        out = [a + b for a, b in zip(standardize(out), standardize([d.score for d in documents]), strict=True)]
    if doc_weight:
        best: dict[str, float] = {}
        for d, s in zip(documents, out, strict=True):
            key = d.doc_id or d.id
            best[key] = max(best.get(key, s), s)
        out = [s + doc_weight * best[d.doc_id or d.id] for d, s in zip(documents, out, strict=True)]
    return out


class _ScoringReranker(Plugin):
    """Rescores the first ``candidates`` fused documents with ``scores`` and keeps the best ``k``."""

    Options: ClassVar[type[PluginOptions]] = RerankOptions

    def scores(self, query: str, documents: list[Document], pilot: Any = None) -> list[float]:
        raise NotImplementedError

    @hookimpl
    def rerank(self, request: Request, documents: list[Document], k: int, pilot: Any) -> list[Document] | None:
        if not documents:
            return None
        query = request.search_query
        if not query.strip():
            raise InputError("the search query is empty")
        n = self.options.candidates  # type: ignore[attr-defined]
        head, tail = documents[:n], documents[n:]
        scores = combine_scores(head, self.scores(query, head, pilot), self.options.combine,  # type: ignore[attr-defined]
                                self.options.doc_weight)  # type: ignore[attr-defined]
        return (_reorder(head, scores, len(head), self.name) + tail)[:k]


class MaxSimReranker(_ScoringReranker):
    """Rerank with late interaction (``[pilotfish.plugin.maxsim-reranker]``)."""

    name: ClassVar[str] = "maxsim-reranker"

    class Options(RerankOptions):
        model: str | None = None
        """ColBERT model: ``default`` (trained by ``pilotfish train colbert``), ``minilm-untrained`` or a dir
        (unset: the model the index's colbert part was built with, else ``default``)."""
        index: str | None = None
        """Index whose colbert part holds the candidates' token vectors (default: the colbert
        retriever's index, else the pilot's ``index``); candidates not found there are encoded."""

    def scores(self, query: str, documents: list[Document], pilot: Any = None) -> list[float]:
        import numpy as np

        from .colbert_model import get_encoder

        enc = get_encoder(self.options.model or self._index_model(pilot))  # type: ignore[attr-defined]
        q = enc.encode_query(query)
        vecs = self.stored_vectors(pilot, enc, documents)
        todo = [i for i, v in enumerate(vecs) if v is None]
        if todo:
            for i, v in zip(todo, enc.encode_docs([_text(documents[i]) for i in todo]), strict=True):
                vecs[i] = v.astype(np.float32)
        return [float((q @ v.T).max(1).sum()) if v is not None and len(v) else 0.0 for v in vecs]

    def stored_vectors(self, pilot: Any, enc: Any, documents: list[Document]) -> list[Any]:
        """Each document's token vectors from a colbert index built with ``enc`` (None where absent)."""
        out: list[Any] = [None] * len(documents)
        if pilot is None:
            return out
        for store, positions, index in self._stores(pilot, enc):
            found: list[tuple[int, int]] = []
            for i, d in enumerate(documents):
                pos = positions.get(d.id) if out[i] is None else None
                if pos is not None and index.passages[pos].text == d.text:
                    found.append((i, pos))
            for (i, _), vecs in zip(found, store.vectors_many([p for _, p in found]), strict=True):
                out[i] = vecs
        return out

    def _indexes(self, pilot: Any) -> list[Any]:
        """The indexes that may hold the candidates: the ``index`` option, the colbert retriever's, the pilot's."""
        from .index_read import IndexError_, live_index

        if pilot is None:
            return []
        wanted = [getattr(self.options, "index", None)]
        pm = getattr(pilot, "pm", None)
        colbert = pm.get_plugin("colbert") if pm is not None else None
        wanted.append(getattr(getattr(colbert, "options", None), "index", None))
        wanted.append(getattr(getattr(pilot, "config", None), "index", None))
        out, seen = [], set()
        for value in wanted:
            if not value:
                continue
            path = (pilot.resolve_path(value) if hasattr(pilot, "resolve_path") else Path(value)).resolve()
            if path in seen:
                continue
            seen.add(path)
            try:
                out.append(live_index(pilot, path))
            except IndexError_:
                continue
        return out

    def _index_model(self, pilot: Any) -> str | None:
        for index in self._indexes(pilot):
            recorded = index.manifest.get("settings", {}).get("colbert", {}).get("model")
            if recorded:
                return str(recorded).rsplit("@", 1)[0]
        return None

    def _stores(self, pilot: Any, enc: Any) -> list[tuple[Any, dict[str, int], Any]]:
        from .colbert_model import model_fingerprint
        from .colbert_store import token_store
        from .index_read import IndexError_

        found = []
        fingerprint = model_fingerprint(enc)
        for index in self._indexes(pilot):
            if index.manifest.get("settings", {}).get("colbert", {}).get("model") != fingerprint:
                continue  # no colbert part, or one built by another model: encode instead
            try:
                store = token_store(index)
            except IndexError_:
                continue
            positions = pilot.shared(f"passage-positions:{index.gen_dir}",
                                     lambda ix=index: {p.id: n for n, p in enumerate(ix.passages)})
            found.append((store, positions, index))
        return found


_ce_cache: dict[str, Any] = {}
_ce_lock = threading.Lock()


def resolve_cross_encoder(model: str) -> str:
    """``pilotfish``: the checkpoint ``pilotfish train reranker`` wrote into the cache; else ``model`` as given."""
    if model != "pilotfish":
        return model
    from .reranker_train import default_reranker_path

    path = default_reranker_path()
    if not (path / "config.json").is_file():
        raise ModelError(f"no trained reranker in {path}: run `pilotfish train reranker --corpus DIR` "
                         "(or set model to a hub id or a checkpoint directory)")
    return str(path)


def load_cross_encoder(model: str) -> tuple[Any, Any]:
    model = resolve_cross_encoder(model)
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

    class Options(RerankOptions):
        model: str = "cross-encoder/ms-marco-MiniLM-L-6-v2"
        """Hub id or local directory of a sequence-classification model, or ``pilotfish``: the one
        ``pilotfish train reranker`` wrote into the model cache (works offline)."""
        batch_size: int = 16
        max_length: int = 256

    def scores(self, query: str, documents: list[Document], pilot: Any = None) -> list[float]:
        import torch

        from pilotfish.models.hardware import cpu_has_bf16

        o = self.options
        tok, net = load_cross_encoder(o.model)  # type: ignore[attr-defined]
        # bf16 autocast where the CPU has it natively (PILOTFISH_NO_BF16=1: off): 5 BBC candidates
        # 143 -> 100 ms p50 with the dense query, scores within 0.04 of fp32 (docs/retrieval.md)
        bf16 = cpu_has_bf16()
        out: list[float] = []
        texts = [_text(d) for d in documents]
        for s in range(0, len(texts), o.batch_size):  # type: ignore[attr-defined]
            batch = texts[s:s + o.batch_size]  # type: ignore[attr-defined]
            enc = tok([query] * len(batch), batch, truncation=True, max_length=o.max_length,  # type: ignore[attr-defined]
                      padding=True, return_tensors="pt")
            with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                logits = net(**enc).logits
            out.extend(logits[:, -1].float().tolist())
        return out

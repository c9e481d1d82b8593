"""``examples``: few-shot example selection (a ``before_prompt`` plugin).

Picks the ``k`` solved examples of a JSONL pool most similar to the request (MiniLM embeddings, cosine)
and puts them in ``request.examples``; the prompt shows each as a user turn (its input) and an assistant
turn (its output) before the question, the most similar last (nearest the question). With
``diversity = "mmr"`` (maximal marginal relevance, Carbonell & Goldstein 1998) each next example
maximises ``lambda * sim(query, e) - (1 - lambda) * max sim(e, already chosen)``, so near-copies of one
example do not fill every slot.

Config::

    [pilotfish.plugin.examples]
    pool = "solved.jsonl"        # one {"input": ..., "output": ...} per line
    k = 4
    diversity = "mmr"            # or "none"
    mmr_lambda = 0.7
    key_field = "text"           # optional: embed this field instead of the input (e.g. the raw article)

The request's text matched against the pool is ``request.metadata["input"]`` when set (the item to
solve, without the instruction around it), else the question. The choice and similarities are in
``request.metadata["examples"]``. A pool line without a needed field is an error naming the file, the
line and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from pilotfish.core.errors import InputError
from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.types import Request


def read_pool(path: Path, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """The pool's records; each must be a JSON object holding every field of ``fields`` as a string."""
    from pilotfish.data.records import iter_jsonl

    out = []
    for where, rec in iter_jsonl(path, "example pool"):
        for f in fields:
            if f not in rec:
                raise InputError(f"example pool {where}: missing field {f!r} (fields: {', '.join(rec) or 'none'})")
            if not isinstance(rec[f], str) or not rec[f].strip():
                raise InputError(f"example pool {where}: field {f!r} must be a non-empty string, got {rec[f]!r:.60}")
        out.append(rec)
    if not out:
        raise InputError(f"example pool {path} is empty (no examples)")
    return out


def select(query: np.ndarray, pool: np.ndarray, k: int, diversity: str = "none", mmr_lambda: float = 0.7,
           skip: set[int] | None = None) -> list[tuple[int, float]]:
    """Indices of the chosen examples (most similar first) with their similarity to the query.

    Vectors are unit-norm (cosine = dot product). ``skip`` indices are never chosen."""
    sims = pool @ query
    order = [int(i) for i in np.argsort(-sims) if int(i) not in (skip or set())]
    if diversity == "none" or k <= 1:
        return [(i, float(sims[i])) for i in order[:k]]
    candidates = order[: max(10 * k, 50)]
    chosen: list[int] = []
    closest = np.full(len(candidates), -np.inf)
    cand = pool[candidates]
    while len(chosen) < min(k, len(candidates)):
        score = mmr_lambda * sims[candidates] - (1 - mmr_lambda) * np.where(np.isfinite(closest), closest, 0.0)
        for j, c in enumerate(candidates):
            if c in chosen:
                score[j] = -np.inf
        best = int(np.argmax(score))
        chosen.append(candidates[best])
        closest = np.maximum(closest, cand @ cand[best])
    return [(i, float(sims[i])) for i in chosen]


class Examples(Plugin):
    """``before_prompt``: put the most similar solved examples of a pool into ``request.examples``."""

    name = "examples"

    class Options(PluginOptions):
        pool: str
        """JSONL file of solved examples (relative paths: to the config file)."""
        k: int = Field(4, ge=1, le=64)
        diversity: Literal["none", "mmr"] = "none"
        mmr_lambda: float = Field(0.7, ge=0.0, le=1.0)
        """MMR: weight of the similarity to the request against the redundancy with chosen examples."""
        input_field: str = "input"
        output_field: str = "output"
        key_field: str | None = None
        """Field embedded for the similarity (default: ``input_field``)."""
        embedder: str = "minilm"
        exclude_same: bool = True
        """Never pick an example whose key text equals the request's (no answer leaks into its own prompt)."""

    def _pool(self, pilot: Any) -> tuple[list[dict[str, Any]], np.ndarray]:
        o = self.options
        path = pilot.resolve_path(o.pool) if pilot is not None else Path(o.pool).expanduser()
        key = o.key_field or o.input_field
        fields = tuple(dict.fromkeys((o.input_field, o.output_field, key)))

        def build() -> tuple[list[dict[str, Any]], np.ndarray]:
            from pilotfish.data.classifier import cached_embeddings

            records = read_pool(path, fields)
            vectors = np.asarray(cached_embeddings([r[key] for r in records], o.embedder), dtype=np.float32)
            return records, vectors

        stamp = path.stat().st_mtime_ns if path.is_file() else 0
        cache_key = f"examples:{path}:{stamp}:{fields}:{o.embedder}"
        return pilot.shared(cache_key, build) if pilot is not None else build()

    def choose(self, text: str, pilot: Any = None) -> list[dict[str, Any]]:
        """The chosen examples for ``text`` (most similar first): ``{"input", "output", "input_text" (the text
        matched), "score" (cosine similarity), "index" (position in the pool)}``."""
        from pilotfish.core.models import get_model

        o = self.options
        records, vectors = self._pool(pilot)
        key = o.key_field or o.input_field
        query = np.asarray(get_model(o.embedder).embed([text]), dtype=np.float32)[0]
        skip = {i for i, r in enumerate(records) if r[key].strip() == text.strip()} if o.exclude_same else set()
        picked = select(query, vectors, o.k, o.diversity, o.mmr_lambda, skip)
        return [{"input": records[i][o.input_field], "output": records[i][o.output_field], "input_text": records[i][key],
                 "score": round(s, 4), "index": i} for i, s in picked]

    @hookimpl
    def before_prompt(self, request: Request, pilot: Any) -> Request:
        text = request.metadata.get("input") or request.question
        chosen = self.choose(str(text), pilot)
        shown = tuple(reversed(chosen))  # the most similar nearest the question
        return request.replace(examples=(*request.examples, *shown),
                               metadata={**request.metadata, "examples": [{"index": c["index"], "score": c["score"]}
                                                                          for c in chosen]})

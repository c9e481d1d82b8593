"""Curation: score records (columns), then keep the ones a configurable rule selects.

Scorers (each also a plugin implementing ``score_examples``, see :mod:`pilotfish.data.plugins`):

- :func:`perplexity_scores`: perplexity of the text under a small LM (Ankner et al. 2024 prune
  with a 125M model's perplexity; keep a band, not just the low end).
- :func:`ifd_scores`: instruction-following difficulty (Superfiltering, Li et al. 2024):
  ``ppl(response | instruction) / ppl(response)`` under a small LM. High = the instruction helps
  little = a hard, informative example; > 1 = the response does not follow the instruction.
- :func:`coverage_columns`: k-means clusters of sentence embeddings: ``cluster`` and
  ``centrality`` (cosine to its centroid), so a rule can keep examples spread over clusters.
- :class:`QualityScorer` (plugin ``quality-classifier``): a MiniLM classifier trained from
  quality labels (human or LLM, as the FineWeb-Edu classifier) scores ``quality`` = P(good).
- ``dedup`` (plugin): ``duplicate`` = 1 for a near-duplicate of an earlier record.

Selection (:func:`select`): conditions like ``perplexity<=q0.9`` (``qX`` = that quantile of the
column), ``quality>=0.5``, ``duplicate==0``; then optionally the ``top`` n (or fraction) by a
column, optionally spread evenly over the values of a ``per`` column (e.g. ``cluster``).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from pilotfish.core.errors import InputError, WhiteBoxRequiredError
from pilotfish.core.models import get_model

from .records import Record


def _white_box(model: Any, who: str) -> Any:
    lm = get_model(model)
    if not getattr(lm, "white_box", False):
        raise WhiteBoxRequiredError(who, lm)
    return lm


def _ppl(logprobs: Sequence[float]) -> float:
    return math.exp(-sum(logprobs) / len(logprobs)) if logprobs else float("nan")


def perplexity_scores(texts: Sequence[str], model: Any = "smollm2-135m", *, max_chars: int = 2000) -> list[float]:
    """Perplexity of each text under a white-box LM (the first ``max_chars`` characters)."""
    lm = _white_box(model, "perplexity")
    return [_ppl(lm.token_logprobs(t[:max_chars])) for t in texts]


def ifd_scores(instructions: Sequence[str], responses: Sequence[str], model: Any = "smollm2-135m",
               *, max_chars: int = 2000) -> list[float]:
    """Superfiltering's IFD: conditioned / unconditioned perplexity of each response."""
    if len(instructions) != len(responses):
        raise InputError(f"{len(instructions)} instructions but {len(responses)} responses")
    lm = _white_box(model, "ifd")
    out = []
    for ins, res in zip(instructions, responses, strict=False):
        res = res[:max_chars]
        plain = _ppl(lm.token_logprobs(res))
        cond = _ppl(lm.token_logprobs(" " + res, prefix=ins[:max_chars] + "\n"))
        out.append(cond / plain if plain and not math.isnan(plain) else float("nan"))
    return out


def coverage_columns(texts: Sequence[str], *, clusters: int = 10, embedder: str = "minilm",
                     seed: int = 0) -> dict[str, list[Any]]:
    """``cluster`` (k-means on embeddings) and ``centrality`` (cosine to the cluster centroid)."""
    from sklearn.cluster import KMeans

    from .classifier import embed_cached

    vecs = embed_cached(list(texts), embedder)
    k = max(1, min(clusters, len(texts)))
    km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(vecs)
    cent = km.cluster_centers_ / np.linalg.norm(km.cluster_centers_, axis=1, keepdims=True).clip(1e-9)
    sims = (vecs * cent[km.labels_]).sum(axis=1)
    return {"cluster": [int(c) for c in km.labels_], "centrality": [float(s) for s in sims]}


# --- selection ---------------------------------------------------------------------------------

_OPS = {"<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt}
_COND = re.compile(r"^\s*([A-Za-z_][\w.-]*)\s*(<=|>=|==|!=|<|>)\s*(q?)([-+0-9.eE]+|nan)\s*$")


def column(records: Sequence[Record], name: str) -> list[Any]:
    """A score column (from ``scores``) or a top-level field, one value per record."""
    out = []
    for i, r in enumerate(records):
        if name in r.get("scores", {}):
            out.append(r["scores"][name])
        elif name in r:
            out.append(r[name])
        else:
            known = sorted(set(r.get("scores", {})) | set(r))
            raise InputError(f"record {i} has no column {name!r} (columns: {', '.join(known)})")
    return out


def parse_condition(text: str) -> tuple[str, str, bool, float]:
    m = _COND.match(text)
    if not m:
        raise InputError(f"cannot read the condition {text!r}; write e.g. 'perplexity<=q0.9', 'quality>=0.5', "
                         "'duplicate==0'")
    name, op, quant, value = m.groups()
    v = float(value)
    if quant and not 0 <= v <= 1:
        raise InputError(f"quantile in {text!r} must be between 0 and 1")
    return name, op, bool(quant), v


def select(
    records: Sequence[Record],
    *,
    where: Sequence[str] = (),
    top: float | None = None,
    by: str | None = None,
    descending: bool = True,
    per: str | None = None,
    seed: int = 0,
) -> list[Record]:
    """Keep the records that pass every condition, then the ``top`` (count, or fraction if < 1).

    With ``per`` (e.g. ``cluster``), the top records are taken round-robin over the groups, so
    the selection covers every group (coverage); without ``by``, ``top`` takes a seeded random
    sample.
    """
    if not records:
        raise InputError("the dataset is empty (no records)")
    keep = np.ones(len(records), dtype=bool)
    for cond in where:
        name, op, quant, v = parse_condition(cond)
        col = np.asarray(column(records, name), dtype=np.float64)
        threshold = float(np.nanquantile(col, v)) if quant else v
        keep &= np.asarray([_OPS[op](x, threshold) if not math.isnan(x) else False for x in col])
    idx = [i for i in range(len(records)) if keep[i]]
    if top is not None:
        n = int(round(top * len(records))) if 0 < top < 1 else int(top)
        if n < 0:
            raise InputError(f"top must be positive, got {top}")
        if by is not None:
            order_col = column(records, by)
            idx.sort(key=lambda i: (-order_col[i] if descending else order_col[i], i))
        else:
            rng = np.random.default_rng(seed)
            idx = [idx[j] for j in rng.permutation(len(idx))]
        if per is not None:
            groups: dict[Any, list[int]] = {}
            for i in idx:
                groups.setdefault(column([records[i]], per)[0], []).append(i)
            order: list[int] = []
            queues = [list(g) for _, g in sorted(groups.items(), key=lambda kv: str(kv[0]))]
            while any(queues) and len(order) < n:
                for q in queues:
                    if q and len(order) < n:
                        order.append(q.pop(0))
            idx = order
        idx = sorted(idx[:n])
    return [records[i] for i in idx]


def merge_columns(records: Sequence[Record], columns: Sequence[dict[str, list[Any]]]) -> list[Record]:
    """Copies of the records with every column written into ``scores``."""
    out = [dict(r, scores=dict(r.get("scores", {}))) for r in records]
    for cols in columns:
        for name, values in cols.items():
            if len(values) != len(out):
                raise InputError(f"scorer column {name!r} has {len(values)} values for {len(out)} records")
            for r, v in zip(out, values, strict=False):
                r["scores"][name] = v
    return out

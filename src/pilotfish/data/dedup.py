"""Near-duplicate removal: MinHash over word shingles with LSH banding, then exact Jaccard.

The same construction as datasketch / text-dedup (Broder 1997): each text becomes the set of
its word ``n``-grams; 128 min-hashes per text are banded (32 bands x 4 rows) so only texts that
collide in a band are compared, and a candidate pair is a duplicate when the exact Jaccard
similarity of the shingle sets reaches ``threshold``. The first occurrence is kept. Hashes are
blake2b based, so results do not depend on ``PYTHONHASHSEED``.

``method="embedding"`` compares sentence embeddings instead (cosine >= threshold): it also
catches paraphrases, at the cost of running an embedder.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from pilotfish.core.errors import InputError

_WORD = re.compile(r"\w+", re.UNICODE)
_PRIME = (1 << 61) - 1


def shingles(text: str, n: int = 3) -> set[int]:
    words = _WORD.findall(text.lower())
    if len(words) < n:
        grams = [" ".join(words)] if words else [text.lower()]
    else:
        grams = [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    return {int.from_bytes(hashlib.blake2b(g.encode(), digest_size=7).digest(), "little") for g in grams}


def _minhash(sets: list[set[int]], num_perm: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, _PRIME, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, _PRIME, size=num_perm, dtype=np.uint64)
    sig = np.empty((len(sets), num_perm), dtype=np.uint64)
    for i, s in enumerate(sets):
        x = np.fromiter(s, dtype=np.uint64, count=len(s))[:, None]
        # (a*x + b) mod 2^64 is a universal-enough hash for banding; exact Jaccard confirms
        sig[i] = ((x * a + b) & np.uint64(_PRIME)).min(axis=0)
    return sig


def duplicate_of(
    texts: Sequence[str],
    *,
    threshold: float = 0.8,
    method: str = "minhash",
    ngram: int = 3,
    embedder: Any = "minilm",
) -> list[int | None]:
    """For each text, the index of the earlier text it duplicates, or ``None`` if it is kept."""
    if not 0 < threshold <= 1:
        raise InputError(f"dedup threshold must be in (0, 1], got {threshold!r}")
    if method == "embedding":
        return _embedding_duplicates(texts, threshold, embedder)
    if method != "minhash":
        raise InputError(f"unknown dedup method {method!r} (minhash or embedding)")
    sets = [shingles(t, ngram) for t in texts]
    n = len(sets)
    if n == 0:
        return []
    bands, rows = 32, 4
    sig = _minhash(sets, bands * rows)
    parent: list[int | None] = [None] * n
    candidates: dict[int, set[int]] = {}
    for band in range(bands):
        buckets: dict[bytes, list[int]] = {}
        chunk = sig[:, band * rows : (band + 1) * rows]
        for i in range(n):
            buckets.setdefault(chunk[i].tobytes(), []).append(i)
        for members in buckets.values():
            if len(members) > 1:
                for j in members[1:]:
                    candidates.setdefault(j, set()).update(m for m in members if m < j)
    for j in range(n):
        for i in sorted(candidates.get(j, ())):
            if parent[i] is not None:
                continue  # compare with kept texts only
            inter = len(sets[i] & sets[j])
            union = len(sets[i] | sets[j]) or 1
            if inter / union >= threshold:
                parent[j] = i
                break
    return parent


def _embedding_duplicates(texts: Sequence[str], threshold: float, embedder: Any) -> list[int | None]:
    from pilotfish.core.models import get_model

    emb = get_model(embedder)
    vecs = np.asarray(emb.embed(list(texts)), dtype=np.float32)
    parent: list[int | None] = [None] * len(texts)
    kept: list[int] = []
    for j in range(len(texts)):
        if kept:
            sims = vecs[kept] @ vecs[j]
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                parent[j] = kept[best]
                continue
        kept.append(j)
    return parent


def dedup(records: Sequence[dict[str, Any]], *, field: str = "text", **kwargs: Any) -> tuple[list[dict[str, Any]], int]:
    """Drop near-duplicate records (first occurrence kept); returns (kept, number removed)."""
    parent = duplicate_of([str(r[field]) for r in records], **kwargs)
    kept = [r for r, p in zip(records, parent, strict=False) if p is None]
    return kept, len(records) - len(kept)

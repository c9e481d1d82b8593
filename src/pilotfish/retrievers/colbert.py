"""``colbert``: late interaction (MaxSim) with a light in-process PLAID-style engine.

Model: :mod:`pilotfish.retrievers.colbert_model` (a BERT encoder plus a linear projection, in the
layout of hub ColBERT checkpoints; ``model = "minilm-untrained"`` is the baseline before training).

Index (ColBERTv2 residual compression, :mod:`pilotfish.retrievers.colbert_store`): token vectors
are assigned to k-means centroids (uint16 codes) and the residual is stored with 2 bits per
dimension, about 34 bytes per token instead of 256 in fp16. Search (PLAID-like): the query's tokens
probe their nearest centroids; candidate passages are scored from centroid scores alone; the best
``ncandidates`` are decompressed and scored exactly by MaxSim.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from .base import RetrieverOptions, RetrieverPlugin, Searcher
from .colbert_model import DEFAULT_MODEL, NBITS, get_encoder, model_fingerprint
from .colbert_store import Codec, token_store
from .index import BuildContext, Index, check_setting


def build(ctx: BuildContext) -> dict[str, Any]:
    import numpy as np

    model = ctx.options.get("model") or DEFAULT_MODEL
    enc = get_encoder(model)
    fp = model_fingerprint(enc)
    prev = ctx.options.get("_previous_settings") or {}
    reuse = bool(ctx.previous_dir and (ctx.previous_dir / "codes.npy").is_file() and prev.get("model") == fp)
    old_codes: dict[str, tuple[Any, Any]] = {}
    codec: Codec | None = None
    if reuse:
        assert ctx.previous_dir is not None
        codec = Codec.load(ctx.previous_dir)
        ids = json.loads((ctx.previous_dir / "ids.json").read_text())
        codes = np.load(ctx.previous_dir / "codes.npy")
        packed = np.load(ctx.previous_dir / "residuals.npy")
        lens = np.load(ctx.previous_dir / "doclens.npy")
        offs = np.concatenate([[0], np.cumsum(lens)])
        for i, pid in enumerate(ids):
            if pid in ctx.reusable:
                old_codes[pid] = (codes[offs[i]:offs[i + 1]], packed[offs[i]:offs[i + 1]])
    todo = [i for i, p in enumerate(ctx.passages) if p.id not in old_codes]
    bar = ctx.progress(f"colbert ({enc.model_id})", len(ctx.passages))
    bar.update(len(ctx.passages) - len(todo))
    new_vecs: dict[int, Any] = {}
    # the dense retriever's MiniLM sentence vectors come out of the same forward pass when this is
    # the untrained MiniLM model: one encoder pass for both parts (see build_index)
    share: dict[str, Any] | None = ctx.shared.get("sentence_vectors:minilm")
    for s in range(0, len(todo), 256):
        chunk = todo[s:s + 256]
        pooled: dict[int, Any] | None = {} if share is not None else None
        for i, v in zip(chunk, enc.encode_docs([ctx.passages[i].index_text() for i in chunk], pooled=pooled),
                        strict=True):
            new_vecs[i] = v
        if share is not None and pooled:
            share.update({ctx.passages[chunk[j]].id: vec for j, vec in pooled.items()})
        bar.update(len(chunk))
    bar.close()
    if codec is None:
        total = sum(len(v) for v in new_vecs.values())
        k = int(ctx.options.get("centroids") or max(16, min(4096, 2 ** int(np.log2(max(16, 4 * np.sqrt(total)))))))
        rng = np.random.default_rng(0)
        allv = np.concatenate([v for v in new_vecs.values()]).astype(np.float32)
        sample = allv[rng.choice(len(allv), size=min(len(allv), 150_000), replace=False)]
        codec = Codec.train(sample, min(k, len(sample)))
    codes_l, packed_l, lens = [], [], []
    for i, p in enumerate(ctx.passages):
        if p.id in old_codes:
            c, r = old_codes[p.id]
        else:
            c, r = codec.compress(new_vecs[i])
        codes_l.append(c)
        packed_l.append(r)
        lens.append(len(c))
    codes = np.concatenate(codes_l).astype(np.uint16)
    packed = np.concatenate(packed_l).astype(np.uint8)
    d = ctx.out_dir
    codec.save(d)
    np.save(d / "codes.npy", codes)
    np.save(d / "residuals.npy", packed)
    np.save(d / "doclens.npy", np.asarray(lens, dtype=np.int32))
    (d / "ids.json").write_text(json.dumps([p.id for p in ctx.passages]))
    # inverted file: centroid -> passages holding at least one of its tokens
    pids = np.repeat(np.arange(len(lens), dtype=np.int64), lens)
    pairs = np.unique(codes.astype(np.int64) * len(lens) + pids)
    ivf_c, ivf_p = pairs // len(lens), (pairs % len(lens)).astype(np.int32)
    np.save(d / "ivf_pids.npy", ivf_p)
    np.save(d / "ivf_offsets.npy", np.searchsorted(ivf_c, np.arange(len(codec.centroids) + 1)).astype(np.int64))
    return {"model": fp, "dim": enc.dim, "nbits": NBITS, "centroids": len(codec.centroids), "tokens": int(len(codes))}


class ColbertSearcher(Searcher):
    def __init__(self, index: Index, model: str | None, nprobe: int, ncandidates: int):
        import numpy as np

        settings = index.settings("colbert")
        self.encoder = get_encoder(model)
        check_setting("colbert", index.root, settings, "model", model_fingerprint(self.encoder))
        d = index.part("colbert")
        store = token_store(index)
        self.codec, self.codes, self.packed = store.codec, store.codes, store.packed
        self.lens, self.offs = store.lens, store.offs
        self.ivf_pids = np.load(d / "ivf_pids.npy")
        self.ivf_offs = np.load(d / "ivf_offsets.npy")
        self.nprobe = nprobe
        self.ncandidates = ncandidates
        self.n = len(self.lens)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        q = self.encoder.encode_query(query)
        return self.search_vectors(q, k)

    def search_vectors(self, q: Any, k: int) -> list[tuple[int, float]]:
        import numpy as np

        cs = q @ self.codec.centroids.T  # [nq, K]
        probe = np.argpartition(-cs, min(self.nprobe, cs.shape[1] - 1), axis=1)[:, : self.nprobe]
        approx = np.zeros((len(q), self.n), dtype=np.float32)
        for qi in range(len(q)):
            row = approx[qi]
            for c in probe[qi]:
                pids = self.ivf_pids[self.ivf_offs[c]:self.ivf_offs[c + 1]]  # distinct within a centroid
                row[pids] = np.maximum(row[pids], cs[qi, c])
        total = approx.sum(0)
        ncand = min(self.n, max(k, self.ncandidates))
        cand = np.argpartition(-total, ncand - 1)[:ncand]
        cand = cand[total[cand] > 0]
        if len(cand) == 0:
            return []
        starts, ends = self.offs[cand], self.offs[cand + 1]
        lens = ends - starts
        bounds = np.concatenate([[0], np.cumsum(lens)[:-1]])
        idx = np.arange(int(lens.sum())) - np.repeat(bounds - starts, lens)  # the candidates' token rows
        emb = self.codec.decompress(self.codes[idx], self.packed[idx])
        sim = q @ emb.T  # [nq, tokens]
        scores = np.maximum.reduceat(sim, bounds, axis=1).sum(0)
        order = np.argsort(-scores)[:k]
        return [(int(cand[i]), float(scores[i])) for i in order]


class ColbertRetriever(RetrieverPlugin):
    """Late-interaction retrieval (``[pilotfish.plugin.colbert]``)."""

    name: ClassVar[str] = "colbert"

    class Options(RetrieverOptions):
        model: str | None = None
        """``default`` (trained by ``pilotfish train colbert``), ``minilm-untrained``, or a checkpoint dir."""
        nprobe: int = 4
        """Centroids probed per query token."""
        ncandidates: int = 256
        """Passages scored exactly (MaxSim on decompressed vectors)."""
        centroids: int | None = None
        """Number of k-means centroids at build time (default: ~4 sqrt(tokens), at most 4096)."""

    def load(self, index: Index) -> Searcher:
        o = self.options
        model = o.model or _recorded_model(index)  # type: ignore[attr-defined]
        return ColbertSearcher(index, model, o.nprobe, o.ncandidates)  # type: ignore[attr-defined]


def _recorded_model(index: Index) -> str:
    recorded = index.settings("colbert").get("model", "")
    return recorded.rsplit("@", 1)[0] or DEFAULT_MODEL

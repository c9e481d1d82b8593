"""``colbert``: late interaction (MaxSim) with a light in-process PLAID-style engine.

Model: a BERT encoder plus a linear projection to ``dim`` (128) dimensions, L2-normalised per
token, in the layout of hub ColBERT checkpoints (``colbert-ir/colbertv2.0``: weights ``bert.*``
and ``linear.weight``, ``artifact.metadata``), so a hub checkpoint directory, one written by
``pilotfish train colbert --out DIR``, and the default (``colbert-minilm`` in pilotfish's model
cache) all load the same way. ``model = "minilm-untrained"`` uses the packaged MiniLM with a fixed
random orthogonal projection (the baseline before training).

Index (ColBERTv2 residual compression): token vectors are assigned to k-means centroids
(uint16 codes) and the residual is stored with 2 bits per dimension (32 bytes per 128-dim token),
about 34 bytes per token instead of 256 in fp16. Search (PLAID-like): the query's tokens probe
their nearest centroids; candidate passages are scored from centroid scores alone; the best
``ncandidates`` are decompressed and scored exactly by MaxSim.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any, ClassVar

from pilotfish.core.errors import MissingDependencyError, ModelError
from pilotfish.models.hardware import cpu_has_bf16

from .base import RetrieverOptions, RetrieverPlugin, Searcher
from .index import BuildContext, Index, IndexError_, check_setting

DEFAULT_MODEL = "default"
UNTRAINED = "minilm-untrained"
NBITS = 2
_PUNCT = re.compile(r"^[^\w\s]+$")


def default_model_path() -> Path:
    from pilotfish.models.cache import cache_dir

    return cache_dir() / "models" / "colbert-minilm"


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise MissingDependencyError("torch", "models", "the colbert retriever") from exc
    return torch


class ColbertEncoder:
    """Query and document token embeddings of a ColBERT checkpoint (or untrained MiniLM)."""

    def __init__(self, bert: Any, linear: Any, tokenizer: Any, meta: dict[str, Any], model_id: str):
        torch = _torch()
        self.torch = torch
        self.bert = bert.eval()
        self.linear = linear.eval()
        self.tokenizer = tokenizer
        self.meta = meta
        self.model_id = model_id
        self.dim = int(linear.weight.shape[0])
        self.query_maxlen = int(meta.get("query_maxlen", 32))
        self.doc_maxlen = int(meta.get("doc_maxlen", 180))
        self.augment = bool(meta.get("query_augment", True))
        self.markers = bool(meta.get("markers", True))
        vocab = tokenizer.get_vocab()
        self.q_marker = vocab.get(meta.get("query_token", "[unused0]"))
        self.d_marker = vocab.get(meta.get("doc_token", "[unused1]"))
        self.skip_ids = {i for tok, i in vocab.items() if _PUNCT.match(tok)}
        self._lock = threading.Lock()
        self._recent: dict[str, Any] = {}
        """The last few encoded queries: a hybrid + rerank pass encodes its query once for the colbert
        retriever and the MaxSim reranker (kept tiny so separate passes never share work)."""
        self.bf16 = cpu_has_bf16()
        """Documents are encoded under bfloat16 autocast where the CPU has native bf16 (2x faster,
        cosine to fp32 vectors > 0.9999); queries stay fp32."""

    # -- loading ---------------------------------------------------------------------------

    @classmethod
    def load(cls, name_or_path: str | None = None) -> ColbertEncoder:
        """``default`` (pilotfish's trained model), ``minilm-untrained``, or a checkpoint directory."""
        if name_or_path in (None, "", DEFAULT_MODEL):
            path = default_model_path()
            if not path.is_dir():
                raise ModelError(
                    f"no trained ColBERT model at {path}; train one with: pilotfish train colbert --corpus DIR "
                    f"(or set [pilotfish.plugin.colbert] model = 'minilm-untrained' or a checkpoint directory)"
                )
            return cls.from_checkpoint(path, "default")
        if name_or_path == UNTRAINED:
            return cls.untrained()
        path = Path(name_or_path).expanduser()
        if not path.is_dir():
            raise ModelError(f"ColBERT checkpoint {name_or_path!r} is not a directory (hub ids must be downloaded "
                             "first, e.g. huggingface-cli download colbert-ir/colbertv2.0 --local-dir DIR)")
        return cls.from_checkpoint(path, str(path.resolve()))

    @classmethod
    def untrained(cls, dim: int = 128, seed: int = 0) -> ColbertEncoder:
        torch = _torch()
        from transformers import AutoModel, AutoTokenizer

        from pilotfish.models.packaged import minilm_path

        path = str(minilm_path())
        bert = AutoModel.from_pretrained(path)
        tok = AutoTokenizer.from_pretrained(path)
        linear = torch.nn.Linear(bert.config.hidden_size, dim, bias=False)
        gen = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(bert.config.hidden_size, dim, generator=gen))
        with torch.no_grad():
            linear.weight.copy_(q.T)
        meta = {"dim": dim, "query_augment": False, "markers": False, "base": "all-MiniLM-L6-v2"}
        return cls(bert, linear, tok, meta, UNTRAINED)

    @classmethod
    def from_checkpoint(cls, path: Path, model_id: str) -> ColbertEncoder:
        """A hub-layout checkpoint: BERT config + weights (``bert.*`` and ``linear.weight``) + tokenizer."""
        torch = _torch()
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        meta: dict[str, Any] = {}
        meta_file = path / "artifact.metadata"
        if meta_file.is_file():
            raw = json.loads(meta_file.read_text())
            meta = {**raw, **raw.get("pilotfish", {})}
        try:
            config = AutoConfig.from_pretrained(str(path))
            tok = AutoTokenizer.from_pretrained(str(path))
        except OSError as exc:
            raise ModelError(f"{path} is not a ColBERT checkpoint: {str(exc).splitlines()[0]}") from None
        state = _read_state_dict(path)
        if "linear.weight" not in state:
            raise ModelError(f"{path} has no 'linear.weight': not a ColBERT checkpoint")
        bert = AutoModel.from_config(config)
        bert_state = {k[len("bert."):]: v for k, v in state.items() if k.startswith("bert.")}
        missing, _unexpected = bert.load_state_dict(bert_state, strict=False)
        missing = [m for m in missing if "position_ids" not in m and not m.startswith("pooler.")]
        if missing:
            raise ModelError(f"{path}: checkpoint lacks weights {missing[:3]}")
        w = state["linear.weight"]
        linear = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
        with torch.no_grad():
            linear.weight.copy_(w.float())
        meta.setdefault("dim", int(w.shape[0]))
        return cls(bert, linear, tok, meta, model_id)

    def save(self, path: str | Path) -> Path:
        """Write a hub-layout checkpoint (loads with :meth:`from_checkpoint`, like colbert-ir/colbertv2.0)."""
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {f"bert.{k}": v.detach().contiguous() for k, v in self.bert.state_dict().items()}
        state["linear.weight"] = self.linear.weight.detach().contiguous()
        save_file(state, str(path / "model.safetensors"))
        cfg = self.bert.config
        cfg.architectures = ["HF_ColBERT"]
        cfg.save_pretrained(str(path))
        self.tokenizer.save_pretrained(str(path))
        meta = {"dim": self.dim, "query_maxlen": self.query_maxlen, "doc_maxlen": self.doc_maxlen,
                "similarity": "cosine", "nbits": NBITS, "query_token": "[unused0]", "doc_token": "[unused1]",
                "attend_to_mask_tokens": False, "pilotfish": {k: v for k, v in self.meta.items()
                                                              if k in ("query_augment", "markers", "base", "trained", "steps", "pairs",
                                                                       "loss_first", "loss_last")}}
        (path / "artifact.metadata").write_text(json.dumps(meta, indent=1))
        return path

    # -- encoding ------------------------------------------------------------------------------

    def _tokenize(self, texts: list[str], maxlen: int, marker: int | None, augment: bool) -> Any:
        torch = self.torch
        enc = self.tokenizer(texts, truncation=True, max_length=maxlen - (1 if self.markers else 0),
                             padding="longest", return_tensors="pt")
        ids, mask = enc["input_ids"], enc["attention_mask"]
        if self.markers and marker is not None:
            col = torch.full((ids.shape[0], 1), marker, dtype=ids.dtype)
            ids = torch.cat([ids[:, :1], col, ids[:, 1:]], dim=1)
            mask = torch.cat([mask[:, :1], torch.ones_like(col), mask[:, 1:]], dim=1)
        if augment:
            pad = maxlen - ids.shape[1]
            if pad > 0:
                ids = torch.cat([ids, torch.full((ids.shape[0], pad), self.tokenizer.pad_token_id, dtype=ids.dtype)], 1)
                mask = torch.cat([mask, torch.zeros((ids.shape[0], pad), dtype=mask.dtype)], 1)
            ids = ids.masked_fill(ids == self.tokenizer.pad_token_id, self.tokenizer.mask_token_id)
            mask = torch.ones_like(mask)  # query augmentation: [MASK] tokens are attended and matched
        return ids, mask

    def forward(self, ids: Any, mask: Any) -> Any:
        return self.project(self.bert(input_ids=ids, attention_mask=mask).last_hidden_state)

    def project(self, hidden: Any) -> Any:
        return self.torch.nn.functional.normalize(self.linear(hidden), dim=-1)

    @property
    def shares_minilm_pass(self) -> bool:
        """True when this encoder's document pass is the packaged MiniLM's own (the untrained baseline:
        no marker tokens), so the same forward pass also yields the ``minilm`` sentence embeddings
        (mean-pooled, normalised: cosine to sentence-transformers' > 0.99999, measured)."""
        return self.model_id == UNTRAINED and not self.markers

    def encode_queries(self, texts: list[str]) -> Any:
        """``[n, query_len, dim]`` float32 numpy (padding rows are zero)."""
        torch = self.torch
        ids, mask = self._tokenize(texts, self.query_maxlen, self.q_marker, self.augment)
        with self._lock, torch.inference_mode():
            q = self.forward(ids, mask) * mask.unsqueeze(-1)
        return q.numpy()

    def encode_query(self, text: str) -> Any:
        """``[tokens, dim]`` float32 numpy for one query (padding rows dropped), memoised for the last 4."""
        with self._lock:
            hit = self._recent.get(text)
        if hit is not None:
            return hit
        q = self.encode_queries([text])[0]
        q = q[(q * q).sum(1) > 0]
        q.setflags(write=False)
        with self._lock:
            self._recent[text] = q
            while len(self._recent) > 4:
                self._recent.pop(next(iter(self._recent)))
        return q

    def doc_mask(self, ids: Any, mask: Any) -> Any:
        keep = mask.bool()
        if self.skip_ids:
            skip = self.torch.tensor(sorted(self.skip_ids))
            keep &= ~self.torch.isin(ids, skip)
        return keep

    def encode_docs(self, texts: list[str], batch_size: int = 32, pooled: dict[int, Any] | None = None) -> list[Any]:
        """One ``[tokens, dim]`` float16 numpy array per text (punctuation and padding dropped).

        ``pooled``: when given (and :attr:`shares_minilm_pass`), also fills ``pooled[i]`` with text
        ``i``'s MiniLM sentence embedding from the same forward pass, for the texts that fit in
        ``doc_maxlen`` tokens (the dense retriever's encoder would see longer ones whole).
        """
        torch = self.torch
        out: list[Any] = []
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        result: dict[int, Any] = {}
        want_pooled = pooled is not None and self.shares_minilm_pass
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            batch = [texts[i] for i in idx]
            ids, mask = self._tokenize(batch, self.doc_maxlen, self.d_marker, False)
            with self._lock, torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=self.bf16):
                hidden = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
                d = self.project(hidden).float()
            keep = self.doc_mask(ids, mask)
            for row, i in enumerate(idx):
                result[i] = d[row][keep[row]].to(torch.float16).numpy()
            if want_pooled:
                assert pooled is not None
                m = mask.unsqueeze(-1).float()
                vec = torch.nn.functional.normalize((hidden.float() * m).sum(1) / m.sum(1), dim=-1).numpy()
                # shorter than doc_maxlen tokens: not truncated (a text of exactly doc_maxlen may have been)
                whole = mask.sum(1) < self.doc_maxlen
                for row, i in enumerate(idx):
                    if whole[row]:
                        pooled[i] = vec[row]
        out = [result[i] for i in range(len(texts))]
        return out


def _read_state_dict(path: Path) -> dict[str, Any]:
    torch = _torch()
    st = path / "model.safetensors"
    if st.is_file():
        from safetensors.torch import load_file

        return load_file(str(st))
    pt = path / "pytorch_model.bin"
    if pt.is_file():
        return torch.load(str(pt), map_location="cpu", weights_only=True)
    raise ModelError(f"{path}: no model.safetensors or pytorch_model.bin")


_encoders: dict[str, ColbertEncoder] = {}
_enc_lock = threading.Lock()


def get_encoder(model: str | None) -> ColbertEncoder:
    """One shared encoder per model name/path in the process."""
    key = model or DEFAULT_MODEL
    with _enc_lock:
        if key not in _encoders:
            _encoders[key] = ColbertEncoder.load(key)
        return _encoders[key]


def weights_hash(linear_weight: Any) -> str:
    """12 hex digits identifying a ColBERT projection (``linear.weight``, any float tensor or array)."""
    import hashlib

    import numpy as np

    w = np.ascontiguousarray(np.asarray(linear_weight, dtype=np.float32))
    return hashlib.sha1(w.tobytes()).hexdigest()[:12]


def model_fingerprint(enc: ColbertEncoder) -> str:
    """Identifies the weights (so an index refuses a different query model, even under the same name).

    Computed once per encoder and weight version (a reranker asks for it on every query; training
    updates the weights in place, which bumps the tensor's version)."""
    weight = enc.linear.weight
    key = (enc.model_id, weight.data_ptr(), weight._version)
    cached = getattr(enc, "_fingerprint", None)
    if cached is not None and cached[0] == key:
        return str(cached[1])
    fingerprint = f"{enc.model_id}@{weights_hash(weight.detach().float().numpy())}"
    enc._fingerprint = (key, fingerprint)  # type: ignore[attr-defined]
    return fingerprint


# --- residual compression ------------------------------------------------------------------------


def _kmeans(x: Any, k: int, iters: int = 8, seed: int = 0) -> Any:
    torch = _torch()
    g = torch.Generator().manual_seed(seed)
    xt = torch.from_numpy(x).float()
    cent = xt[torch.randperm(xt.shape[0], generator=g)[:k]].clone()
    for _ in range(iters):
        assign = torch.cat([(xt[s:s + 65536] @ cent.T).argmax(1) for s in range(0, xt.shape[0], 65536)])
        sums = torch.zeros_like(cent).index_add_(0, assign, xt)
        counts = torch.bincount(assign, minlength=k).unsqueeze(1).float()
        empty = counts.squeeze(1) == 0
        cent = torch.where(empty.unsqueeze(1), cent, sums / counts.clamp(min=1))
        cent = torch.nn.functional.normalize(cent, dim=1)
    return cent.numpy()


class Codec:
    """Centroid codes + 2-bit residuals (ColBERTv2)."""

    def __init__(self, centroids: Any, cutoffs: Any, weights: Any):
        import numpy as np

        self.centroids = centroids.astype(np.float32)
        self.cutoffs = cutoffs.astype(np.float32)
        self.weights = weights.astype(np.float32)
        # byte -> 4 residual values (2 bits each, most significant first)
        b = np.arange(256)
        self.table = np.stack([self.weights[(b >> s) & 3] for s in (6, 4, 2, 0)], axis=1).astype(np.float32)

    @classmethod
    def train(cls, sample: Any, k: int) -> Codec:
        import numpy as np

        cent = _kmeans(sample, k)
        codes = cls._assign(cent, sample)
        res = (sample - cent[codes]).ravel()
        cutoffs = np.quantile(res, [0.25, 0.5, 0.75])
        weights = np.quantile(res, [0.125, 0.375, 0.625, 0.875])
        return cls(cent, cutoffs, weights)

    @staticmethod
    def _assign(cent: Any, x: Any) -> Any:
        import numpy as np

        return np.concatenate([(x[s:s + 65536] @ cent.T).argmax(1) for s in range(0, len(x), 65536)]).astype(np.uint16)

    def compress(self, x: Any) -> tuple[Any, Any]:
        import numpy as np

        x = x.astype(np.float32)
        codes = self._assign(self.centroids, x)
        buckets = np.searchsorted(self.cutoffs, x - self.centroids[codes]).astype(np.uint8)  # 0..3
        b = buckets.reshape(len(x), -1, 4)
        packed = (b[:, :, 0] << 6) | (b[:, :, 1] << 4) | (b[:, :, 2] << 2) | b[:, :, 3]
        return codes, packed.astype(np.uint8)

    def decompress(self, codes: Any, packed: Any) -> Any:
        import numpy as np

        x = self.centroids[codes]
        x += self.table[packed].reshape(len(codes), -1)
        x /= np.sqrt(np.einsum("ij,ij->i", x, x))[:, None] + 1e-6
        return x

    def save(self, d: Path) -> None:
        import numpy as np

        np.save(d / "centroids.npy", self.centroids.astype(np.float16))
        np.save(d / "cutoffs.npy", self.cutoffs)
        np.save(d / "weights.npy", self.weights)

    @classmethod
    def load(cls, d: Path) -> Codec:
        import numpy as np

        return cls(np.load(d / "centroids.npy"), np.load(d / "cutoffs.npy"), np.load(d / "weights.npy"))


class TokenStore:
    """The compressed token vectors of one index's colbert part, loaded once per process and shared by
    the ``colbert`` searcher and the ``maxsim-reranker`` (which scores indexed passages from them
    instead of re-encoding their text)."""

    def __init__(self, d: Path):
        import numpy as np

        if not (d / "codes.npy").is_file():
            raise IndexError_(f"the index at {d.parent.parent} lacks its colbert part; rebuild it")
        self.codec = Codec.load(d)
        self.codes = np.load(d / "codes.npy")
        self.packed = np.load(d / "residuals.npy")
        self.lens = np.load(d / "doclens.npy").astype(np.int64)
        self.offs = np.concatenate([[0], np.cumsum(self.lens)])
        self.n = len(self.lens)

    def vectors(self, pos: int) -> Any:
        """The decompressed ``[tokens, dim]`` float32 vectors of the passage at ``pos``."""
        s, e = int(self.offs[pos]), int(self.offs[pos + 1])
        return self.codec.decompress(self.codes[s:e], self.packed[s:e])

    def vectors_many(self, positions: list[int]) -> list[Any]:
        """:meth:`vectors` of several passages, decompressed in one call."""
        import numpy as np

        if not positions:
            return []
        pos = np.asarray(positions, dtype=np.int64)
        starts, lens = self.offs[pos], self.offs[pos + 1] - self.offs[pos]
        bounds = np.concatenate([[0], np.cumsum(lens)])
        rows = np.arange(int(bounds[-1])) - np.repeat(bounds[:-1] - starts, lens)
        flat = self.codec.decompress(self.codes[rows], self.packed[rows])
        return [flat[bounds[i]:bounds[i + 1]] for i in range(len(pos))]


_stores: dict[str, TokenStore] = {}
_store_lock = threading.Lock()


def token_store(index: Index) -> TokenStore:
    """The shared :class:`TokenStore` of ``index``'s colbert part (the last 4 generations stay loaded)."""
    d = index.part("colbert").resolve()
    key = str(d)
    with _store_lock:
        if key not in _stores:
            _stores[key] = TokenStore(d)
            while len(_stores) > 4:
                _stores.pop(next(iter(_stores)))
        return _stores[key]


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

"""The ColBERT encoder of the ``colbert`` retriever and the ``maxsim-reranker``: a BERT encoder plus a
linear projection to ``dim`` (128) dimensions, L2-normalised per token, in the layout of hub ColBERT
checkpoints (``colbert-ir/colbertv2.0``: weights ``bert.*`` and ``linear.weight``,
``artifact.metadata``), so a hub checkpoint directory, one written by ``pilotfish train colbert --out
DIR``, and the default (``colbert-minilm`` in pilotfish's model cache) all load the same way.
``model = "minilm-untrained"`` uses the packaged MiniLM with a fixed random orthogonal projection (the
baseline before training).
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from pilotfish.core.errors import MissingDependencyError, ModelError
from pilotfish.models.hardware import cpu_has_bf16

DEFAULT_MODEL = "default"
UNTRAINED = "minilm-untrained"
NBITS = 2
"""Bits per dimension of the index's compressed residuals (recorded in a checkpoint's metadata, as hub ColBERT does)."""
_PUNCT = re.compile(r"^[^\w\s]+$")


def default_model_path() -> Path:
    from pilotfish.models.cache import cache_dir

    return cache_dir() / "models" / "colbert-minilm"


def torch_module() -> Any:
    """torch, or a clear error naming the extra that installs it."""
    try:
        import torch
    except ImportError as exc:
        raise MissingDependencyError("torch", "models", "the colbert retriever") from exc
    return torch


class ColbertEncoder:
    """Query and document token embeddings of a ColBERT checkpoint (or untrained MiniLM)."""

    def __init__(self, bert: Any, linear: Any, tokenizer: Any, meta: dict[str, Any], model_id: str):
        torch = torch_module()
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
        torch = torch_module()
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
        torch = torch_module()
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
                                                                       "loss_first", "loss_last", "teacher_questions",
                                                                       "judgements")}}
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
    torch = torch_module()
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

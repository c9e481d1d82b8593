"""A small text classifier built on MiniLM: the student of distillation and weak-to-strong.

Two modes:

- ``head`` (default): frozen MiniLM sentence embeddings and a trained linear (or MLP) head.
  Trains in seconds on a CPU; embeddings are cached per text, so several students trained on
  the same texts (benchmarks, weak-to-strong) embed once.
- ``finetune``: ``AutoModelForSequenceClassification`` from the packaged MiniLM weights, every
  layer trained.

Targets can be hard labels or per-label probabilities (soft labels from a teacher). The
optional auxiliary confidence loss of Burns et al. (2023) mixes the cross-entropy to the
(weak) targets with a cross-entropy to the student's own hardened predictions, its weight
warmed up from 0 to ``aux_weight`` over the first ``aux_warmup`` of training:
``L = (1 - a) CE(p, y_weak) + a CE(p, onehot(argmax p))``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pilotfish.core.errors import InputError, ModelError

_EMB_CACHE: dict[tuple[str, str], np.ndarray] = {}


def embed_cached(texts: Sequence[str], embedder: str = "minilm") -> np.ndarray:
    """Sentence embeddings, computed once per (embedder, text) in this process."""
    from pilotfish.core.models import get_model

    missing = [t for t in dict.fromkeys(texts) if (embedder, t) not in _EMB_CACHE]
    if missing:
        vecs = np.asarray(get_model(embedder).embed(missing), dtype=np.float32)
        for t, v in zip(missing, vecs, strict=False):
            _EMB_CACHE[(embedder, t)] = v
    return np.stack([_EMB_CACHE[(embedder, t)] for t in texts]) if texts else np.zeros((0, 384), np.float32)


def preload_embeddings(texts: Sequence[str], vectors: np.ndarray, embedder: str = "minilm") -> None:
    """Fill the embedding cache (e.g. from a file saved by a previous run)."""
    for t, v in zip(texts, vectors, strict=False):
        _EMB_CACHE[(embedder, t)] = np.asarray(v, dtype=np.float32)


def _targets(labels: Sequence[Any], classes: list[str]) -> np.ndarray:
    """Hard labels (strings) or probability rows/dicts -> an (n, k) probability matrix."""
    index = {c: i for i, c in enumerate(classes)}
    out = np.zeros((len(labels), len(classes)), dtype=np.float32)
    for i, y in enumerate(labels):
        if isinstance(y, str):
            if y not in index:
                raise InputError(f"example {i} has label {y!r}, not one of {classes}")
            out[i, index[y]] = 1.0
        elif isinstance(y, dict):
            for k, p in y.items():
                out[i, index[k]] = float(p)
        else:
            row = np.asarray(y, dtype=np.float32)
            if row.shape != (len(classes),):
                raise InputError(f"example {i}: probability row has shape {row.shape}, expected ({len(classes)},)")
            out[i] = row
    sums = out.sum(axis=1, keepdims=True)
    if (sums <= 0).any():
        raise InputError("a target row has no probability mass")
    return out / sums


def confidence_loss(logits: Any, targets: Any, aux_weight: float) -> Any:
    """Burns et al. (2023) auxiliary confidence loss (targets are probability rows)."""
    import torch
    import torch.nn.functional as F

    logp = F.log_softmax(logits, dim=-1)
    ce_weak = -(targets * logp).sum(-1).mean()
    if aux_weight <= 0:
        return ce_weak
    hard = torch.nn.functional.one_hot(logits.detach().argmax(-1), logits.shape[-1]).float()
    ce_self = -(hard * logp).sum(-1).mean()
    return (1 - aux_weight) * ce_weak + aux_weight * ce_self


class TextClassifier:
    """A MiniLM student. ``fit(texts, labels)``, ``predict(texts)``, ``save(dir)``, ``load(dir)``."""

    def __init__(self, classes: Sequence[str], *, mode: str = "head", embedder: str = "minilm",
                 hidden: int = 0, seed: int = 0, max_length: int = 128):
        if mode not in ("head", "finetune"):
            raise InputError(f"unknown classifier mode {mode!r} (head or finetune)")
        self.classes = [str(c) for c in classes]
        if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
            raise InputError(f"a classifier needs at least two distinct classes, got {self.classes}")
        self.mode, self.embedder, self.hidden, self.seed, self.max_length = mode, embedder, hidden, seed, max_length
        self.net: Any = None
        self.tokenizer: Any = None
        self.history: list[float] = []

    # -- training --------------------------------------------------------------------------------

    def fit(self, texts: Sequence[str], labels: Sequence[Any], *, epochs: int | None = None, lr: float | None = None,
            batch_size: int = 32, aux_weight: float = 0.0, aux_warmup: float = 0.2,
            weight_decay: float = 1e-4) -> TextClassifier:
        import torch

        if len(texts) == 0:
            raise InputError("no training examples")
        if len(texts) != len(labels):
            raise InputError(f"{len(texts)} texts but {len(labels)} labels")
        y = torch.tensor(_targets(labels, self.classes))
        torch.manual_seed(self.seed)
        if self.mode == "head":
            x = torch.tensor(embed_cached(list(texts), self.embedder))
            self.net = self._head(x.shape[1])
            epochs = epochs or 60
            lr = lr or 1e-2
            params = self.net.parameters()
        else:
            self._load_finetune()
            epochs = epochs or 2
            lr = lr or 5e-5
            params = self.net.parameters()
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
        n = len(texts)
        steps_per_epoch = max(1, (n + batch_size - 1) // batch_size)
        total = epochs * steps_per_epoch
        gen = torch.Generator().manual_seed(self.seed)
        step = 0
        self.net.train()
        for _ in range(epochs):
            order = torch.randperm(n, generator=gen)
            epoch_loss = 0.0
            for b in range(steps_per_epoch):
                idx = order[b * batch_size : (b + 1) * batch_size]
                if len(idx) == 0:
                    continue
                if self.mode == "head":
                    logits = self.net(x[idx])
                else:
                    logits = self._finetune_logits([texts[i] for i in idx.tolist()])
                warm = min(1.0, step / max(1.0, aux_warmup * total))
                loss = confidence_loss(logits, y[idx], aux_weight * warm)
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                epoch_loss += float(loss.detach())
            self.history.append(epoch_loss / steps_per_epoch)
        self.net.eval()
        return self

    def _head(self, dim: int) -> Any:
        import torch

        if self.hidden:
            return torch.nn.Sequential(torch.nn.Linear(dim, self.hidden), torch.nn.GELU(),
                                       torch.nn.Linear(self.hidden, len(self.classes)))
        return torch.nn.Linear(dim, len(self.classes))

    def _load_finetune(self, path: str | None = None) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from pilotfish.models.packaged import minilm_path

        src = path or str(minilm_path())
        self.tokenizer = AutoTokenizer.from_pretrained(src)
        self.net = AutoModelForSequenceClassification.from_pretrained(
            src, num_labels=len(self.classes), id2label=dict(enumerate(self.classes)),
            label2id={c: i for i, c in enumerate(self.classes)})

    def _finetune_logits(self, texts: list[str]) -> Any:
        enc = self.tokenizer(texts, truncation=True, max_length=self.max_length, padding=True, return_tensors="pt")
        return self.net(**enc).logits

    # -- inference --------------------------------------------------------------------------------

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        import torch

        if self.net is None:
            raise ModelError("the classifier is not trained; call fit() or load() first")
        if not texts:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        with torch.inference_mode():
            if self.mode == "head":
                logits = self.net(torch.tensor(embed_cached(list(texts), self.embedder)))
            else:
                logits = torch.cat([self._finetune_logits(list(texts[i : i + batch_size]))
                                    for i in range(0, len(texts), batch_size)])
            return torch.softmax(logits.float(), dim=-1).numpy()

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [self.classes[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def evaluate(self, texts: Sequence[str], gold: Sequence[str], *, fresh: bool = True) -> dict[str, float]:
        """Accuracy and examples/s (``fresh``: embeddings recomputed, so speed is end to end)."""
        if fresh and self.mode == "head":
            for t in texts:
                _EMB_CACHE.pop((self.embedder, t), None)
        start = time.perf_counter()
        pred = self.predict(texts)
        seconds = time.perf_counter() - start
        acc = float(np.mean([p == g for p, g in zip(pred, gold, strict=False)])) if gold else 0.0
        return {"accuracy": acc, "examples_per_s": len(texts) / max(seconds, 1e-9), "n": len(texts)}

    # -- persistence -----------------------------------------------------------------------------

    def save(self, out: str | Path) -> Path:
        import torch

        if self.net is None:
            raise ModelError("nothing to save: the classifier is not trained")
        d = Path(out)
        d.mkdir(parents=True, exist_ok=True)
        meta = {"kind": "pilotfish-text-classifier", "classes": self.classes, "mode": self.mode,
                "embedder": self.embedder, "hidden": self.hidden, "max_length": self.max_length}
        if self.mode == "head":
            torch.save(self.net.state_dict(), d / "head.pt")
        else:
            self.net.save_pretrained(str(d))
            self.tokenizer.save_pretrained(str(d))
        (d / "pilotfish-classifier.json").write_text(json.dumps(meta, indent=2))
        return d

    @classmethod
    def load(cls, path: str | Path) -> TextClassifier:
        import torch

        d = Path(path)
        meta_file = d / "pilotfish-classifier.json"
        if not meta_file.is_file():
            raise ModelError(f"{str(d)!r} is not a saved pilotfish classifier (no pilotfish-classifier.json)")
        meta = json.loads(meta_file.read_text())
        clf = cls(meta["classes"], mode=meta["mode"], embedder=meta["embedder"], hidden=meta.get("hidden", 0),
                  max_length=meta.get("max_length", 128))
        if clf.mode == "head":
            # a state dict of tensors: weights_only=True never unpickles code from a downloaded classifier
            state = torch.load(d / "head.pt", map_location="cpu", weights_only=True)
            clf.net = clf._head(int(state["weight" if not clf.hidden else "0.weight"].shape[1]))
            clf.net.load_state_dict(state)
        else:
            clf._load_finetune(str(d))
        clf.net.eval()
        return clf


def cached_embeddings(texts: Sequence[str], embedder: str = "minilm") -> np.ndarray:
    """Embeddings persisted under ``$PILOTFISH_CACHE/data`` (keyed by the texts), loaded into the cache.

    Benchmarks embed the same corpus in several runs; on a shared 2-core CPU that is the slow
    part, so it is done once.
    """
    import hashlib

    from pilotfish.models.cache import cache_dir

    h = hashlib.blake2b(digest_size=10)
    for t in texts:
        h.update(t.encode("utf-8") + b"\0")
    f = cache_dir() / "data" / f"emb-{embedder.replace(':', '_').replace('/', '_')}-{h.hexdigest()}.npy"
    if f.is_file():
        vecs = np.load(f)
        preload_embeddings(texts, vecs, embedder)
        return vecs
    vecs = embed_cached(list(texts), embedder)
    f.parent.mkdir(parents=True, exist_ok=True)
    np.save(f, vecs)
    return vecs

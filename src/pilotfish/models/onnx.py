"""Sentence embedders on ONNX Runtime: MiniLM without torch.

Two model ids, both all-MiniLM-L6-v2 exported once from the packaged sentence-transformers folder into
``<cache>/models/minilm-onnx/`` (:mod:`pilotfish.models.onnx_export`, the first time either is asked for):

- ``minilm-onnx``: the fp32 graph. Its vectors equal ``minilm``'s (cosine > 0.9999, checked at export),
  so it answers the queries of an index built with ``minilm``: the dense retriever uses it there, and a
  ``pilotfish ask`` then never imports torch (its import and its exit cost 5-10 s a process here).
- ``minilm-int8``: the same graph with int8 weights (dynamic quantization, per output channel, MatMul
  weights only): 23 MB instead of 90, about 2x the fp32 graph's passages/s, cosine 0.99 to fp32 (per-tensor
  int8 gave 0.95 and lost retrieval quality). What ``pilotfish index`` builds the dense part with by default
  (``benchmarks/encoders.py`` compares the encoders and their retrieval quality).

Only ``onnxruntime`` and ``tokenizers`` are needed at run time; the export needs torch, transformers and
the ``onnx`` package. The tokenizer is the packaged ``tokenizer.json`` with its fixed padding removed and
truncation at the model's ``max_seq_length`` (256), as sentence-transformers does. Texts are encoded in
batches of similar length (sorted by token count), so little of a batch is padding.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pilotfish.core.errors import MissingDependencyError, ModelError
from pilotfish.core.models import Embedder
from pilotfish.core.threads import threads_now

VARIANTS = {"minilm-onnx": "model.onnx", "minilm-int8": "model-int8.onnx"}
"""model id -> its file in the export folder."""


def require_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise MissingDependencyError("onnxruntime", "rag", "the ONNX MiniLM encoders") from exc
    return onnxruntime


class OnnxEmbedder(Embedder):
    """Mean-pooled, L2-normalised sentence vectors from an ONNX graph that takes ``input_ids``,
    ``attention_mask``, ``token_type_ids`` and returns ``sentence_embedding`` (pooling and normalisation
    are inside the graph).

    Args:
        path: the ``.onnx`` file.
        tokenizer_path: a ``tokenizer.json`` (Hugging Face ``tokenizers``).
        model_id: the id this embedder is known by.
        max_length: tokens per text, special tokens included (longer texts are truncated).
        dimension: the vector size.
        threads: ONNX Runtime's intra-op threads (default: :func:`pilotfish.core.threads.threads_now`).
    """

    backend = "onnxruntime"

    def __init__(self, path: str | Path, tokenizer_path: str | Path, model_id: str, *, max_length: int = 256,
                 dimension: int = 384, threads: int | None = None):
        ort = require_onnxruntime()
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise MissingDependencyError("tokenizers", "rag", "the ONNX MiniLM encoders") from exc
        self.path = Path(path)
        self.model_id = model_id
        self.dimension = dimension
        self.max_length = max_length
        try:
            self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        except Exception as exc:  # tokenizers raises a bare Exception for a bad file
            raise ModelError(f"{model_id}: could not read the tokenizer {str(tokenizer_path)!r}: {exc}") from None
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or threads_now()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's InvalidProtobuf, NoSuchFile, Fail...
            raise ModelError(f"{model_id}: ONNX Runtime could not load {str(self.path)!r} "
                             f"({str(exc).splitlines()[0][:200]})") from None
        self.inputs = {i.name for i in self.session.get_inputs()}
        self._lock = threading.Lock()

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self.tokenizer.encode_batch(list(texts))]

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> Any:
        """One unit vector per text (float32 array of shape ``(len(texts), dimension)``)."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        with self._lock:
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                width = max(len(encodings[i].ids) for i in rows)
                ids = np.zeros((len(rows), width), dtype=np.int64)
                mask = np.zeros((len(rows), width), dtype=np.int64)
                for j, i in enumerate(rows):
                    n = len(encodings[i].ids)
                    ids[j, :n] = encodings[i].ids
                    mask[j, :n] = 1
                feed = {"input_ids": ids, "attention_mask": mask}
                if "token_type_ids" in self.inputs:
                    feed["token_type_ids"] = np.zeros_like(ids)
                out[rows] = self.session.run(None, feed)[0]
        return out


def export_dir() -> Path:
    from .cache import cache_dir

    return cache_dir() / "models" / "minilm-onnx"


def load_minilm_onnx(model_id: str) -> OnnxEmbedder:
    """``minilm-onnx`` or ``minilm-int8``: exported on first use (and again when its file is damaged)."""
    from .onnx_export import ensure_export
    from .packaged import minilm_path

    require_onnxruntime()
    source = minilm_path()
    folder = ensure_export(source)
    meta = json.loads((folder / "pilotfish_onnx.json").read_text())
    return OnnxEmbedder(folder / VARIANTS[model_id], source / "tokenizer.json", model_id,
                        max_length=int(meta["max_seq_length"]), dimension=int(meta["dimension"]))


def minilm_onnx_available() -> bool:
    """Whether ``minilm-onnx`` / ``minilm-int8`` can be had offline: onnxruntime, the packaged MiniLM, and
    either a complete export in the cache or what exporting needs (torch, transformers, onnx)."""
    from .onnx_export import export_complete
    from .packaged import packaged_available

    if not (importable("onnxruntime") and importable("tokenizers") and packaged_available("minilm")):
        return False
    return export_complete() or all(importable(m) for m in ("torch", "transformers", "onnx"))


def importable(name: str) -> bool:
    """Whether ``import name`` would find the module (without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: in sys.modules as None (import blocked)
        return False

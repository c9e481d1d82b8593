"""Contrastive decoding: steer the expert (routed) model away from what a weaker amateur predicts.

At every step the next-token scores become ``(1 + beta) * expert - beta * amateur`` (O'Brien &
Lewis 2023), restricted to tokens the expert itself finds plausible
(``p_expert >= alpha * max p_expert``, Li et al. 2022). Tokens that both models like, such as the
amateur's favourite repetitions and generic continuations, lose weight; what the expert knows
better than the amateur wins.

It plugs in through the ``logits_processors`` hook, so it works with the built-in ``generate``
(and anything else that applies the hook's processors) on a white-box expert. The amateur must
share the expert's tokenizer: a smaller model of the same family, or a truncated copy
(``truncate:<n>:<id>``). The amateur keeps its own KV cache across the steps of one generation.

Config::

    [pilotfish]
    model = "smollm2-135m"
    plugins = ["contrastive"]

    [pilotfish.plugin.contrastive]
    amateur = "truncate:16:hf:smollm2-135m"
    beta = 0.5
    alpha = 0.1
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from pilotfish.core.errors import PilotfishError, WhiteBoxRequiredError
from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.types import Request


class ContrastiveProcessor:
    """A logits processor holding the amateur's KV cache for one generation."""

    def __init__(self, amateur: Any, beta: float, alpha: float):
        self.amateur = amateur
        self.beta = beta
        self.log_alpha = math.log(alpha)
        self.past: Any = None
        self.seen = 0

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        ids = input_ids[0].tolist()
        if self.past is not None and len(ids) <= self.seen:  # a new sequence: start over
            self.past = None
        amateur_logits, self.past = self.amateur.next_token_logits(ids, self.past)
        self.seen = len(ids)
        expert_logp = torch.log_softmax(scores.float(), dim=-1)
        amateur_logp = torch.log_softmax(amateur_logits.float(), dim=-1)[None, : scores.shape[-1]]
        contrast = (1 + self.beta) * expert_logp - self.beta * amateur_logp
        implausible = expert_logp < expert_logp.max(dim=-1, keepdim=True).values + self.log_alpha
        return contrast.masked_fill(implausible, float("-inf"))


class Contrastive(Plugin):
    """``logits_processors`` plugin: contrastive decoding against a same-tokenizer amateur."""

    name = "contrastive"

    class Options(PluginOptions):
        amateur: str = "truncate:16:hf:smollm2-135m"
        beta: float = Field(0.5, ge=0)
        """Strength of the contrast (0 = plain expert decoding)."""
        alpha: float = Field(0.1, gt=0, le=1)
        """Plausibility cut: keep tokens with p_expert >= alpha * max p_expert."""

    @hookimpl
    def logits_processors(self, request: Request, model: Any, pilot: Any) -> list[Any]:
        amateur = pilot.get_model(self.options.amateur)
        for m in (model, amateur):
            if not getattr(m, "white_box", False):
                raise WhiteBoxRequiredError("contrastive", m)
        if amateur is model:
            raise PilotfishError(f"the amateur {self.options.amateur!r} is the expert itself; choose a weaker model")
        if amateur.vocab_size != model.vocab_size or amateur.tokenizer.get_vocab() != model.tokenizer.get_vocab():
            raise PilotfishError(
                f"the amateur {amateur.model_id!r} does not share the expert {model.model_id!r}'s tokenizer; "
                "contrastive decoding compares the two models token by token"
            )
        return [ContrastiveProcessor(amateur, self.options.beta, self.options.alpha)]

"""Model cascading: the small model answers first; the large one only when confidence is low.

A ``generate`` strategy (FrugalGPT-style). The confidence signal is the small model's token
log-probabilities (mean or minimum over the answer), a refusal by the small model
(``escalate_refusals``), and optionally the enabled verifiers: with ``use_verifiers = true`` the small
answer is escalated when any verdict fails against the passages the prompt showed
(``request.documents``, set by the host). The decision and its
numbers are in ``answer.generation.metadata["cascade"]``; ``answer.usage`` shows both models' calls.

Config::

    [pilotfish]
    model = "qwen2.5-1.5b"          # the large model (the routed one) unless `large` is set
    plugins = ["cascade"]

    [pilotfish.plugin.cascade]
    small = "smollm2-135m"
    threshold = -1.2                # mean token log-prob below which we escalate
"""

from __future__ import annotations

from typing import Any, Literal

from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.prompts import is_refusal
from pilotfish.core.types import Generation, Message, Request


def confidence(gen: Generation, signal: str) -> float | None:
    if not gen.logprobs:
        return None
    if signal == "min_logprob":
        return min(gen.logprobs)
    return sum(gen.logprobs) / len(gen.logprobs)


class Cascade(Plugin):
    """``generate`` strategy: small model first, escalate on low confidence."""

    name = "cascade"

    class Options(PluginOptions):
        small: str = "smollm2-135m"
        large: str | None = None
        """The model to escalate to; default the routed model."""
        threshold: float = -1.2
        signal: Literal["mean_logprob", "min_logprob"] = "mean_logprob"
        use_verifiers: bool = False
        """Also escalate when an enabled verifier fails the small model's answer, judged against the
        passages the prompt showed (``request.documents``)."""
        escalate_refusals: bool = True
        """Escalate when the small model refuses ("I cannot answer this from the sources."): a small
        model often misses an answer that is there; the large model's refusal is final."""

    @hookimpl
    def generate(self, request: Request, messages: list[Message], model: Any, on_token: Any, pilot: Any) -> Generation:
        small = pilot.get_model(self.options.small)
        large = pilot.get_model(self.options.large) if self.options.large else model
        p = request.params
        kwargs = dict(max_tokens=p.get("max_tokens", 256), temperature=p.get("temperature", 0.0),
                      top_p=p.get("top_p", 1.0), stop=p.get("stop") or None, seed=p.get("seed"))
        if small is large:
            return large.generate(messages, on_token=on_token, **kwargs)
        first = small.generate(messages, **kwargs)
        score = confidence(first, self.options.signal)
        reasons = []
        if score is None:
            reasons.append("no log-probs from the small model")
        elif score < self.options.threshold:
            reasons.append(f"{self.options.signal} {score:.3f} < {self.options.threshold}")
        if self.options.escalate_refusals and not reasons and is_refusal(first.text):
            reasons.append("the small model refused")
        if self.options.use_verifiers and not reasons:
            verdicts = pilot.hooks.verify(request, first.text, list(request.documents), pilot)
            failed = [v for v in verdicts if not v.passed]
            if failed:
                reasons.append(f"{len(failed)} verdict(s) failed")
        decision = {"small": small.model_id, "large": large.model_id, "confidence": score,
                    "threshold": self.options.threshold, "escalated": bool(reasons), "reason": "; ".join(reasons)}
        if not reasons:
            if on_token is not None and first.text:
                on_token(first.text)
            first.metadata["cascade"] = decision
            return first
        second = large.generate(messages, on_token=on_token, **kwargs)
        second.metadata["cascade"] = decision
        return second

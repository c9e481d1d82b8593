"""A causal LM as the claim judge: P(yes) against P(no) for "is this claim supported by the sources?".

The large model judges well (Qwen2.5-1.5B: AUROC 0.94 supported-vs-not on the 105 BBC dev claims, where
the trained MiniLM verifier reaches 0.86) but slowly, so the prompt is built to cost little: it opens
with the answer's own prompt up to and including the sources (:func:`pilotfish.core.prompts.judge_messages`),
and a llama.cpp model runs each claim as a one-step job in the sequence whose cache already holds that
prefix, so only the claim's few tokens are computed.

It lives in the host because two areas use it: the ``entailment`` verifier (``model = "qwen2.5-1.5b"``)
and the data tools, whose ``synthesize claims`` labels training claims with the same judge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pilotfish.core.errors import WhiteBoxRequiredError
from pilotfish.core.prompts import judge_messages
from pilotfish.core.types import Document, Request

YES = ("Yes", "yes", "YES")
NO = ("No", "no", "NO")


def _first_ids(model: Any, words: Sequence[str]) -> list[int]:
    ids = set()
    for w in words:
        toks = model.encode(w)
        if toks:
            ids.add(int(toks[0]))
    return sorted(ids)


class LLMJudge:
    """Judges claims (or any yes/no question) with a white-box causal LM (any model with ``first_token_logprobs``)."""

    def __init__(self, model: Any):
        if not getattr(model, "white_box", False):
            raise WhiteBoxRequiredError("entailment (LLM judge)", model)
        self.model = model
        self.yes = _first_ids(model, YES)
        self.no = _first_ids(model, NO)

    def p_supported(self, request: Request, documents: Sequence[Document], claims: Sequence[str]) -> list[float]:
        """P(yes) / (P(yes) + P(no)) of the first answer token, per claim."""
        return [self.p_yes(judge_messages(request, documents, claim)) for claim in claims]

    def p_yes(self, prompt: Any) -> float:
        """P(yes) / (P(yes) + P(no)) of the first answer token to any yes/no ``prompt`` (messages or text)."""
        logp = self.model.first_token_logprobs(prompt)
        yes = _logsumexp([float(logp[i]) for i in self.yes])
        no = _logsumexp([float(logp[i]) for i in self.no])
        return 1.0 / (1.0 + math.exp(no - yes))


def _logsumexp(values: Sequence[float]) -> float:
    m = max(values)
    return m + math.log(sum(math.exp(v - m) for v in values))

"""Draft sources for speculative decoding on a llama.cpp target (:mod:`.spec_loop` verifies them).

A drafter proposes up to ``k`` target-vocabulary tokens to follow ``context`` (the prompt ids plus the
tokens accepted so far) and, when it sampled them from a known distribution over the target's vocabulary,
that distribution per token (``q``, for the ``min(1, p/q)`` acceptance rule); ``q = None`` means the
proposal is treated as fixed, which keeps rejection sampling exact for any proposal.

- :class:`LookupDrafter`: prompt lookup. The longest n-gram (``ngram_max`` down to ``ngram_min`` tokens)
  that ends the context is looked up in the prompt and the text generated so far, and the tokens that
  followed its latest earlier occurrence are proposed. Free to compute; an index of n-grams is kept up to
  date as the context grows.
- :class:`ModelDrafter`: a small white-box model with the same vocabulary drafts greedily (or samples, with
  its ``q``) in its own KV cache, which follows the accepted tokens by prefix match.
- :class:`RetokenizedDrafter`: a small model with another tokenizer (Universal Assisted Generation): the
  target's text so far is re-tokenised for the draft, the draft writes text greedily, and that text is
  re-tokenised for the target at the boundary (the last few target tokens are encoded together with the
  draft text, so a word split across the boundary is tokenised as the target would).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from pilotfish.core.types import Message


def softmax(row: np.ndarray, temperature: float = 1.0, top_p: float = 1.0) -> np.ndarray:
    """The sampling distribution of a logits row (what the llama.cpp backend's sampler draws from)."""
    z = row.astype(np.float64) / max(temperature, 1e-6)
    p = np.exp(z - z.max())
    p /= p.sum()
    if top_p < 1.0:
        order = np.argsort(-p)
        sorted_p = p[order]
        keep = np.cumsum(sorted_p) - sorted_p < top_p
        p = np.zeros_like(p)
        p[order[keep]] = sorted_p[keep]
        p /= p.sum()
    return p


class LookupDrafter:
    """Prompt-lookup drafts: what followed the latest earlier occurrence of the context's last n-gram."""

    name = "lookup"
    free = True
    """Proposing costs nothing: the loop looks at what is available, then picks the length."""
    cost_per_token_s = 0.0

    def __init__(self, ngram_min: int = 2, ngram_max: int = 4):
        self.ngram_min, self.ngram_max = ngram_min, ngram_max
        self._tokens: list[int] = []
        self._index: dict[tuple[int, ...], int] = {}
        """n-gram -> where the tokens after its latest occurrence start."""

    def _update(self, context: Sequence[int]) -> None:
        n_old = len(self._tokens)
        if context[:n_old] != self._tokens:  # not an extension: start again
            self._tokens, self._index, n_old = [], {}, 0
        self._tokens.extend(context[n_old:])
        toks = self._tokens
        # an n-gram ending at position p (followed by p + 1) is indexed once p + 1 exists
        for p in range(max(n_old - 1, 0), len(toks) - 1):
            for n in range(self.ngram_min, self.ngram_max + 1):
                if p + 1 >= n:
                    self._index[tuple(toks[p + 1 - n: p + 1])] = p + 1

    def propose(self, context: Sequence[int], k: int, temperature: float = 0.0) -> tuple[list[int], None]:
        self._update(context)
        toks = self._tokens
        for n in range(self.ngram_max, self.ngram_min - 1, -1):
            if len(toks) <= n:
                continue
            start = self._index.get(tuple(toks[-n:]))
            if start is not None:
                return toks[start: start + k], None
        return [], None


class ModelDrafter:
    """A small white-box model with the target's vocabulary drafts token ids directly."""

    free = False

    def __init__(self, draft: Any, target: Any, confidence: float = 0.3):
        self.draft, self.target, self.confidence = draft, target, confidence
        self.name = draft.model_id
        self.cost_per_token_s = 0.0
        self._rng = np.random.default_rng(0)

    def seed(self, seed: int | None) -> None:
        self._rng = np.random.default_rng(seed)

    def _logits(self, ids: Sequence[int]) -> np.ndarray:
        t0 = time.perf_counter()
        row = self.draft.next_token_logits(ids)[0]
        row = row.numpy() if hasattr(row, "numpy") else np.asarray(row)
        dt = time.perf_counter() - t0
        self.cost_per_token_s = dt if not self.cost_per_token_s else 0.8 * self.cost_per_token_s + 0.2 * dt
        n = self.target.vocab_size
        return row[:n] if len(row) >= n else np.concatenate([row, np.full(n - len(row), -np.inf, dtype=row.dtype)])

    def propose(self, context: Sequence[int], k: int, temperature: float = 0.0,
                top_p: float = 1.0) -> tuple[list[int], list[np.ndarray] | None]:
        ids = list(context)
        out: list[int] = []
        qs: list[np.ndarray] = []
        for _ in range(k):
            row = self._logits(ids + out)
            if temperature > 0:
                q = softmax(row, temperature, top_p)
                token = int(self._rng.choice(len(q), p=q))
                qs.append(q)
            else:
                q = softmax(row)
                token = int(np.argmax(row))
                if out and q[token] < self.confidence:  # the draft is unsure: stop here
                    break
            out.append(token)
            if self.draft.is_eog(token):
                break
        return out, (qs if temperature > 0 else None)


class RetokenizedDrafter:
    """A small model with another tokenizer: text crosses the boundary, re-tokenised each way."""

    free = False
    overlap = 3
    """Target tokens re-encoded together with the draft's text, so a word split at the boundary tokenises
    as the target's own tokenizer would."""

    def __init__(self, draft: Any, target: Any, messages: list[Message], prompt_len: int, confidence: float = 0.3):
        self.draft, self.target, self.confidence = draft, target, confidence
        self.name = draft.model_id
        self.cost_per_token_s = 0.0
        self._prompt = draft.prompt_ids(messages)
        self._prompt_len = prompt_len

    def propose(self, context: Sequence[int], k: int, temperature: float = 0.0) -> tuple[list[int], None]:
        out = list(context[self._prompt_len:])
        done_text = self.target.decode(out)
        ids = self._prompt + (self.draft.encode(done_text) if done_text else [])
        new: list[int] = []
        # the draft's tokens are shorter than the target's on average (SmolLM2 49k vs Qwen 152k vocabulary)
        for _ in range(k + 2):
            t0 = time.perf_counter()
            row = self.draft.next_token_logits(ids + new)[0]
            row = row.numpy() if hasattr(row, "numpy") else np.asarray(row)
            dt = time.perf_counter() - t0
            self.cost_per_token_s = dt if not self.cost_per_token_s else 0.8 * self.cost_per_token_s + 0.2 * dt
            token = int(np.argmax(row))
            if self.draft.is_eog(token):
                break
            if new and softmax(row)[token] < self.confidence:
                break
            new.append(token)
        if not new:
            return [], None
        text = self.draft.decode(new)
        tail = out[-self.overlap:]
        enc = self.target.encode(self.target.decode(tail) + text) if tail else self.target.encode(text)
        if enc[: len(tail)] != tail:  # the boundary tokenises differently: keep what the target can use
            return [], None
        drafted = enc[len(tail):]
        return drafted[: max(len(drafted) - 1, 0)][:k], None  # the last one may be a word cut short

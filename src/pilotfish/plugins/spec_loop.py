"""Speculative decoding on a llama.cpp target: verify drafted tokens in one pass, roll back, adapt.

Each step a drafter (:mod:`.spec_drafts`) proposes tokens; the target scores all of them in one batched
forward pass (``position_logits``: the prompt and accepted tokens are already in its KV cache, so only the
draft and the last accepted token are computed), and the cache is rolled back past the first rejection by
the next pass's prefix match (``llama_memory_seq_rm``).

- Greedy: a drafted token is kept while it equals the target's own argmax; the target's token at the first
  mismatch (or after the last drafted token) is added. The output is the target's greedy output.
- Sampling: rejection sampling (Leviathan et al., Chen et al.). Drafted token ``x`` is kept with probability
  ``min(1, p(x)/q(x))`` (``q`` one-hot, i.e. ``p(x)``, when the drafter gives no distribution); at the first
  rejection the token is drawn from ``max(0, p - q)`` renormalised. The output distribution is the target's
  (temperature and top-p included).

Exactness: llama.cpp's CPU matrix kernels change with the number of tokens in a pass, and with them the
rounding. On Qwen2.5-1.5B Q4_K_M a pass over up to 7 tokens gives logits bitwise equal to one-token passes;
from 8 tokens on another kernel runs (the only one that makes a pass cheaper per token: ~20 ms/token at 16
vs ~47 ms at 1) and logits move by up to ~0.6, enough to flip a near-tie. With ``exact=True`` (the default)
no pass verifies more positions than :func:`exact_batch` found bitwise equal to one-token passes, so greedy
output is the target's own token for token; ``exact=False`` allows up to ``k_max + 1`` positions (faster,
and near-ties may break the other way).

The draft length adapts (:class:`DraftPolicy`): it keeps an acceptance rate (a moving average of accepted /
drafted) and the measured cost of a verification pass per number of positions (on a CPU a pass over a few
tokens costs nearly as many one-token passes; past ~6 tokens it flattens), and drafts the length that
maximises expected tokens per second, or nothing when no length beats a plain step.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from pilotfish.core.models import apply_stop, current_usage, emit_stable
from pilotfish.core.types import Generation, Message

from .spec_drafts import softmax

PRIOR_COST = {1: 1.0, 2: 2.0, 3: 3.0, 4: 3.8, 6: 5.0, 8: 5.5, 12: 6.0, 16: 6.5, 24: 9.5, 32: 12.5}
"""A pass over n positions in one-position passes, before this process has measured its own (Qwen2.5-1.5B
Q4_K_M on one CPU thread, measured for issue 16)."""


class DraftPolicy:
    """Chooses the draft length from the acceptance rate and the measured cost of verification passes."""

    def __init__(self, target: Any, k_max: int = 15, prior_rate: float = 0.6, key: str = ""):
        self.costs: dict[int, float] = self._store(target, "_spec_pass_costs")
        """Seconds per pass by positions verified, per model: they carry over from one answer to the next."""
        self._rates: dict[str, float] = self._store(target, "_spec_rates")
        """The acceptance rate per draft source, per model (what one answer learns, the next one uses)."""
        self.k_max, self.prior_rate, self.key = k_max, prior_rate, key
        self.rate = self._rates.get(key, prior_rate)

    @staticmethod
    def _store(target: Any, name: str) -> dict:
        store = getattr(target, name, None)
        if store is None:
            store = {}
            try:
                setattr(target, name, store)
            except AttributeError:
                pass
        return store

    def remember(self) -> None:
        self._rates[self.key] = self.rate

    def cost(self, n: int) -> float:
        """Seconds of a pass over ``n`` positions: measured, else the prior shape scaled by the measured one-position pass."""
        if n in self.costs:
            return self.costs[n]
        one = self.costs.get(1, 0.05)
        xs = sorted(PRIOR_COST)
        return one * float(np.interp(n, xs, [PRIOR_COST[x] for x in xs]))

    def observe_pass(self, n: int, seconds: float) -> None:
        old = self.costs.get(n)
        self.costs[n] = seconds if old is None else 0.7 * old + 0.3 * seconds

    def observe_draft(self, drafted: int, accepted: int) -> None:
        if drafted:
            self.rate = 0.6 * self.rate + 0.4 * accepted / drafted

    def relax(self) -> None:
        """No draft this step: drift back towards the prior rate, so drafting is tried again later."""
        self.rate += 0.1 * (self.prior_rate - self.rate)

    def length(self, available: int, draft_cost_per_token: float = 0.0) -> int:
        """The draft length (0..available) with the most expected tokens per second."""
        best, best_value = 0, 1.0 / self.cost(1)
        for k in range(1, min(available, self.k_max) + 1):
            value = (1.0 + self.rate * k) / (self.cost(k + 1) + draft_cost_per_token * k)
            if value > best_value * 1.02:
                best, best_value = k, value
        return best


def exact_batch(target: Any, limit: int = 16) -> int:
    """The most positions one ``position_logits`` pass of ``target`` can score with logits bitwise equal to
    one-position passes (measured once per model on a short scratch sequence, then cached on it)."""
    cached = getattr(target, "_spec_exact_batch", None)
    if cached is not None:
        return int(cached)
    toks = target.encode("The quick brown fox jumps over the lazy dog by the river. " * 4)
    prefix, rest = toks[:8], toks[8: 8 + limit]
    target.position_logits(prefix, 1)
    singles = [target.position_logits(prefix + rest[:j], 1)[0] for j in range(len(rest))]
    best = 1
    for n in (16, 12, 8, 7, 6, 5, 4, 3, 2):
        if n > len(rest):
            continue
        target.position_logits(prefix, 1)
        rows = target.position_logits(prefix + rest[: n - 1], n)
        if all(np.array_equal(rows[j], singles[j]) for j in range(n)):
            best = n
            break
    try:
        target._spec_exact_batch = best
    except AttributeError:
        pass
    return best


def speculative_decode(target: Any, drafter: Any, messages: list[Message], params: dict[str, Any],
                       on_token: Any = None, k_max: int = 15, policy: DraftPolicy | None = None,
                       exact: bool = True) -> Generation:
    """Generate with ``target`` (a llama.cpp model: ``position_logits``) verifying ``drafter``'s tokens.
    ``exact``: verify at most as many positions per pass as give logits bitwise equal to plain decoding's."""
    if exact:
        k_max = min(k_max, exact_batch(target) - 1)
    ids = target.prompt_ids(messages)
    temperature = float(params.get("temperature", 0.0))
    top_p = float(params.get("top_p", 1.0))
    rng = np.random.default_rng(params.get("seed"))
    if hasattr(drafter, "seed"):
        drafter.seed(params.get("seed"))
    room = target.context_window - len(ids)
    max_new = min(int(params.get("max_tokens", 256)), max(room - k_max - 1, 0))
    stop = [s for s in (params.get("stop") or []) if s]
    holdback = max((len(s) for s in stop), default=1) - 1
    policy = policy or DraftPolicy(target, k_max, key=drafter.name)
    policy.k_max = min(policy.k_max, k_max)
    out: list[int] = []
    logprobs: list[float] = []
    drafted = accepted = passes = 0
    text, emitted, finish = "", 0, "length"
    start = time.perf_counter()
    while len(out) < max_new:
        left = max_new - len(out) - 1
        draft: list[int] = []
        qs = None
        if left > 0:
            if drafter.free:  # free: see what is available, then choose how much of it to verify
                cand, qs = drafter.propose(ids + out, min(k_max, left), temperature)
                draft = cand[: policy.length(len(cand))]
            else:
                want = policy.length(min(k_max, left), drafter.cost_per_token_s)
                if want:
                    draft, qs = drafter.propose(ids + out, want, temperature)
            draft = draft[:left]
        if not draft:
            policy.relax()
        t0 = time.perf_counter()
        rows = target.position_logits(ids + out + draft, len(draft) + 1)
        policy.observe_pass(len(draft) + 1, time.perf_counter() - t0)
        passes += 1
        new = _verify(rows, draft, qs, temperature, top_p, rng)
        drafted += len(draft)
        accepted += len(new) - 1
        policy.observe_draft(len(draft), len(new) - 1)
        done = False
        for j, token in enumerate(new):
            if target.is_eog(token):
                finish, done = "stop", True
                break
            row = rows[j].astype(np.float64)
            m = row.max()
            logprobs.append(float(row[token] - m - np.log(np.exp(row - m).sum())))
            out.append(token)
            full = target.decode(out)
            cut, hit = apply_stop(full, stop)
            if hit:
                text, finish, done = cut, "stop", True
                break
            text = full
            if len(out) >= max_new:
                done = True
                break
        if on_token:
            emitted = emit_stable(on_token, text, emitted, 0 if done else holdback)
        if done:
            break
    if on_token and len(text) > emitted:
        on_token(text[emitted:])
    latency = time.perf_counter() - start
    policy.remember()
    stats = {"draft": drafter.name, "exact": exact, "max_draft": k_max, "drafted": drafted, "accepted": accepted,
             "acceptance_rate": round(accepted / drafted, 3) if drafted else 0.0, "target_passes": passes,
             "tokens_per_s": round(len(out) / latency, 2) if latency > 0 else 0.0}
    usage = current_usage()
    if usage is not None:
        usage.record(target.model_id, len(ids), len(out), latency)
        usage.record_speculative(target.model_id, drafter.name, drafted, accepted, passes, len(out), latency)
    return Generation(
        text=text, model=target.model_id, tokens=[target.decode([t]) for t in out], logprobs=logprobs,
        prompt_tokens=len(ids), completion_tokens=len(out), finish_reason=finish, latency_s=latency,
        metadata={"speculative": stats},
    )


def _verify(rows: np.ndarray, draft: list[int], qs: list[np.ndarray] | None, temperature: float, top_p: float,
            rng: np.random.Generator) -> list[int]:
    """The tokens a verification pass yields: the accepted prefix of ``draft`` and one token of the target's."""
    new: list[int] = []
    if temperature == 0:
        for i, row in enumerate(rows):
            choice = int(np.argmax(row))
            new.append(choice)
            if i >= len(draft) or draft[i] != choice:
                break
        return new
    for i, x in enumerate(draft):
        p = softmax(rows[i], temperature, top_p)
        q = qs[i] if qs is not None else None
        ratio = p[x] if q is None else min(1.0, p[x] / max(q[x], 1e-30))
        if rng.random() < ratio:
            new.append(x)
            continue
        if q is None:
            residual = p.copy()
            residual[x] = 0.0
        else:
            residual = np.maximum(p - q, 0.0)
        total = residual.sum()
        new.append(int(rng.choice(len(p), p=residual / total)) if total > 0 else int(np.argmax(p)))
        return new
    p = softmax(rows[len(draft)], temperature, top_p)
    new.append(int(rng.choice(len(p), p=p)))
    return new

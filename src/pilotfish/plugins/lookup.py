"""Prompt-lookup speculative decoding on a model with ``position_logits`` (the llama.cpp backend).

The draft is free: the last few generated tokens are looked up in the prompt and in the text so far, and
the tokens that followed their latest earlier occurrence are proposed (Saxena's prompt lookup decoding;
llama.cpp's n-gram drafting). In RAG answers that copy names, numbers and phrases from the passages, such
drafts are often right. The target scores the drafted tokens in one forward pass
(``position_logits``), keeps the longest prefix that matches its own greedy choices plus its own next
token, and its KV cache is rolled back past the first rejection by the next call's prefix match. The
draft length adapts: it grows after a fully accepted draft and shrinks after a rejection.

Greedy only: the output is the target's own greedy choice at every position. (Scores computed for
several positions in one pass can differ in the last bits from one-position passes, so a near-tie could
in principle break the other way; the tests and the benchmark compare every output with plain decoding.)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from pilotfish.core.errors import PilotfishError
from pilotfish.core.models import apply_stop, current_usage, emit_stable
from pilotfish.core.types import Generation, Message


def lookup_draft(tokens: Sequence[int], k: int, ngram_max: int = 3, ngram_min: int = 1) -> list[int]:
    """Up to ``k`` tokens that followed the latest earlier occurrence of the longest n-gram ending ``tokens``."""
    n_tok = len(tokens)
    for n in range(ngram_max, ngram_min - 1, -1):
        if n_tok <= n:
            continue
        tail = list(tokens[-n:])
        for start in range(n_tok - n - 1, -1, -1):
            if list(tokens[start:start + n]) == tail:
                follow = list(tokens[start + n:start + n + k])
                if follow:
                    return follow
    return []


def lookup_generate(target: Any, messages: list[Message], params: dict[str, Any], on_token: Any = None,
                    k_start: int = 4, k_max: int = 10) -> Generation:
    if not hasattr(target, "position_logits"):
        raise PilotfishError(f"speculative lookup decoding needs a llama.cpp model; {target.model_id!r} has no "
                             "position_logits (use the transformers path: draft = 'hf:<id>')")
    if float(params.get("temperature", 0.0)) > 0:
        raise PilotfishError("speculative: draft = 'lookup' decodes greedily; set temperature = 0")
    ids = target.prompt_ids(messages)
    room = target.context_window - len(ids)
    max_new = min(int(params.get("max_tokens", 256)), max(room - k_max - 1, 0))
    stop = [s for s in (params.get("stop") or []) if s]
    holdback = max((len(s) for s in stop), default=1) - 1
    out: list[int] = []
    logprobs: list[float] = []
    drafted = accepted = passes = 0
    k = k_start
    text, emitted, finish = "", 0, "length"
    start = time.perf_counter()
    while len(out) < max_new:
        draft = lookup_draft(ids + out, min(k, max_new - len(out) - 1)) if max_new - len(out) > 1 else []
        rows = target.position_logits(ids + out + draft, len(draft) + 1)
        passes += 1
        drafted += len(draft)
        new: list[int] = []
        for i, row in enumerate(rows):
            choice = int(np.argmax(row))
            new.append(choice)
            if i < len(draft) and draft[i] == choice:
                continue
            break
        accepted += len(new) - 1
        k = min(k + 2, k_max) if draft and len(new) == len(draft) + 1 else max(1, k - 1)
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
    usage = current_usage()
    if usage is not None:
        usage.record(target.model_id, len(ids), len(out), latency)
    return Generation(
        text=text, model=target.model_id, tokens=[target.decode([t]) for t in out], logprobs=logprobs,
        prompt_tokens=len(ids), completion_tokens=len(out), finish_reason=finish, latency_s=latency,
        metadata={"speculative": {"draft": "lookup", "drafted": drafted, "accepted": accepted,
                                  "acceptance_rate": round(accepted / drafted, 3) if drafted else 0.0,
                                  "target_passes": passes,
                                  "tokens_per_s": round(len(out) / latency, 2) if latency > 0 else 0.0}},
    )

"""Edits that make a claim false: one fact of a supported claim changed (a number, a date, a name,
a negation or antonym, a cause or a causal link the context does not state).

Each edit is a pure function of (sentence, random generator, context keywords) and returns ``None``
when it does not apply; :data:`CONTRADICT` lists them by name for :func:`pilotfish.data.claims.synthesize`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

from .facts import (
    ANTONYM_OF,
    DAYS,
    MONTHS,
    NUMBER,
    YEAR,
    as_clause,
    end_sentence,
    entities,
    numbers,
    short_clause,
)

AUX_NEG = [(r"\b(is|was|are|were|has|have|had|will|would|could|should|can|did|does|do|must|may)\b(?! not)", r"\1 not"),]


def _fmt_like(old: str, value: float) -> str:
    if "." in old and "," not in old:
        decimals = len(old.split(".")[1])
        return f"{value:.{decimals}f}"
    v = int(round(value))
    return f"{v:,}" if "," in old else str(v)


def change_number(s: str, rng: random.Random, *, context: str = "", in_context: float = 0.0, **_: object) -> str | None:
    """A number of ``s`` changed; with probability ``in_context`` to another number of ``context``
    (see :func:`pilotfish.data.claims.synthesize`)."""
    found = [m for m in NUMBER.finditer(s) if not YEAR.fullmatch(m.group(1))]
    if not found:
        return None
    m = rng.choice(found)
    old = m.group(1)
    x = float(old.replace(",", ""))
    if context and in_context > 0 and rng.random() < in_context:
        own = set(numbers(s))
        near = sorted({n for n in numbers(context) if not YEAR.fullmatch(n) and n not in own
                       and float(n.replace(",", "")) != x})
        if near:
            return s[:m.start(1)] + rng.choice(near) + s[m.end(1):]
    for _attempt in range(10):
        if x < 12 and "." not in old:
            new_v = float(rng.choice([v for v in range(1, 13) if v != x]))
        else:
            new_v = x * rng.choice([0.5, 0.6, 0.7, 0.75, 0.8, 1.2, 1.25, 1.3, 1.5, 2, 3]) + rng.choice([0, 1, -1])
        new = _fmt_like(old, max(new_v, 0))
        if new != old:
            return s[:m.start(1)] + new + s[m.end(1):]
    return None


def change_date(s: str, rng: random.Random, **_: object) -> str | None:
    options = []
    for m in YEAR.finditer(s):
        options.append((m.start(), m.end(), str(int(m.group(1)) + rng.choice([-3, -2, -1, 1, 2, 3]))))
    for names in (MONTHS, DAYS):
        for name in names:
            for m in re.finditer(rf"\b{name}\b", s):
                options.append((m.start(), m.end(), rng.choice([n for n in names if n != name])))
    if not options:
        return None
    a, b, new = rng.choice(options)
    return s[:a] + new + s[b:]


def swap_entity(s: str, rng: random.Random, *, pool: Sequence[str] = (), context: str = "",
                in_context: float = 0.0, **_: object) -> str | None:
    """A name of ``s`` swapped with one of ``pool``; with probability ``in_context`` with another
    name of ``context`` (see :func:`pilotfish.data.claims.synthesize`)."""
    ents = [e for e in entities(s) if e not in ("I",)]
    if not ents:
        return None
    old = rng.choice(ents)
    n = len(old.split())
    if context and in_context > 0 and rng.random() < in_context:
        near = [e for e in dict.fromkeys(entities(context)) if e not in s and old not in e and e not in old
                and abs(len(e.split()) - n) <= 1]
        if near:
            return s.replace(old, rng.choice(near), 1)
    cands = [e for e in pool if e != old and old not in e and e not in old and len(e.split()) == n and e not in s]
    cands = cands or [e for e in pool if e != old and old not in e and e not in old and abs(len(e.split()) - n) <= 1
                      and e not in s]
    if not cands:
        return None
    new = cands[0] if rng.random() < 0.5 else rng.choice(cands)
    return s.replace(old, new, 1)


def flip_negation(s: str, rng: random.Random, **_: object) -> str | None:
    # remove an existing negation first, it is the most natural error
    for pat, rep in ((r"\b(\w+) not\b", r"\1"), (r"\bn't\b", ""), (r"\bnever\b", "always"), (r"\bno longer\b", "still")):
        if re.search(pat, s) and rng.random() < 0.8:
            new = re.sub(pat, rep, s, count=1)
            if new != s:
                return re.sub(r"\bca\b", "can", re.sub(r"\bwo\b", "will", new))
    words = [w for w in re.findall(r"\b[a-z]+\b", s) if w in ANTONYM_OF]
    if words and rng.random() < 0.6:
        w = rng.choice(words)
        return re.sub(rf"\b{w}\b", ANTONYM_OF[w], s, count=1)
    pat, rep = AUX_NEG[0]
    if re.search(pat, s):
        return re.sub(pat, rep, s, count=1)
    if words:
        w = rng.choice(words)
        return re.sub(rf"\b{w}\b", ANTONYM_OF[w], s, count=1)
    return None


CAUSAL = ["because", "as", "since", "due to the fact that", "after", "so", "which is why", "which led to the fact that"]


def false_link(s: str, rng: random.Random, *, window: Sequence[str] = (), **_: object) -> str | None:
    """Two facts of the context tied by a causal link the context does not state ("A, because B"):
    a common relation error of LLM answers, where both facts are true and the link is not. The
    supported "joined" claims tie two context facts with a neutral connector, so the connector is
    what tells them apart."""
    base = s.strip().rstrip(".!?")
    if '"' in base or len(base.split()) > 30:
        return None
    base_words = set(base.lower().split())
    others = [w for w in window if w.strip() and w.strip().rstrip(".!?") not in base and base not in w]
    rng.shuffle(others)
    for sentence in others:
        clause = as_clause(sentence)
        words = set(clause.lower().split()) if clause else set()
        if clause and len(words & base_words) <= 0.5 * len(words) and not re.search(
                r"\b(because|since|due to|so that|as a result)\b", base + " " + clause):
            return end_sentence(f"{base}, {rng.choice(CAUSAL)} {clause}")
    return None


def change_cause(s: str, rng: random.Random, *, other: Sequence[str] = (), window: Sequence[str] = (), **_: object) -> str | None:
    if window and rng.random() < 0.6:
        linked = false_link(s, rng, window=window)
        if linked:
            return linked
    m = re.search(r"\b(because of|because|due to|after|as a result of|thanks to|following)\b\s+(.+?)([,.;]|$)", s)
    if m and other:
        clause = short_clause(rng.choice(list(other)))
        if clause:
            return s[:m.start(2)] + clause + s[m.end(2):]
    swaps = [("because of", "despite"), ("because", "although"), ("due to", "despite"), ("thanks to", "despite"),
             ("despite", "because of"), ("although", "because"), ("so that", "even though")]
    for a, b in swaps:
        if re.search(rf"\b{a}\b", s):
            return re.sub(rf"\b{a}\b", b, s, count=1)
    return false_link(s, rng, window=window) if window else None


CONTRADICT: list[tuple[str, Callable[..., str | None]]] = [
    ("number", change_number), ("date", change_date), ("entity", swap_entity), ("negation", flip_negation),
    ("cause", change_cause),
]


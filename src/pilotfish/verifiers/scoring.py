"""Claim-vs-passages scoring shared by the verifiers and the evaluation.

Long passages are cut into windows of whole sentences that fit the cross-encoder (with an
overlap of one sentence, so a fact spanning a boundary is seen whole once); each claim is
scored against its best few windows (chosen by content-word overlap, which is cheap and
recall-oriented) and all (claim, window) pairs go through the model in batches.

Aggregation, per claim: the window with the highest P(entailment) decides ``supported``
(>= ``threshold``); otherwise the claim is ``contradicted`` when the highest P(contradiction)
over its windows is at least the remaining (neutral) mass, else ``unsupported``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pilotfish.core.types import Document

from .claims import split_sentences
from .nli import CONTRADICTION, ENTAILMENT, NEUTRAL, NLIModel

_STOP = set(
    "a an the and or but if of to in on at by for with from as is are was were be been being it its this that these "
    "those he she they them his her their we you i not no so than then there here which who whom whose what when "
    "where why how has have had do does did will would can could should may might must also said says say".split()
)


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower()) if w not in _STOP}


def overlap(claim: str, passage: str) -> float:
    """Share of the claim's content words found in the passage (the lexical baseline)."""
    cw = content_words(claim)
    if not cw:
        return 0.0
    return len(cw & content_words(passage)) / len(cw)


@dataclass
class Window:
    text: str
    doc_index: int
    sentences: list[str]


@dataclass
class ClaimScore:
    """The scores of one claim: probabilities of the deciding window and the evidence found."""

    label: str
    p_supported: float
    p_contradicted: float
    p_unsupported: float
    evidence: str | None
    doc_index: int | None


def make_windows(documents: Sequence[Document | str], nli: NLIModel, max_tokens: int | None = None) -> list[Window]:
    """Cut passages into windows of whole sentences of at most ``max_tokens`` tokens."""
    budget = max_tokens or max(32, nli.max_length - 72)  # leave room for the claim
    windows: list[Window] = []
    for d, doc in enumerate(documents):
        text = doc.text if isinstance(doc, Document) else str(doc)
        if not text.strip():
            continue
        sents = [text[a:b] for a, b in split_sentences(text)] or [text]
        lens = [nli.count_tokens(s) for s in sents]
        if sum(lens) <= budget:
            windows.append(Window(" ".join(sents), d, sents))
            continue
        i = 0
        while i < len(sents):
            j, used = i, 0
            while j < len(sents) and (used + lens[j] <= budget or j == i):
                used += lens[j]
                j += 1
            windows.append(Window(" ".join(sents[i:j]), d, sents[i:j]))
            if j >= len(sents):
                break
            i = j - 1 if j - 1 > i else j  # one sentence of overlap
    return windows


def _evidence(claim: str, window: Window) -> str:
    return max(window.sentences, key=lambda s: overlap(claim, s)) if window.sentences else window.text


def score_claims(
    nli: NLIModel,
    claims: Sequence[str],
    documents: Sequence[Document | str],
    *,
    threshold: float = 0.5,
    max_windows: int = 4,
    window_tokens: int | None = None,
) -> list[ClaimScore]:
    """Score every claim against the passages (see the module docstring for the rule)."""
    return score_claim_groups(nli, [(claims, documents)], threshold=threshold, max_windows=max_windows,
                              window_tokens=window_tokens)[0]


def score_claim_groups(
    nli: NLIModel,
    groups: Sequence[tuple[Sequence[str], Sequence[Document | str]]],
    *,
    threshold: float = 0.5,
    max_windows: int = 4,
    window_tokens: int | None = None,
) -> list[list[ClaimScore]]:
    """:func:`score_claims` for several (claims, passages) groups, with one batched model pass for all."""
    pairs: list[tuple[int, int, int]] = []  # (group, claim, window)
    group_windows = []
    for g, (claims, documents) in enumerate(groups):
        windows = make_windows(documents, nli, window_tokens)
        group_windows.append(windows)
        for c, claim in enumerate(claims):
            ranked = sorted(range(len(windows)), key=lambda w: -overlap(claim, windows[w].text))
            pairs.extend((g, c, w) for w in ranked[:max_windows])
    probs = nli.predict([group_windows[g][w].text for g, _, w in pairs], [groups[g][0][c] for g, c, _ in pairs])
    per_claim: dict[tuple[int, int], list[tuple[int, list[float]]]] = {}
    for (g, c, w), p in zip(pairs, probs, strict=False):
        per_claim.setdefault((g, c), []).append((w, [float(x) for x in p]))
    out = []
    for g, (claims, _) in enumerate(groups):
        windows = group_windows[g]
        if not windows:
            out.append([ClaimScore("unsupported", 0.0, 0.0, 1.0, None, None) for _ in claims])
            continue
        scores = []
        for c, claim in enumerate(claims):
            rows = per_claim.get((g, c), [])
            w_e, p_e = max(rows, key=lambda r: r[1][ENTAILMENT])
            w_c, p_c = max(rows, key=lambda r: r[1][CONTRADICTION])
            if p_e[ENTAILMENT] >= threshold:
                label, w, p = "supported", w_e, p_e
            elif not nli.two_label and p_c[CONTRADICTION] >= 1.0 - p_e[ENTAILMENT] - p_c[CONTRADICTION]:
                label, w, p = "contradicted", w_c, p_c
            else:
                label, w, p = "unsupported", w_e, p_e
            scores.append(ClaimScore(
                label, p_e[ENTAILMENT], p_c[CONTRADICTION],
                max(0.0, 1.0 - p_e[ENTAILMENT] - p_c[CONTRADICTION]) if not nli.two_label else p[NEUTRAL],
                _evidence(claim, windows[w]), windows[w].doc_index))
        out.append(scores)
    return out

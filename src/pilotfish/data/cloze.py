"""Cloze training queries for the retrievers, built from a corpus' own passages (no labels, never the
dev sets):

- :func:`cloze_question`: a sentence with one answer (a number or a name) removed, a wh-word for its
  kind, some words paraphrased (:func:`pilotfish.data.rewrites.paraphrase_rules`), often a span of the
  headline or lead appended: a question the way people ask about a news story;
- :func:`cloze_pairs`: such questions with the passage holding the sentence and another passage of the
  **same article** (where first-stage misses are: the right article, the wrong passage); ``pilotfish
  train colbert`` and ``pilotfish train reranker`` train on them;
- :func:`inverse_cloze_pairs`: a sentence -> its passage without that sentence (``train colbert``).

Every maker is a pure function of (passages, random generator): the pairs are reproducible from the seed.
"""

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING

from .facts import entities
from .rewrites import paraphrase_rules

if TYPE_CHECKING:
    from pilotfish.retrievers.documents import Passage

_WH_NUMBER = [(re.compile(r"%|per ?cent"), "What percentage"), (re.compile(r"[£$€]|\b(?:bn|m|million|billion)\b"), "How much"),
              (re.compile(r"\b(?:19|20)\d\d\b"), "When")]
_STOP = set("a an the of to in on for and or but is was were be been by with at as from that this these those it its "
            "he she they his her their has have had will would could should said says also which who whom there "
            "than then not no into over after before about up out more most".split())
_CONTEXT_JOIN = ["when", "after", "as", "in the story where", "while", "because", "amid reports that", ","]


def _answer_span(sentence: str, rng: random.Random) -> tuple[str, str] | None:
    """A (answer, wh-phrase) in ``sentence``: a number (with its unit) or a named entity."""
    nums = list(re.finditer(r"[£$€]?\d[\d,.]*(?:%| ?per ?cent|bn|m\b| million| billion)?", sentence))
    ents = [e for e in entities(sentence) if not sentence.startswith(e)]
    options: list[tuple[str, str]] = []
    for m in nums:
        ans = m.group(0)
        wh = next((w for pat, w in _WH_NUMBER if pat.search(ans)), "How many")
        options.append((ans, wh))
    for e in ents:
        options.append((e, rng.choice(["Who", "Which", "What"])))
    return rng.choice(options) if options else None


def cloze_question(sentence: str, context: str, rng: random.Random) -> str | None:
    """A question-like query whose answer is in ``sentence``, the way people ask about a news story: the
    fact's words (some paraphrased, the answer removed) plus, often, words of the story's headline or
    lead (shared by every passage of the article, so they do not pick the passage)."""
    made = cloze_qa(sentence, context, rng)
    return made[0] if made else None


def cloze_qa(sentence: str, context: str, rng: random.Random) -> tuple[str, str] | None:
    """:func:`cloze_question` with its answer: ``(question, answer)``, the answer a span of ``sentence``
    (extractive reader training); the same random draws as :func:`cloze_question`."""
    span = _answer_span(sentence, rng)
    if span is None:
        return None
    answer, wh = span
    body = sentence.replace(answer, " ", 1)
    body = paraphrase_rules(body, rng) if rng.random() < 0.7 else body
    words = [w for w in re.findall(r"[\w'£$%-]+(?:[.,]\d+)*", body)]
    content = [w for w in words if w.lower() not in _STOP]
    if len(content) < 3:
        return None
    keep = max(3, int(len(words) * rng.uniform(0.5, 0.9)))
    if len(words) > keep:  # a contiguous part of the sentence around its content words
        start = rng.randrange(0, len(words) - keep + 1)
        words = words[start:start + keep]
    q = f"{wh} {' '.join(words)}"
    if context and rng.random() < 0.7:
        cwords = [w for w in re.findall(r"[\w'£$%-]+(?:[.,]\d+)*", context)]
        if cwords:
            n = min(len(cwords), rng.randint(3, 10))
            start = rng.randrange(0, len(cwords) - n + 1)
            q += f" {rng.choice(_CONTEXT_JOIN)} {' '.join(cwords[start:start + n])}"
    return re.sub(r"\s+", " ", q).strip(" ,") + "?", answer


def cloze_pairs(passages: list[Passage], n: int, rng: random.Random) -> list[tuple[str, Passage, Passage | None]]:
    """``n`` (question, passage holding the answer sentence, another passage of the same article)."""
    from pilotfish.retrievers.documents import split_sentences

    by_doc: dict[str, list[Passage]] = {}
    for p in passages:
        by_doc.setdefault(p.doc_id, []).append(p)
    docs = [d for d, ps in by_doc.items() if len(ps) >= 2]
    out: list[tuple[str, Passage, Passage | None]] = []
    tries = 0
    while docs and len(out) < n and tries < 5 * n:
        tries += 1
        ps = by_doc[rng.choice(docs)]
        p = rng.choice(ps)
        sents = [p.text[s:e] for s, e in split_sentences(p.text) if len(p.text[s:e].split()) >= 8]
        if not sents:
            continue
        sent = rng.choice(sents)
        context = f"{p.title or ''} {ps[0].text[:200]}" if rng.random() < 0.5 else (p.title or "")
        q = cloze_question(sent, context, rng)
        if q is None:
            continue
        others = [o for o in ps if sent not in o.text]
        # the article's lead passage first: it shares the headline's words with every question
        neg = ps[0] if ps[0] in others and rng.random() < 0.5 else (rng.choice(others) if others else None)
        out.append((q, p, neg))
    return out


def inverse_cloze_pairs(passages: list[Passage], n: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """Up to ``n`` (sentence, its passage without it, document id) pairs from ``n`` random passages of
    2+ sentences of 6+ words; one in ten keeps the sentence in the passage (Lee et al., 2019)."""
    from pilotfish.retrievers.documents import split_sentences

    out: list[tuple[str, str, str]] = []
    for p in rng.sample(passages, min(n, len(passages))):
        sents = [(s, e) for s, e in split_sentences(p.text) if len(p.text[s:e].split()) >= 6]
        if len(sents) < 2:
            continue
        s, e = rng.choice(sents)
        query = p.text[s:e]
        context = p.text if rng.random() < 0.1 else (p.text[:s] + p.text[e:]).strip()
        out.append((query, f"{p.title}. {context}" if p.title else context, p.doc_id))
    return out

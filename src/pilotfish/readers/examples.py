"""Training examples for the extractive reader: (question, passage, answer span or none).

- **Teacher questions** (``pilotfish synthesize questions``, Qwen2.5-1.5B, round-trip filtered): the
  question, its passage and the answer located as a character span of the passage (exactly, or word by
  word after normalisation); an unanswerable one is a no-answer example on its passage.
- **Hard negatives**: the same question on another passage of the **same article** that does not hold the
  answer (where a retriever's misses are), labelled no-answer, so the reader learns to abstain on the wrong
  passage rather than pick a plausible span.
- **Cloze questions** (:func:`pilotfish.data.cloze.cloze_qa`, no model): a sentence's number or name
  removed and asked for; cheap span-finding practice that the teacher's few hundred questions lack.

A reader sees a passage as the RAG prompt shows it (:func:`pilotfish.core.prompts.format_sources`):
``"<title>: <text>"`` unless the text starts with its title. :func:`context_of` builds the same string.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

_WORD = re.compile(r"\w+(?:[.,'’]\w+)*")
_ARTICLES = {"a", "an", "the"}


@dataclass
class QAExample:
    """One training or validation item. ``start`` is the answer's character offset in ``context``, or
    ``None`` when the passage does not answer the question."""

    question: str
    context: str
    answer: str
    start: int | None
    doc_id: str
    source: str
    """``teacher``, ``teacher-unanswerable``, ``teacher-negative``, ``cloze`` or ``cloze-negative``."""

    @property
    def end(self) -> int | None:
        return None if self.start is None else self.start + len(self.answer)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def context_of(text: str, title: str | None) -> tuple[str, int]:
    """The passage as the RAG prompt shows it, and where ``text`` starts inside it."""
    if title and not text.startswith(title):
        prefix = f"{title}: "
        return prefix + text, len(prefix)
    return text, 0


def _norm_words(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(0).lower().replace("’", "'"), m.start(), m.end()) for m in _WORD.finditer(text)]


def locate_answer(answer: str, text: str) -> tuple[int, int] | None:
    """The character span of ``answer`` in ``text``: exact (case-insensitive) first, then word by word
    (punctuation and case ignored, a leading article of the answer optional). ``None`` when absent."""
    answer = answer.strip().strip(".,;:").strip()
    if not answer:
        return None
    i = text.lower().find(answer.lower())
    if i >= 0:
        return i, i + len(answer)
    want = [w for w, _, _ in _norm_words(answer)]
    while want and want[0] in _ARTICLES:
        want = want[1:]
    if not want:
        return None
    words = _norm_words(text)
    n = len(want)
    for k in range(len(words) - n + 1):
        if [w for w, _, _ in words[k:k + n]] == want:
            return words[k][1], words[k + n - 1][2]
    return None


def _bucket(doc_id: str) -> float:
    """A stable number in [0, 1) per article (the validation split is by article, never by question)."""
    return int(hashlib.sha1(doc_id.encode()).hexdigest()[:8], 16) / 16 ** 8


def teacher_examples(records: Sequence[dict[str, Any]], passages_by_doc: dict[str, list[Any]] | None = None,
                     *, negatives: int = 1, seed: int = 0) -> tuple[list[QAExample], int]:
    """Examples from teacher records, plus ``negatives`` hard negatives per answerable question from
    ``passages_by_doc`` (doc id -> the article's passages, as ``pilotfish index`` cuts them). Returns the
    examples and how many answers could not be found in their passage (skipped)."""
    rng = random.Random(seed)
    out: list[QAExample] = []
    missed = 0
    for r in records:
        q, text, title, doc = str(r["question"]).strip(), str(r["passage"]), r.get("title"), str(r.get("doc_id", ""))
        context, shift = context_of(text, title)
        answer = str(r.get("answer") or "").strip()
        if not answer:
            out.append(QAExample(q, context, "", None, doc, "teacher-unanswerable"))
            continue
        span = locate_answer(answer, text)
        if span is None:
            missed += 1
            continue
        s, e = span
        out.append(QAExample(q, context, text[s:e], s + shift, doc, "teacher"))
        others = [p for p in (passages_by_doc or {}).get(doc, [])
                  if p.id != r.get("passage_id") and locate_answer(text[s:e], p.text) is None]
        for p in rng.sample(others, min(negatives, len(others))):
            out.append(QAExample(q, context_of(p.text, p.title)[0], "", None, doc, "teacher-negative"))
    return out, missed


def cloze_examples(passages: Sequence[Any], n: int, *, seed: int = 0, negative_share: float = 0.3) -> list[QAExample]:
    """Up to ``n`` cloze questions with their answer span, and for ``negative_share`` of them the same
    question on another passage of the article (no answer)."""
    from pilotfish.data.cloze import cloze_qa
    from pilotfish.retrievers.documents import split_sentences

    rng = random.Random(seed)
    by_doc: dict[str, list[Any]] = {}
    for p in passages:
        by_doc.setdefault(p.doc_id, []).append(p)
    docs = sorted(by_doc)
    out: list[QAExample] = []
    tries = 0
    while docs and len(out) < n and tries < 5 * n:
        tries += 1
        ps = by_doc[rng.choice(docs)]
        p = rng.choice(ps)
        sents = [(s, e) for s, e in split_sentences(p.text) if len(p.text[s:e].split()) >= 8]
        if not sents:
            continue
        s, e = rng.choice(sents)
        made = cloze_qa(p.text[s:e], p.title or "", rng)
        if made is None:
            continue
        q, answer = made
        answer = answer.strip().rstrip(".,")
        k = p.text.find(answer, s)
        if not answer or k < 0 or k >= e:
            continue
        context, shift = context_of(p.text, p.title)
        out.append(QAExample(q, context, answer, k + shift, p.doc_id, "cloze"))
        if rng.random() < negative_share:
            others = [o for o in ps if answer not in o.text]
            if others:
                o = rng.choice(others)
                out.append(QAExample(q, context_of(o.text, o.title)[0], "", None, p.doc_id, "cloze-negative"))
    return out


VAL_SHARE = 0.1  # the share of articles ``train_reader`` holds out by default


def held_out_article(doc_id: str, val_share: float = VAL_SHARE) -> bool:
    """Whether ``train_reader`` (at this ``val_share``) keeps this article out of training: the
    split depends on the article id only, so benchmarks can measure a reader on articles it never saw."""
    return _bucket(doc_id) < val_share


def split_by_article(examples: Sequence[QAExample], val_share: float) -> tuple[list[QAExample], list[QAExample]]:
    """Train / validation by article (every example of an article on one side)."""
    train = [x for x in examples if not held_out_article(x.doc_id, val_share)]
    val = [x for x in examples if held_out_article(x.doc_id, val_share)]
    return train, val

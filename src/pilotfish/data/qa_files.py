"""QA files from teacher questions: the input of ``pilotfish eval qa`` on synthesized questions.

``pilotfish synthesize questions`` writes reader questions about BBC passages (answerable ones with a
short answer span, unanswerable ones with an empty answer). ``eval qa`` takes the dev set's format:
``id``, ``question``, ``answer`` (empty: unanswerable), ``doc_id`` and ``evidence`` (the sentence of
``doc_id`` that holds the answer). :func:`teacher_qa_rows` converts one into the other: the evidence is
the first sentence of the question's passage that contains the answer (normalised, as ``eval qa``
scores); an answerable question whose answer is in no single sentence of its passage is dropped (it
would have no evidence to score citations against).

Used to collect records of which model answers which question right (``eval qa --records``), the
training data of the router; never on the dev set (the teacher questions exclude its articles).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pilotfish.core.errors import InputError

from .records import iter_jsonl


def read_teacher_questions(path: str | Path) -> list[dict[str, Any]]:
    """Teacher-question records from a JSONL file (one record a line, as ``synthesize questions --out``
    writes) or a state folder of ``shard-*.jsonl`` (each line ``{"records": [...], "report": ...}``)."""
    p = Path(path)
    files = sorted(p.glob("shard-*.jsonl")) if p.is_dir() else [p]
    if p.is_dir() and not files:
        raise InputError(f"{p}: no shard-*.jsonl files (expected a `synthesize questions --state-dir` folder)")
    out: list[dict[str, Any]] = []
    for f in files:
        for where, obj in iter_jsonl(f, "teacher questions"):
            records = obj["records"] if isinstance(obj.get("records"), list) else [obj]
            for rec in records:
                if not isinstance(rec, dict) or not str(rec.get("question", "")).strip():
                    raise InputError(f"{where}: a teacher question needs a non-empty 'question'")
                if not str(rec.get("passage", "")).strip():
                    raise InputError(f"{where}: teacher question {rec.get('id')!r} has no 'passage'")
                out.append(rec)
    if not out:
        raise InputError(f"{p}: no teacher questions")
    return out


def evidence_sentence(answer: str, passage: str) -> str | None:
    """The first sentence of ``passage`` that contains ``answer`` (both normalised as ``eval qa`` does)."""
    from pilotfish.evaluation.qa import normalize_answer
    from pilotfish.retrievers.documents import split_sentences

    gold = normalize_answer(answer)
    if not gold:
        return None
    for s, e in split_sentences(passage):
        if gold in normalize_answer(passage[s:e]):
            return " ".join(passage[s:e].split())
    return None


def teacher_qa_rows(records: Iterable[dict[str, Any]], *, sample: int | None = None, seed: int = 0,
                    exclude_docs: Sequence[str] = ()) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """QA rows for ``eval qa`` from teacher questions, and counts of what was kept and dropped.

    ``sample``: keep this many (a seeded random sample, in a stable order); ``exclude_docs``: doc ids never
    kept (e.g. an evaluation set's articles, when the questions were made without excluding them)."""
    excluded = set(exclude_docs)
    rows: list[dict[str, Any]] = []
    counts = {"read": 0, "answerable": 0, "unanswerable": 0, "no_evidence_sentence": 0, "excluded_doc": 0,
              "duplicate_question": 0}
    seen: set[str] = set()
    for rec in records:
        counts["read"] += 1
        question = " ".join(str(rec["question"]).split())
        doc_id = str(rec.get("doc_id") or "")
        if doc_id in excluded:
            counts["excluded_doc"] += 1
            continue
        if question.lower() in seen:
            counts["duplicate_question"] += 1
            continue
        answer = str(rec.get("answer") or "").strip()
        row: dict[str, Any] = {"id": str(rec.get("id") or f"q{counts['read']}"), "question": question,
                               "answer": answer, "doc_id": doc_id}
        if answer:
            evidence = evidence_sentence(answer, str(rec["passage"]))
            if evidence is None:
                counts["no_evidence_sentence"] += 1
                continue
            row.update(evidence=evidence, kind="teacher")
            counts["answerable"] += 1
        else:
            row.update(evidence="", kind="teacher-unanswerable")
            counts["unanswerable"] += 1
        row["source"] = {"passage_id": rec.get("passage_id"), "provenance": rec.get("provenance")}
        seen.add(question.lower())
        rows.append(row)
    if sample is not None and sample < len(rows):
        keep = set(random.Random(seed).sample(range(len(rows)), sample))
        rows = [r for i, r in enumerate(rows) if i in keep]
        counts["answerable"] = sum(bool(r["answer"]) for r in rows)
        counts["unanswerable"] = len(rows) - counts["answerable"]
    counts["kept"] = len(rows)
    return rows, counts

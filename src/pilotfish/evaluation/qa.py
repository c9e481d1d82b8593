"""End-to-end RAG evaluation on a QA file in the dev set's format.

Each line: ``question``, ``answer`` (empty or missing for an unanswerable question), ``doc_id`` and
``evidence`` (the sentence of ``doc_id`` that holds the answer), optionally ``id`` and ``kind``.

Metrics (the names are the keys of ``--json``):

- ``accuracy``: on answerable questions, the gold answer is contained in the answer, both normalised
  (lower case, punctuation and the articles a/an/the removed, whitespace collapsed);
- ``citation_precision``: of the ``[n]`` citations in answers to answerable questions, the share whose
  passage comes from ``doc_id`` and contains the evidence sentence (the retrieval evaluation's hit rule);
  ``cited`` is the share of those answers with at least one valid ``[n]``; with the ``recite`` plugin,
  ``citation_precision_unrecited`` is the same share for the model's own markers, before ``recite`` moved them;
- ``unanswerable_refused``: the share of unanswerable questions the pilot refused;
- ``latency_s_p50`` / ``latency_s_p95``: wall time of ``Pilot.run`` per question (retrieve, generate,
  verify, repair), after one untimed warm-up question;
- ``prompt_tokens_mean``: prompt tokens of the answer's final generation;
- ``by_model``: per model, the mean calls, prompt and completion tokens per answer, and how many final
  answers it wrote.
"""

from __future__ import annotations

import re
import statistics
import string
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pilotfish.core.errors import InputError

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans({c: " " for c in string.punctuation + "\u2018\u2019\u201c\u201d\u2013\u2014\u00a3$%"})
WARMUP_QUESTION = "What is this collection of documents about?"
_CITE = re.compile(r"\[(\d+)\]")


def normalize_answer(text: str) -> str:
    """SQuAD-style normalisation: lower case, no punctuation or articles, single spaces."""
    text = (text or "").lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _ws(text: str) -> str:
    return " ".join((text or "").split())


def load_qa(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a QA file; a clear error names the file and line of a bad row."""
    from pilotfish.data.records import iter_jsonl

    rows = []
    for where, row in iter_jsonl(path, "QA file"):
        if not str(row.get("question", "")).strip():
            raise InputError(f"{where}: each line needs a non-empty 'question'")
        if row.get("answer") and not (row.get("doc_id") and row.get("evidence")):
            raise InputError(f"{where}: an answerable question needs 'doc_id' and 'evidence' (for citation precision)")
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: no questions")
    return rows


def record_key(row: dict[str, Any]) -> str:
    """What identifies a question across a QA file and its records: the id, else the question."""
    return str(row.get("id") or row["question"].strip())


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """The records of an earlier ``--records`` file (to resume it)."""
    from pilotfish.data.records import iter_jsonl

    out = []
    for where, rec in iter_jsonl(path, "records file"):
        if not str(rec.get("question", "")).strip() or "usage" not in rec or "latency_s" not in rec:
            raise InputError(f"{where}: not a record of `pilotfish eval qa --records` (question, usage, latency_s)")
        out.append(rec)
    return out


def score_answer(row: dict[str, Any], answer: Any) -> dict[str, Any]:
    """One question's record: correctness, citations, refusal, tokens."""
    gold = str(row.get("answer") or "")
    text = answer.text or ""
    gen = answer.generation
    rec: dict[str, Any] = {
        "id": row.get("id"), "kind": row.get("kind"), "question": row["question"], "gold": gold or None,
        "text": text, "refused": bool(answer.refused), "latency_s": round(answer.latency_s, 3),
        "model": gen.model if gen is not None else (answer.route.model if answer.route else None),
        "prompt_tokens": gen.prompt_tokens if gen is not None else 0,
        "completion_tokens": gen.completion_tokens if gen is not None else 0,
        "usage": {m: {"calls": u.calls, "prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens}
                  for m, u in answer.usage.models.items()},
        "verdicts": [{"passed": v.passed, "label": v.label, "score": v.score} for v in answer.verdicts],
    }
    if gold:
        rec["correct"] = bool(normalize_answer(gold)) and normalize_answer(gold) in normalize_answer(text)
        cites, good = _citations(row, text, answer.documents)
        rec["citations"] = cites
        rec["citations_ok"] = good
        rec["cited"] = any(1 <= n <= len(answer.documents) for n in cites)
        recited = (gen.metadata.get("recite") or {}) if gen is not None else {}
        if recited.get("before") is not None:
            # the `recite` plugin moved citation markers: how the model's own ones would have scored
            rec["text_unrecited"] = str(recited["before"])
            rec["citations_ok_unrecited"] = _citations(row, rec["text_unrecited"], answer.documents)[1]
    return rec


def _citations(row: dict[str, Any], text: str, documents: Any) -> tuple[list[int], list[bool]]:
    """The ``[n]`` of ``text`` and, for each, whether passage n comes from the gold article and holds the evidence."""
    evidence = _ws(str(row.get("evidence", "")))
    cites = [int(n) for n in _CITE.findall(text)]
    good = []
    for n in cites:
        doc = documents[n - 1] if 1 <= n <= len(documents) else None
        good.append(doc is not None and doc.doc_id == row.get("doc_id") and evidence in _ws(doc.text))
    return cites, good


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in records if r.get("gold")]
    unanswerable = [r for r in records if not r.get("gold")]
    cites = [ok for r in answerable for ok in r["citations_ok"]]
    unrecited = [ok for r in answerable for ok in r.get("citations_ok_unrecited", r["citations_ok"])]
    latencies = [r["latency_s"] for r in records]
    by_model: dict[str, dict[str, float]] = {}
    n = len(records)
    for r in records:
        for m, u in r["usage"].items():
            d = by_model.setdefault(m, {"calls": 0.0, "prompt_tokens": 0.0, "completion_tokens": 0.0, "answers": 0})
            for key in ("calls", "prompt_tokens", "completion_tokens"):
                d[key] += u[key] / n
        if r["model"]:
            by_model.setdefault(r["model"], {"calls": 0.0, "prompt_tokens": 0.0, "completion_tokens": 0.0,
                                             "answers": 0})["answers"] += 1
    for d in by_model.values():
        for key in ("calls", "prompt_tokens", "completion_tokens"):
            d[key] = round(d[key], 2)

    def share(xs: Iterable[bool], total: int) -> float | None:
        return round(sum(xs) / total, 4) if total else None

    return {
        "n": n,
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "accuracy": share((r["correct"] for r in answerable), len(answerable)),
        "citation_precision": share(cites, len(cites)),
        **({"citation_precision_unrecited": share(unrecited, len(unrecited))} if any(
            "citations_ok_unrecited" in r for r in answerable) else {}),
        "cited": share((r["cited"] for r in answerable), len(answerable)),
        "unanswerable_refused": share((r["refused"] for r in unanswerable), len(unanswerable)),
        "answerable_refused": share((r["refused"] for r in answerable), len(answerable)),
        "latency_s_p50": round(statistics.median(latencies), 3) if latencies else None,
        "latency_s_p95": round(_percentile(latencies, 0.95), 3) if latencies else None,
        "prompt_tokens_mean": round(statistics.fmean(r["prompt_tokens"] for r in records), 1) if records else None,
        "by_model": by_model,
    }


def evaluate_qa(pilot: Any, rows: list[dict[str, Any]], warmup: bool = True,
                progress: Callable[[int, int, dict[str, Any]], None] | None = None,
                **run_kwargs: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run every question through ``pilot.run`` and score it: (summary, per-question records)."""
    if warmup and rows:
        # loads every model, not timed; a question of its own, so no evaluated prompt is already cached
        pilot.run(WARMUP_QUESTION, **run_kwargs)
    records = []
    for i, row in enumerate(rows, 1):
        start = time.perf_counter()
        answer = pilot.run(row["question"], **run_kwargs)
        rec = score_answer(row, answer)
        rec["latency_s"] = round(time.perf_counter() - start, 3)
        records.append(rec)
        if progress is not None:
            progress(i, len(rows), rec)
    return summarize(records), records


def print_progress(i: int, n: int, rec: dict[str, Any]) -> None:
    mark = ("refused" if rec["refused"] else "answered") if not rec.get("gold") else (
        "correct" if rec["correct"] else "wrong")
    print(f"[{i}/{n}] {rec['latency_s']:5.1f} s {mark:8s} {rec['text'][:80]!r}", file=sys.stderr, flush=True)


def format_report(report: dict[str, Any]) -> str:
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}%"

    lines = [
        f"questions: {report['n']} ({report['answerable']} answerable, {report['unanswerable']} unanswerable)",
        f"accuracy (gold answer contained):   {pct(report['accuracy'])}",
        f"citation precision:                 {pct(report['citation_precision'])}   "
        f"(answers with a valid [n]: {pct(report['cited'])})",
        *([f"  without recite (the model's own [n]): {pct(report['citation_precision_unrecited'])}"]
          if "citation_precision_unrecited" in report else []),
        f"unanswerable refused:               {pct(report['unanswerable_refused'])}   "
        f"(answerable refused: {pct(report['answerable_refused'])})",
        f"latency p50 / p95:                  {report['latency_s_p50']} / {report['latency_s_p95']} s",
        f"prompt tokens (mean):               {report['prompt_tokens_mean']}",
        "per answer, by model:",
    ]
    for m, d in report["by_model"].items():
        lines.append(f"  {m}: {d['calls']} calls, {d['prompt_tokens']} prompt + {d['completion_tokens']} "
                     f"completion tokens; wrote {d['answers']} answers")
    return "\n".join(lines)

"""Retrieval evaluation: recall@1/3/10, MRR@10, by kind, latency, passage statistics.

A query is a hit at k when one of the top-k passages comes from its ``doc_id`` and contains its
``evidence`` sentence (whitespace-normalised). Unanswerable queries (``doc_id`` null, or neither an
``answer`` nor an ``evidence``: a ``pilotfish synthesize qa-file`` unanswerable row) are not
counted in the recall metrics (they are timed). Latency is measured per query through the whole
retrieval path of the pilot (retrieve, fusion, rerank) after one warm-up query.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pilotfish.core.errors import InputError
from pilotfish.core.types import Document

from .documents import normalize_ws

KS = (1, 3, 10)


def load_queries(path: str | Path) -> list[dict[str, Any]]:
    from pilotfish.data.records import iter_jsonl

    rows = []
    for where, row in iter_jsonl(path, "queries file"):
        if not str(row.get("question", "")).strip():
            raise InputError(f"{where}: each line needs a non-empty 'question'")
        if not row.get("answer") and not row.get("evidence"):
            row = {**row, "doc_id": None}  # unanswerable (`synthesize qa-file` keeps the topic's doc_id)
        if row.get("doc_id") is not None and not row.get("evidence"):
            raise InputError(f"{where}: an answerable query needs 'evidence'")
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: no queries")
    return rows


def hit_rank(docs: list[Document], doc_id: str, evidence: str) -> int | None:
    ev = normalize_ws(evidence)
    for rank, d in enumerate(docs, start=1):
        if d.doc_id == doc_id and ev in normalize_ws(d.text):
            return rank
    return None


def _metrics(ranks: list[int | None]) -> dict[str, Any]:
    n = len(ranks)
    if not n:
        return {"n": 0}
    out: dict[str, Any] = {"n": n}
    for k in KS:
        out[f"recall@{k}"] = round(sum(1 for r in ranks if r is not None and r <= k) / n, 4)
    out["mrr@10"] = round(sum(1.0 / r for r in ranks if r is not None and r <= 10) / n, 4)
    return out


def evaluate(search: Callable[[str, int], list[Document]], queries: list[dict[str, Any]],
             passages: int = 0, mean_passage_words: float = 0.0, k: int = 10) -> dict[str, Any]:
    """Run every query through ``search(question, k)`` and compute the report (the ``--json`` keys)."""
    if queries:
        search(queries[0]["question"], k)  # warm-up (models, caches)
    latencies: list[float] = []
    cpu: list[float] = []
    ranks: list[int | None] = []
    by_kind: dict[str, list[int | None]] = {}
    details = []
    for q in queries:
        t0, c0 = time.perf_counter(), time.process_time()
        docs = search(q["question"], k)
        latencies.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        if q.get("doc_id") is None:
            continue
        r = hit_rank(docs[:10], q["doc_id"], q["evidence"])
        ranks.append(r)
        by_kind.setdefault(str(q.get("kind") or "default"), []).append(r)
        details.append({"id": q.get("id"), "rank": r, "top": [d.id for d in docs[:3]]})
    lat = sorted(latencies)
    report = _metrics(ranks)
    report.pop("n", None)
    report.update({
        "queries": len(queries),
        "answerable": len(ranks),
        "by_kind": {kind: _metrics(rs) for kind, rs in sorted(by_kind.items())},
        "latency_ms_p50": round(statistics.median(lat), 2),
        "latency_ms_p95": round(lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))], 2),
        "cpu_ms_p50": round(statistics.median(cpu), 2),
        "passages": passages,
        "mean_passage_words": round(mean_passage_words, 1),
        "details": details,
    })
    return report


def format_report(report: dict[str, Any], title: str = "retrieval") -> str:
    lines = [f"{title}: {report['answerable']} answerable of {report['queries']} queries, "
             f"{report['passages']} passages (mean {report['mean_passage_words']} words)"]
    lines.append(f"  {'':<14}{'n':>4} {'R@1':>7} {'R@3':>7} {'R@10':>7} {'MRR@10':>7}")
    rows = [("all", {**report, "n": report["answerable"]})] + list(report["by_kind"].items())
    for name, m in rows:
        if not m.get("n"):
            continue
        lines.append(f"  {name:<14}{m['n']:>4} {m['recall@1']:>7.3f} {m['recall@3']:>7.3f} "
                     f"{m['recall@10']:>7.3f} {m['mrr@10']:>7.3f}")
    lines.append(f"  latency p50 {report['latency_ms_p50']:.1f} ms, p95 {report['latency_ms_p95']:.1f} ms "
                 f"(process CPU time p50 {report['cpu_ms_p50']:.1f} ms)")
    return "\n".join(lines)

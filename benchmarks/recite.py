"""Citation precision with and without ``recite``, side by side on the same answers.

The README's RAG pilot (``--corpus bbc``: bm25 + dense, top 5, ``qwen2.5-1.5b``, ``recite``, ``entailment``,
``drop-unsupported``) answers the dev questions once; ``recite`` keeps the model's own text in
``Generation.metadata["recite"]``, so each answer's markers are scored twice: as the model wrote them (the
baseline, the large model alone) and as ``recite`` moved them. Same answers, same passages, one run.

    python benchmarks/recite.py [--queries FILE] [--limit N] [-p PLUGIN ...]
    python benchmarks/recite.py --records FILE     # the records of `pilotfish eval qa -p recite --records FILE`

Prints the two precisions, how many citations each kind of change made right or wrong, the time ``recite``
takes per answer, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from devdata import QA_DEV, dev_file


def run_eval(queries: str, limit: int | None, plugins: list[str]) -> list[dict[str, Any]]:
    from pilotfish.cli import pilot_for_command
    from pilotfish.evaluation.qa import evaluate_qa, load_qa, print_progress

    rows = load_qa(queries)[:limit]
    pilot = pilot_for_command(None, None, tuple(plugins), "bbc", None, None)  # --corpus adds recite
    _, records = evaluate_qa(pilot, rows, progress=print_progress)
    return records


def time_recite(n: int = 200) -> float:
    """Milliseconds per call of ``recite`` on a five-passage answer (the function alone, no model)."""
    from pilotfish.core.types import Document
    from pilotfish.verifiers.recite import recite

    docs = [Document(str(i), " ".join(f"word{i}{j}" for j in range(90)) + " Barry Nelson" * (i == 3))
            for i in range(5)]
    t0 = time.perf_counter()
    for _ in range(n):
        recite("It was Barry Nelson [1]. He played Bond [2].", "Who played Bond?", docs)
    return (time.perf_counter() - t0) / n * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", default=None, help=f"QA file (default: ../shared/data/{QA_DEV})")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("-p", "--plugin", action="append", default=[], help="more plugins, as in ask")
    ap.add_argument("--records", default=None, help="score these `eval qa -p recite --records` records instead")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    if args.records:
        records = [json.loads(line) for line in open(args.records, encoding="utf-8") if line.strip()]
    else:
        records = run_eval(str(dev_file(QA_DEV, args.queries)), args.limit, args.plugin)
    answerable = [r for r in records if r.get("gold")]
    own = [ok for r in answerable for ok in r.get("citations_ok_unrecited", r["citations_ok"])]
    final = [ok for r in answerable for ok in r["citations_ok"]]
    moved = [r for r in answerable if "citations_ok_unrecited" in r]
    fixed = sum(sum(r["citations_ok"]) - sum(r["citations_ok_unrecited"]) > 0 for r in moved)
    broken = sum(sum(r["citations_ok"]) - sum(r["citations_ok_unrecited"]) < 0 for r in moved)
    out = {
        "answers": len(records), "answerable": len(answerable),
        "citation_precision_model": round(sum(own) / len(own), 4) if own else None,
        "citation_precision_recite": round(sum(final) / len(final), 4) if final else None,
        "citations": len(final), "answers_recited": len(moved), "answers_fixed": fixed, "answers_broken": broken,
        "fixed_in_correct_answers": sum(1 for r in moved if r["correct"] and sum(r["citations_ok"]) >
                                        sum(r["citations_ok_unrecited"])),
        "accuracy": round(sum(r["correct"] for r in answerable) / len(answerable), 4) if answerable else None,
        "recite_ms_per_answer": round(time_recite(), 3), "load_average": round(load, 2),
    }
    if args.json:
        print(json.dumps(out))
        return
    print(f"{out['answerable']} answerable questions, {out['citations']} citations; load average {load:.2f}")
    print(f"{'markers':<28}{'citation precision':>20}")
    print(f"{'as the model wrote them':<28}{out['citation_precision_model']:>20.3f}")
    print(f"{'after recite':<28}{out['citation_precision_recite']:>20.3f}")
    print(f"answers re-cited: {len(moved)} (more right citations: {fixed}, of them correct answers: "
          f"{out['fixed_in_correct_answers']}; fewer: {broken}); accuracy unchanged: {out['accuracy']}")
    print(f"recite: {out['recite_ms_per_answer']} ms an answer", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Router benchmark: always cheap, always expensive, and the trained ``router`` at several thresholds.

Task: the BBC dev QA set end to end with retrieved passages (the README's RAG config: ``--corpus bbc``,
bm25 + dense, top 5; no verifier, which does not change the answers). Per row: accuracy on the
answerable questions (the gold answer contained, as ``pilotfish eval qa``), the share of unanswerable
questions refused, the share of questions sent to the expensive model, and seconds per question (the
chosen model's measured wall time plus the router's own time). "random" is the expected accuracy of
sending the same share of questions to the expensive model at random (RouteLLM's baseline); "oracle"
sends a question to the expensive model only when the expensive model alone is right (the fewest
expensive calls at the best accuracy there is).

Each model answers every question once, through ``Pilot.run``; the answers are cached in
``<temp>/router-bench/answers-<model>.jsonl`` (one line per question, written as it finishes), so a rerun,
a new router or new thresholds cost no generation. The routing decisions come from the real plugin
(``Router.decide``), timed per question.

    python benchmarks/router.py --router datasets/router-records/router --png docs/router.png
    python benchmarks/router.py --limit 10          # while developing
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from devdata import QA_DEV, dev_file, work_dir

REPO = Path(__file__).resolve().parents[1]


def answers(model: str, rows: list[dict[str, Any]], cache: Path, generate: bool = True) -> dict[str, dict[str, Any]]:
    """Each row's record for ``model`` (cached; missing ones generated and appended as they finish, unless
    ``generate`` is false)."""
    from pilotfish.cli import pilot_for_command
    from pilotfish.evaluation.qa import WARMUP_QUESTION, score_answer

    done: dict[str, dict[str, Any]] = {}
    if cache.is_file():
        for line in cache.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                done[rec["id"]] = rec
    todo = [r for r in rows if r["id"] not in done]
    if todo and generate:
        pilot = pilot_for_command(None, model, (), "bbc", None, False)
        pilot.run(WARMUP_QUESTION)
        cache.parent.mkdir(parents=True, exist_ok=True)
        with cache.open("a", encoding="utf-8") as f:
            for i, row in enumerate(todo, 1):
                start = time.perf_counter()
                rec = score_answer(row, pilot.run(row["question"]))
                rec["latency_s"] = round(time.perf_counter() - start, 3)
                f.write(json.dumps(rec) + "\n")
                f.flush()
                done[row["id"]] = rec
                print(f"  {model} [{i}/{len(todo)}] {rec['latency_s']:.1f} s", flush=True)
    return done


def right(rec: dict[str, Any]) -> bool:
    return bool(rec["correct"]) if rec.get("gold") else bool(rec["refused"])


def row_stats(name: str, to_cheap: list[bool], rows: list[dict[str, Any]], cheap: dict[str, Any],
              expensive: dict[str, Any], route_s: float) -> dict[str, Any]:
    chosen = [cheap[r["id"]] if c else expensive[r["id"]] for r, c in zip(rows, to_cheap, strict=True)]
    ans = [rec for rec in chosen if rec.get("gold")]
    una = [rec for rec in chosen if not rec.get("gold")]
    return {"config": name, "accuracy": sum(r["correct"] for r in ans) / len(ans) if ans else None,
            "refused": sum(r["refused"] for r in una) / len(una) if una else None,
            "right": sum(right(r) for r in chosen) / len(chosen),
            "expensive_share": 1 - sum(to_cheap) / len(to_cheap),
            "s_per_q": sum(r["latency_s"] for r in chosen) / len(chosen) + route_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", default=None, help=f"the BBC dev QA file (default: ../shared/data/{QA_DEV})")
    ap.add_argument("--router", default=str(REPO / "datasets" / "router-records" / "router"),
                    help="the router folder (pilotfish train router --out)")
    ap.add_argument("--cheap", default=None, help="default: the router's cheap model")
    ap.add_argument("--expensive", default=None, help="default: the router's expensive model")
    ap.add_argument("--shares", default="0.1,0.25,0.5,0.75,0.9",
                    help="router rows at the thresholds that send these shares of the router's own training "
                         "questions (--records-questions) to the expensive model: chosen without the dev set")
    ap.add_argument("--records-questions", default=str(REPO / "datasets" / "router-records" / "teacher-qa.jsonl"),
                    help="the questions the router's records were made on (for --shares)")
    ap.add_argument("--thresholds", default="", help="more router rows at these thresholds")
    ap.add_argument("--limit", type=int, default=None, help="the first N dev questions only")
    ap.add_argument("--cache", default=str(work_dir("router-bench")), help="folder of the cached answers")
    ap.add_argument("--png", default=None, help="plot accuracy against the share of expensive calls here")
    ap.add_argument("--cached-only", action="store_true", help="generate nothing: use the questions both models "
                    "already answered in the cache")
    ap.add_argument("--answers-only", action="store_true", help="fill the answer cache of --cheap and --expensive, "
                    "no router needed")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import os

    from pilotfish.evaluation.qa import load_qa
    from pilotfish.plugins.router import Router
    from pilotfish.plugins.router_model import load_router

    rows = load_qa(dev_file(QA_DEV, args.queries))[: args.limit]
    for i, r in enumerate(rows):
        r.setdefault("id", f"row-{i}")
    if args.answers_only:
        if not (args.cheap and args.expensive):
            ap.error("--answers-only needs --cheap and --expensive")
        for m in (args.cheap, args.expensive):
            answers(m, rows, Path(args.cache) / f"answers-{m}.jsonl")
        return
    model = load_router(args.router)
    cheap_id, exp_id = args.cheap or model.cheap, args.expensive or model.expensive
    print(f"{len(rows)} dev questions; cheap {cheap_id}, expensive {exp_id}; router {args.router} "
          f"(held-out AUROC {model.meta['heldout']['auroc']}, calibrated threshold {model.threshold}); "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    cheap = answers(cheap_id, rows, Path(args.cache) / f"answers-{cheap_id}.jsonl", not args.cached_only)
    expensive = answers(exp_id, rows, Path(args.cache) / f"answers-{exp_id}.jsonl", not args.cached_only)
    rows = [r for r in rows if r["id"] in cheap and r["id"] in expensive]
    if not rows:
        raise SystemExit("no dev question has cached answers of both models (drop --cached-only to generate them)")
    print(f"{len(rows)} questions answered by both", flush=True)

    plugin = Router(path=args.router, cheap=cheap_id, expensive=exp_id, threshold=0.5)
    plugin.decide("warm up")
    p, secs = [], []
    for r in rows:
        start = time.perf_counter()
        p.append(plugin.decide(r["question"]).scores["p_cheap_right"])
        secs.append(time.perf_counter() - start)
    route_s = sum(secs) / len(secs)

    n = len(rows)
    table = [row_stats(f"always cheap ({cheap_id})", [True] * n, rows, cheap, expensive, 0.0),
             row_stats(f"always expensive ({exp_id})", [False] * n, rows, cheap, expensive, 0.0)]
    import numpy as np

    from pilotfish.plugins.router_model import embed

    own = [r["question"] for r in load_qa(args.records_questions)]
    p_own = model.probabilities(embed(plugin.router()[1], own))
    named: dict[float, str] = {}
    for share in (float(x) for x in args.shares.split(",") if x.strip()):
        named.setdefault(round(float(np.quantile(p_own, share)), 4), f"{100 * share:.0f}% of its records expensive")
    for t in (float(x) for x in args.thresholds.split(",") if x.strip()):
        named.setdefault(t, "fixed")
    if model.meta.get("threshold_source") == "calibrate":
        named[model.threshold] = "calibrated: " + ", ".join(
            f"{k} {v}" for k, v in model.meta["calibration"].items() if k in ("target_accuracy",))
    for t in sorted(named):
        table.append(row_stats(f"router t={t:.3f} ({named[t]})", [x >= t for x in p], rows, cheap, expensive,
                               route_s))
    table.append(row_stats("oracle (cheap unless only expensive is right)",
                           [right(cheap[r["id"]]) or not right(expensive[r["id"]]) for r in rows], rows,
                           cheap, expensive, 0.0))
    base_c, base_e = table[0], table[1]
    for r in table:
        s = r["expensive_share"]
        r["random_accuracy"] = (1 - s) * base_c["accuracy"] + s * base_e["accuracy"] if base_c["accuracy"] is not None \
            else None

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:5.1f}%"

    print(f"\n{'config':58s} {'accuracy':>8} {'random':>7} {'refused':>8} {'expensive':>9} {'s/question':>10}")
    for r in table:
        print(f"{r['config']:58s} {pct(r['accuracy']):>8} {pct(r['random_accuracy']):>7} {pct(r['refused']):>8} "
              f"{pct(r['expensive_share']):>9} {r['s_per_q']:10.2f}")
    goal = [r for r in table if r["config"].startswith("router") and r["accuracy"] is not None
            and r["accuracy"] >= base_e["accuracy"] - 0.01 and r["expensive_share"] <= 0.5]
    print(f"\nrouter time {1000 * route_s:.1f} ms a question; load average {os.getloadavg()[0]:.2f}")
    print(f"goal (within 1 point of {exp_id}'s accuracy with at least 50% fewer {exp_id} calls, at a fixed or "
          f"calibrated threshold): {'met by ' + ', '.join(r['config'] for r in goal) if goal else 'not met'}")
    from sklearn.metrics import roc_auc_score

    y = [right(cheap[r["id"]]) for r in rows]
    auroc = roc_auc_score(y, p) if len(set(y)) == 2 else None
    print(f"router AUROC on these dev questions (P(cheap right) vs cheap right): "
          f"{'-' if auroc is None else f'{auroc:.3f}'}")
    if args.json:
        print(json.dumps({"rows": table, "auroc": auroc, "route_s": route_s, "n": n}))
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        u = np.unique(p)
        curve = [row_stats("", [x >= t for x in p], rows, cheap, expensive, 0.0)
                 for t in [0.0, *((u[:-1] + u[1:]) / 2).tolist(), 1.0]]
        curve.sort(key=lambda c: c["expensive_share"])
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot([100 * c["expensive_share"] for c in curve], [100 * c["accuracy"] for c in curve], "-",
                label="router, every threshold (chosen on dev: optimistic)")
        fixed = [r for r in table if r["config"].startswith("router")]
        ax.plot([100 * r["expensive_share"] for r in fixed], [100 * r["accuracy"] for r in fixed], "o",
                label="router at thresholds chosen without the dev set")
        ax.plot([0, 100], [100 * base_c["accuracy"], 100 * base_e["accuracy"]], "--", color="grey", label="random")
        ax.plot([0], [100 * base_c["accuracy"]], "s", label=f"always {cheap_id}")
        ax.plot([100], [100 * base_e["accuracy"]], "s", label=f"always {exp_id}")
        ax.axhline(100 * base_e["accuracy"] - 1, color="red", lw=0.6, label="goal: within 1 point")
        ax.axvline(50, color="red", lw=0.6, ls=":")
        ax.set_xlabel(f"share of questions sent to {exp_id} (%)")
        ax.set_ylabel("accuracy, answerable dev questions (%)")
        ax.set_title(f"router on {n} BBC dev questions (RAG)")
        ax.legend(fontsize=6.5, loc="upper left")
        fig.tight_layout()
        fig.savefig(args.png, dpi=110)
        print(f"plot written to {args.png}")


if __name__ == "__main__":
    main()

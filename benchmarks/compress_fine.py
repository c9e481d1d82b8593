"""The word-level step of ``compress``: the trained keep classifier (``lingua``, LLMLingua-2-style) against
the log-prob method (SmolLM2's per-word self-information, LLMLingua's), at the same ratio, side by side.

Two settings, on questions neither was trained on:

1. **own passage, judged by the large model**: held-out teacher questions (``--from-shard``, default 78: the
   shipped compressions were made from shards 0-77), each with the 100-word passage it was written from.
   Each scorer keeps 1/ratio of the words (the highest-scored ones, in order). Reported: the share whose
   answer string is still there, the large model's mean P(yes) that the kept words state the answer (the
   prompt of ``synthesize judgements``; ``--no-judge`` skips it), and the scorer's seconds per passage.
   Baselines: random words, and the first 1/ratio of the words.
2. **the pipeline** (``--pipeline``): the README's retrieval (top 5), then ``compress`` with MiniLM sentences
   and each fine step, on the same held-out teacher questions and on the answerable dev questions
   (``../shared/data/bbc-qa-dev.jsonl``): the answer still in the compressed passages.

    python benchmarks/compress_fine.py --ratios 2,3 --limit 80 --pipeline --png docs/compress_fine.png
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compress_kept import norm  # noqa: E402  (the same answer matching as the retention benchmark)

ROOT = Path(__file__).resolve().parents[1]
TEACHER = ROOT / "datasets" / "teacher-questions" / "state"
DEV = ROOT.parent / "shared" / "data" / "bbc-qa-dev.jsonl"


def held_out(from_shard: int, limit: int) -> list[dict[str, Any]]:
    out = []
    for shard in sorted(TEACHER.glob("shard-*.jsonl")):
        if int(shard.stem.split("-")[1]) < from_shard:
            continue
        for rec in json.loads(shard.read_text(encoding="utf-8"))["records"]:
            if rec.get("kind") == "answerable" and rec.get("answer") and norm(rec["answer"]) in norm(rec["passage"]):
                out.append(rec)
    return out[:limit]


def keep_top(words: list[str], scores: list[float], ratio: float) -> str:
    n = max(1, math.ceil(len(words) / ratio))
    top = set(sorted(range(len(words)), key=lambda i: -scores[i])[:n])
    return " ".join(w for i, w in enumerate(words) if i in top)


def own_passage(records: list[dict[str, Any]], ratios: list[float], judge_on: bool,
                lingua_id: str) -> dict[str, dict[str, list]]:
    from pilotfish.core.judge import LLMJudge
    from pilotfish.core.models import get_model
    from pilotfish.core.surprisal import word_surprisal
    from pilotfish.data.teacher import passage_message
    from pilotfish.data.teacher_judgements import ASK

    small, lingua = get_model("smollm2-135m"), get_model(lingua_id)
    judge = LLMJudge(get_model("qwen2.5-1.5b")) if judge_on else None
    rows: dict[str, dict[str, list]] = {}
    for qi, rec in enumerate(records, 1):
        q, passage = rec["question"], rec["passage"]
        scorers: dict[str, tuple[list[str], list[float], float]] = {}
        t = time.perf_counter()
        scored = word_surprisal(small, q, passage)
        scorers["log-prob (smollm2-135m)"] = ([w for w, _ in scored], [s for _, s in scored], time.perf_counter() - t)
        t = time.perf_counter()
        scored = lingua.keep_scores(q, [passage])[0]
        scorers["lingua (keep classifier)"] = ([w for w, _ in scored], [s for _, s in scored], time.perf_counter() - t)
        words = scorers["lingua (keep classifier)"][0]
        rng = random.Random(f"{qi}")
        scorers["random words"] = (words, [rng.random() for _ in words], 0.0)
        scorers["first words"] = (words, [-float(i) for i in range(len(words))], 0.0)
        for ratio in ratios:
            for name, (ws, scores, secs) in scorers.items():
                kept = keep_top(ws, scores, ratio)
                row = rows.setdefault(f"{name} {ratio:g}x", {"kept": [], "p_yes": [], "seconds": []})
                row["kept"].append(norm(rec["answer"]) in norm(kept))
                row["seconds"].append(secs)
                if judge is not None:
                    row["p_yes"].append(judge.p_yes(passage_message(kept, rec.get("title"), ASK.format(question=q))))
        if qi % 10 == 0:
            print(f"[own passage {qi}/{len(records)}] load {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)
    return rows


def pipeline(sets: dict[str, list[dict[str, str]]], ratios: list[float],
             lingua_id: str) -> dict[str, dict[str, dict[str, list]]]:
    from pilotfish.cli import build_pilot
    from pilotfish.plugins.compress import Compress
    from pilotfish.retrievers.cli import corpus_index

    pilot = build_pilot(None, None, (), index=str(corpus_index("bbc")))
    methods: dict[str, Any] = {}
    for r in ratios:
        methods[f"sentences only {r:g}x"] = Compress(ratio=r)
        methods[f"+ log-prob {r:g}x"] = Compress(ratio=r, fine="smollm2-135m")
        methods[f"+ lingua {r:g}x"] = Compress(ratio=r, fine=lingua_id)
    out: dict[str, dict[str, dict[str, list]]] = {}
    for set_name, questions in sets.items():
        stats = {m: {"kept": [], "ratio": [], "seconds": []} for m in methods}
        for q in questions:
            request = pilot.make_request(q["question"])
            docs = pilot.retrieve(request)
            if not any(norm(q["answer"]) in norm(d.text) for d in docs):
                continue
            encode = pilot.model_for(request).encode
            before = sum(len(encode(d.text)) for d in docs)
            for name, method in methods.items():
                t = time.perf_counter()
                got = method.compress(request, list(docs), pilot)
                stats[name]["seconds"].append(time.perf_counter() - t)
                stats[name]["kept"].append(any(norm(q["answer"]) in norm(d.text) for d in got))
                stats[name]["ratio"].append(before / max(1, sum(len(encode(d.text)) for d in got if d.text)))
        out[set_name] = stats
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ratios", default="2,3")
    ap.add_argument("--from-shard", type=int, default=78)
    ap.add_argument("--limit", type=int, default=80, help="held-out teacher questions, at most")
    ap.add_argument("--no-judge", action="store_true", help="skip the large model's P(yes)")
    ap.add_argument("--pipeline", action="store_true", help="also run the README retrieval + compress rows")
    ap.add_argument("--lingua", default="lingua", help="the keep classifier (default: the `lingua` id; or lingua:DIR)")
    ap.add_argument("--png", default=None)
    args = ap.parse_args()
    ratios = [float(x) for x in args.ratios.split(",")]
    records = held_out(args.from_shard, args.limit)
    load0 = os.getloadavg()[0]
    rows = own_passage(records, ratios, not args.no_judge, args.lingua)
    print(f"\n**own passage**: {len(records)} held-out teacher questions (shards >= {args.from_shard}), "
          f"load average {load0:.2f}-{os.getloadavg()[0]:.2f}")
    print("| scorer | answer kept | teacher P(yes) | scorer s/passage |")
    print("|---|---|---|---|")
    for name, r in rows.items():
        p = f"{statistics.fmean(r['p_yes']):.3f}" if r["p_yes"] else "-"
        print(f"| {name} | {sum(r['kept'])}/{len(r['kept'])} ({statistics.fmean(r['kept']):.2f}) | {p} | "
              f"{statistics.fmean(r['seconds']):.3f} |")
    piped: dict[str, Any] = {}
    if args.pipeline:
        from pilotfish.data.records import iter_jsonl

        dev = [{"question": r["question"], "answer": r["answer"]} for _, r in iter_jsonl(DEV) if r.get("answer")]
        teacher = [{"question": r["question"], "answer": r["answer"]} for r in records]
        piped = pipeline({"teacher (held out)": teacher, "dev": dev}, ratios, args.lingua)
        for set_name, stats in piped.items():
            n = len(next(iter(stats.values()))["kept"])
            print(f"\n**pipeline, {set_name}**: {n} questions with the answer in the top 5, "
                  f"load average {os.getloadavg()[0]:.2f}")
            print("| compress | answer kept | passage tokens fewer | compress s/q |")
            print("|---|---|---|---|")
            for name, s in stats.items():
                if s["kept"]:
                    print(f"| {name} | {sum(s['kept'])} ({statistics.fmean(s['kept']):.2f}) | "
                          f"{statistics.fmean(s['ratio']):.2f}x | {statistics.fmean(s['seconds']):.2f} |")
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        metric = "p_yes" if not args.no_judge else "kept"
        fig, ax = plt.subplots(figsize=(6, 4))
        for scorer in ("log-prob (smollm2-135m)", "lingua (keep classifier)", "random words", "first words"):
            ys = [statistics.fmean(rows[f"{scorer} {r:g}x"][metric]) for r in ratios]
            ax.plot(ratios, ys, marker="o", label=scorer)
        ax.set_xlabel("words kept: 1 / ratio")
        ax.set_ylabel("teacher P(yes): the kept words state the answer" if metric == "p_yes" else "answer kept")
        ax.set_title(f"{len(records)} held-out teacher questions, own passage")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.png, dpi=110)
        print(f"plot: {args.png}")


if __name__ == "__main__":
    main()

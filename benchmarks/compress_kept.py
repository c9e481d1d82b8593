"""Does the answer survive compression? No large model: the README's retrieval (top 5), then each compressor at
the same ratios, and how often the gold answer is still in what the large model would read.

Two question sets, side by side:

- **teacher (held out)**: the teacher's answerable questions on the articles the reader holds out of its
  training (``pilotfish.readers.examples.held_out_article``: 10% of the articles, chosen by id, whatever the
  data), outside the dev sets; the answer is a span of its passage. ``--from-shard N`` instead takes every
  question of shards N and later (for a reader trained on shards 0 to N-1 only, as in session 10).
- **dev**: the answerable BBC dev questions (``../shared/data/bbc-qa-dev.jsonl``); the gold answer string.

Only questions whose answer is in the 5 retrieved passages count (compression cannot keep what retrieval
missed). Rows: ``compress`` (MiniLM sentences), ``compress`` guided by the span reader (its best sentences
first, with and without the sentence before each), and the two same-budget baselines of
``benchmarks/compress.py`` (random whole sentences, truncation in rank order).

    python benchmarks/compress_kept.py --ratios 3,5 --png docs/compress_kept.png
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compress import SameBudget  # noqa: E402

from pilotfish.cli import build_pilot  # noqa: E402
from pilotfish.core.types import Document  # noqa: E402
from pilotfish.data.records import iter_jsonl  # noqa: E402
from pilotfish.plugins.compress import Compress  # noqa: E402
from pilotfish.retrievers.cli import corpus_index  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "data" / "bbc-qa-dev.jsonl"
TEACHER = ROOT / "datasets" / "teacher-questions" / "state"


def norm(text: str) -> str:
    return " ".join("".join(c.lower() if c.isalnum() else " " for c in text).split())


def teacher_questions(from_shard: int | None, limit: int) -> list[dict[str, str]]:
    from pilotfish.readers.examples import held_out_article

    out = []
    for shard in sorted(TEACHER.glob("shard-*.jsonl")):
        if from_shard is not None and int(shard.stem.split("-")[1]) < from_shard:
            continue
        for rec in json.loads(shard.read_text(encoding="utf-8"))["records"]:
            if from_shard is None and not held_out_article(rec["doc_id"]):
                continue
            if rec.get("answer") and rec.get("kind") == "answerable":
                out.append({"question": rec["question"], "answer": rec["answer"]})
    return out[:limit]


def dev_questions(limit: int) -> list[dict[str, str]]:
    return [{"question": r["question"], "answer": r["answer"]} for _, r in iter_jsonl(DEV) if r.get("answer")][:limit]


def holds(answer: str, docs: list[Document]) -> bool:
    gold = norm(answer)
    return bool(gold) and any(gold in norm(d.text) for d in docs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ratios", default="3,5")
    ap.add_argument("--from-shard", type=int, default=None,
                    help="teacher questions of these shards on (default: those on the reader's held-out articles)")
    ap.add_argument("--limit", type=int, default=200, help="questions per set, at most")
    ap.add_argument("--guide", default="reader", help="the span reader that guides the guided rows")
    ap.add_argument("--coarse", default="auto", help="the embedder of the compress rows' sentence ranking")
    ap.add_argument("--png", default=None)
    args = ap.parse_args()
    ratios = [float(x) for x in args.ratios.split(",")]
    pilot = build_pilot(None, None, (), index=str(corpus_index("bbc")))
    methods: dict[str, Any] = {}
    for r in ratios:
        methods[f"compress {r:g}x"] = Compress(ratio=r, coarse=args.coarse)
        methods[f"compress {r:g}x +reader"] = Compress(ratio=r, coarse=args.coarse, guide=args.guide, guide_top=2)
        methods[f"compress {r:g}x +reader +prev"] = Compress(ratio=r, coarse=args.coarse, guide=args.guide, guide_top=2,
                                                             previous=1)
        methods[f"truncate {r:g}x"] = SameBudget("truncate", r)
        methods[f"random {r:g}x"] = SameBudget("random", r)
    sets = {"teacher (held out)": teacher_questions(args.from_shard, args.limit), "dev": dev_questions(args.limit)}
    result: dict[str, dict[str, dict[str, list[float]]]] = {}
    loads = []
    for set_name, questions in sets.items():
        stats = {m: {"kept": [], "ratio": [], "seconds": []} for m in methods}
        usable = 0
        for qi, q in enumerate(questions, 1):
            request = pilot.make_request(q["question"])
            docs = pilot.retrieve(request)
            if not holds(q["answer"], docs):
                continue
            usable += 1
            encode = pilot.model_for(request).encode
            before = sum(len(encode(d.text)) for d in docs)
            for name, method in methods.items():
                start = time.perf_counter()
                out = method.compress(request, list(docs), pilot)
                stats[name]["seconds"].append(time.perf_counter() - start)
                after = sum(len(encode(d.text)) for d in out if d.text)
                stats[name]["kept"].append(holds(q["answer"], out))
                stats[name]["ratio"].append(before / max(1, after))
            if qi % 20 == 0:
                loads.append(os.getloadavg()[0])
                print(f"[{set_name} {qi}/{len(questions)}] load {loads[-1]:.2f} " + " ".join(
                    f"{n}:{sum(s['kept'])}" for n, s in stats.items()), file=sys.stderr, flush=True)
        result[set_name] = stats
        loads.append(os.getloadavg()[0])
        print(f"\n**{set_name}**: {usable} of {len(questions)} questions have the answer in the top 5")
        print("| method | answer kept | share | passage tokens fewer (mean) | compress s/q |")
        print("|---|---|---|---|---|")
        for name, s in stats.items():
            if s["kept"]:
                print(f"| {name} | {sum(s['kept'])} | {statistics.fmean(s['kept']):.2f} | "
                      f"{statistics.fmean(s['ratio']):.2f}x | {statistics.fmean(s['seconds']):.2f} |")
    print(f"\nload average {min(loads):.2f}-{max(loads):.2f}")
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(result), figsize=(5 * len(result), 4), squeeze=False)
        kinds = ["compress", "+reader", "+reader +prev", "truncate", "random"]
        for ax, (set_name, stats) in zip(axes[0], result.items(), strict=True):
            for kind in kinds:
                names = [n for n in stats if (n.endswith(kind) if kind.startswith("+") else
                                              n.startswith(kind) and "+" not in n)]
                xs = [statistics.fmean(stats[n]["ratio"]) for n in names if stats[n]["kept"]]
                ys = [statistics.fmean(stats[n]["kept"]) for n in names if stats[n]["kept"]]
                ax.plot(xs, ys, marker="o", label=kind if kind.startswith("+") is False else f"compress {kind}")
            ax.set_title(set_name)
            ax.set_xlabel("passage tokens, times fewer")
            ax.set_ylabel("answer still in the passages")
            ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.png, dpi=110)
        print(f"plot: {args.png}")


if __name__ == "__main__":
    main()

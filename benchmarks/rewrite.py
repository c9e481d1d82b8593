"""Query rewriting: retrieval recall with and without the ``rewrite`` plugin, side by side.

    python benchmarks/rewrite.py [--limit 30] [--models smollm2-135m,qwen2.5-1.5b]

Two sets, the README's retrieval config (bm25 + dense over the BBC index), recall@3 and @10 (a hit: a
passage of the gold article holding the evidence sentence):

- **follow-ups**: 20 two-turn conversations over dev articles (``benchmarks/data/bbc-followups.jsonl``:
  a first question and reply, then a follow-up that refers back, e.g. "Who did she beat?"; the gold
  article and evidence are the dev question's). Rows: the follow-up searched alone; the built-in rule of
  ``pilotfish chat`` (the previous question + the follow-up); ``rewrite`` (standalone) with each model.
- **paraphrases**: the dev questions of kind ``paraphrase`` (worded unlike their article). Rows: the
  question alone; ``rewrite`` in ``multi`` (3 queries) and ``hyde`` modes with each model, fused with the
  question's own search.

Also the mean seconds the rewrite took per question, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from mdtable import md_header, md_row

from pilotfish.core.build import build_pilot
from pilotfish.plugins.rewrite import Rewrite
from pilotfish.retrievers.cli import corpus_index
from pilotfish.retrievers.evaluate import hit_rank

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "data" / "bbc-qa-dev.jsonl"
FOLLOWUPS = ROOT / "benchmarks" / "data" / "bbc-followups.jsonl"


def recall(ranks: list[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=30, help="paraphrase questions")
    ap.add_argument("--models", default="smollm2-135m,qwen2.5-1.5b")
    ap.add_argument("--sets", default="followups,paraphrases")
    args = ap.parse_args()
    unknown = set(args.sets.split(",")) - {"followups", "paraphrases"}
    if unknown or not args.sets:
        ap.error(f"--sets takes followups and/or paraphrases (comma-separated), not {', '.join(sorted(unknown))}")
    dev = {r["id"]: r for r in (json.loads(x) for x in DEV.read_text().splitlines() if x.strip())}
    pilot = build_pilot(None, None, (), index=str(corpus_index("bbc")))
    models = args.models.split(",")
    loads = []

    def run(name: str, items: list[tuple[object, dict]], plugin: Rewrite | None) -> dict:
        ranks, secs = [], []
        for request, gold in items:
            t0 = time.perf_counter()
            if plugin is not None:
                request = plugin.before_prompt(request, pilot) or request
            secs.append(time.perf_counter() - t0)
            docs = pilot.retrieve(request, k=10)
            ranks.append(hit_rank(docs, gold["doc_id"], gold["evidence"]))
        loads.append(os.getloadavg()[0])
        row = {"name": name, "n": len(items), "r@3": recall(ranks, 3), "r@10": recall(ranks, 10),
               "rewrite_s": statistics.fmean(secs)}
        print(md_row([name, row["n"], f"{row['r@3']:.2f}", f"{row['r@10']:.2f}", f"{row['rewrite_s']:.2f}"]), flush=True)
        return row

    print(md_header(["setting", "questions", "R@3", "R@10", "rewrite s/q"]))
    conv = []
    for line in FOLLOWUPS.read_text().splitlines():
        f = json.loads(line)
        gold = dev[f["dev_id"]]
        history = [{"role": "user", "content": f["turn1"]}, {"role": "assistant", "content": f["reply1"]}]
        conv.append((f, history, gold))
    alone = [(pilot.make_request(f["followup"]), g) for f, _, g in conv]
    rule = [(pilot.make_request(f["followup"]).replace(query=f"{f['turn1']} {f['followup']}"), g) for f, _, g in conv]
    full = [(pilot.make_request([*h, {"role": "user", "content": f["followup"]}]), g) for f, h, g in conv]
    if "followups" in args.sets:
        run("follow-up alone", alone, None)
        run("follow-up, chat's rule (previous question + follow-up)", rule, None)
        for m in models:
            run(f"follow-up, rewrite standalone ({m})", full, Rewrite(model=m, with_history=False))
            run(f"follow-up, rewrite standalone + rule, fused ({m})", full, Rewrite(model=m))
    if "paraphrases" not in args.sets:
        print(f"\nload average {min(loads):.2f}-{max(loads):.2f}")
        return
    para = [r for r in dev.values() if r.get("kind") == "paraphrase"][: args.limit]
    items = [(pilot.make_request(r["question"]), r) for r in para]
    run("paraphrase, question alone", items, None)
    for m in models:
        run(f"paraphrase, rewrite multi x3 ({m})", items, Rewrite(model=m, mode="multi"))
        run(f"paraphrase, rewrite hyde ({m})", items, Rewrite(model=m, mode="hyde"))
    print(f"\nload average {min(loads):.2f}-{max(loads):.2f}")


if __name__ == "__main__":
    main()

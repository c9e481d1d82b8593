"""Prompt compression against the uncompressed prompt and two same-budget baselines, side by side.

    python benchmarks/compress.py [--limit 20] [--ratios 2,3,5] [--fine] [--guide reader] [--png docs/compress.png]
        [--plugins reader-reranker] [--no-baselines]

On the dev QA set (``../shared/data/bbc-qa-dev.jsonl``, answerable questions), with the passages the
README's RAG config retrieves from the BBC index (top 5, bm25 + dense), Qwen2.5-1.5B answers greedily
(``--max-tokens``, default 48) from:

- the whole passages (1x);
- ``compress`` at each ratio (coarse: MiniLM sentence ranking; ``--fine`` adds SmolLM2's token step;
  ``--guide reader`` adds rows where the span reader's two best sentences (each with ``--previous``
  sentences before it) are kept first, at ``--guided-ratios``);
- at the budget of ``--baseline-ratio`` (3x): random whole sentences (seeded), and the passages truncated in
  rank order (``--no-baselines`` leaves them out).

``--plugins`` adds plugins to every row's pilot (``reader-reranker``: the passages are reranked first).

For each row: answer accuracy (gold answer contained, normalised), the share of gold evidence sentences
kept in the prompt, mean prompt tokens, time to first token and total seconds per question. All rows run
question by question, interleaved, in one process, so machine load hits them alike; the load average is
printed beside the times. Each row starts from an empty KV cache (``clear_cache``), so every prompt is
computed whole, the shared instruction included. Goal (issue 15): >= 3x fewer prompt tokens, accuracy within 2 points of 1x,
end-to-end time at least 2x lower.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

from pilotfish import Document, Request, hookimpl
from pilotfish.core.build import build_pilot
from pilotfish.evaluation.qa import normalize_answer
from pilotfish.plugins.compress import Compress
from pilotfish.retrievers.cli import corpus_index
from pilotfish.retrievers.documents import split_sentences

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "data" / "bbc-qa-dev.jsonl"


class SameBudget:
    """Baselines at a given budget: random whole sentences, or the passages cut in rank order."""

    def __init__(self, how: str, ratio: float, seed: int = 0):
        self.how, self.ratio, self.seed = how, ratio, seed

    @hookimpl
    def compress(self, request: Request, documents: list[Document], pilot: Any) -> list[Document]:
        encode = pilot.model_for(request).encode
        sizes = [len(encode(d.text)) for d in documents]
        budget = sum(sizes) / self.ratio
        sents = [(p, d.text[s:e]) for p, d in enumerate(documents) for s, e in split_sentences(d.text)]
        order = list(range(len(sents)))
        if self.how == "random":
            random.Random(f"{self.seed}:{request.question}").shuffle(order)
        keep, spent = set(), 0
        for i in order:
            cost = len(encode(sents[i][1]))
            if spent + cost > budget:
                if self.how == "truncate":
                    break
                continue
            keep.add(i)
            spent += cost
        texts: list[list[str]] = [[] for _ in documents]
        for i in sorted(keep):
            texts[sents[i][0]].append(sents[i][1])
        return [dataclasses.replace(d, text=" ".join(t), metadata={**d.metadata, "compression": {
            "plugin": self.how, "tokens_before": n, "tokens_after": len(encode(" ".join(t)))}})
            for d, t, n in zip(documents, texts, sizes, strict=True)]


def load() -> float:
    return os.getloadavg()[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--ratios", default="2,3,5")
    ap.add_argument("--baseline-ratio", type=float, default=3.0, help="the budget of the two baselines")
    ap.add_argument("--fine", action="store_true", help="also rows with SmolLM2's token-level step")
    ap.add_argument("--guide", default="", help="also rows guided by this span reader (e.g. reader)")
    ap.add_argument("--guided-ratios", default="", help="ratios of the guided rows (default: --ratios)")
    ap.add_argument("--previous", type=int, default=0, help="guided rows: sentences kept before each pick")
    ap.add_argument("--no-plain", action="store_true", help="no unguided compress rows")
    ap.add_argument("--plugins", default="", help="more plugins for every row, e.g. reader-reranker (comma-separated)")
    ap.add_argument("--no-baselines", action="store_true", help="no random-sentence and truncation rows")
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--png", default=None)
    ap.add_argument("--json", default=None, help="write the rows as JSON here")
    args = ap.parse_args()
    rows = [json.loads(x) for x in DEV.read_text().splitlines() if x.strip()]
    rows = [r for r in rows if r.get("answer")][: args.limit]
    ratios = [float(x) for x in args.ratios.split(",")]
    mid = args.baseline_ratio
    index = str(corpus_index("bbc"))
    setups: dict[str, Any] = {"1x (none)": ()}
    for r in ratios:
        if not args.no_plain:
            setups[f"compress {r:g}x"] = (Compress(ratio=r),)
        if args.fine:
            setups[f"compress {r:g}x +fine"] = (Compress(ratio=r, fine="smollm2-135m"),)
    for r in [float(x) for x in (args.guided_ratios or args.ratios).split(",")] if args.guide else []:
        setups[f"compress {r:g}x +{args.guide}"] = (Compress(ratio=r, guide=args.guide, previous=args.previous),)
    if not args.no_baselines:
        setups[f"random sentences {mid:g}x"] = (SameBudget("random", mid),)
        setups[f"truncate {mid:g}x"] = (SameBudget("truncate", mid),)
    extra_plugins = tuple(p for p in args.plugins.split(",") if p)
    pilots = {name: build_pilot(None, None, extra_plugins, index=index) for name in setups}
    for name, extra in setups.items():
        for plugin in extra:
            pilots[name].pm.register(plugin, name=f"bench-{name}")
    pilots["1x (none)"].run("What is this collection about?", max_tokens=4)  # load the models, untimed
    stats: dict[str, dict[str, list[float]]] = {n: {"acc": [], "kept": [], "tokens": [], "ttft": [], "total": []} for n in setups}
    loads = []
    for qi, row in enumerate(rows, 1):
        evidence = " ".join(row["evidence"].split())
        for name, pilot in pilots.items():
            first: list[float] = []
            # every row starts cold: no row reuses the passages another row just put in llama.cpp's KV cache
            # (consecutive compressed prompts share most sentences, which once made later rows look faster)
            getattr(pilot.model_for(pilot.make_request(row["question"])), "clear_cache", lambda: 0)()
            start = time.perf_counter()
            answer = pilot.run(row["question"], max_tokens=args.max_tokens,
                               on_token=lambda _c, f=first: f or f.append(time.perf_counter()))
            total = time.perf_counter() - start
            shown = answer.request.documents
            s = stats[name]
            s["acc"].append(normalize_answer(row["answer"]) in normalize_answer(answer.text))
            s["kept"].append(any(d.doc_id == row["doc_id"] and evidence in " ".join(d.text.split()) for d in shown))
            s["tokens"].append(answer.generation.prompt_tokens)
            s["ttft"].append((first[0] if first else time.perf_counter()) - start)
            s["total"].append(total)
        loads.append(load())
        print(f"[{qi}/{len(rows)}] load {loads[-1]:.2f} " + " | ".join(
            f"{n}: {int(stats[n]['acc'][-1])}" for n in setups), flush=True)
    base = stats["1x (none)"]
    print(f"\n{len(rows)} answerable dev questions, Qwen2.5-1.5B greedy, {args.max_tokens} new tokens max; "
          f"load average {min(loads):.2f}-{max(loads):.2f}\n")
    print("| prompt | accuracy | evidence kept | prompt tokens | fewer tokens | TTFT s | total s | speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    table = []
    for name, s in stats.items():
        mean = {k: statistics.fmean(v) for k, v in s.items()}
        row = {"prompt": name, **mean,
               "token_ratio": statistics.fmean(base["tokens"]) / mean["tokens"],
               "speedup": statistics.fmean(base["total"]) / mean["total"]}
        table.append(row)
        print(f"| {name} | {mean['acc']:.2f} | {mean['kept']:.2f} | {mean['tokens']:.0f} | {row['token_ratio']:.2f}x | "
              f"{mean['ttft']:.1f} | {mean['total']:.1f} | {row['speedup']:.2f}x |")
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=1))
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(10, 4))
        for row in table:
            ax[0].scatter(row["tokens"], row["acc"], label=row["prompt"])
            ax[1].scatter(row["total"], row["acc"], label=row["prompt"])
        ax[0].set_xlabel("mean prompt tokens")
        ax[1].set_xlabel(f"seconds per question (load {min(loads):.1f}-{max(loads):.1f})")
        for a in ax:
            a.set_ylabel("accuracy (gold contained)")
            a.grid(alpha=0.3)
        ax[1].legend(fontsize=7)
        fig.suptitle(f"prompt compression, {len(rows)} BBC dev questions, Qwen2.5-1.5B")
        fig.tight_layout()
        fig.savefig(args.png, dpi=110)
        print(f"plot: {args.png}")


if __name__ == "__main__":
    main()

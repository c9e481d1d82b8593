"""Curation on BBC topics: a classifier trained on a curated subset vs a random subset vs the full pool.

    python benchmarks/curation.py [--pool 300] [--junk 0.3] [--budget 120] [--seed 0]

The pool imitates crawled data: ``--pool`` BBC training articles plus a ``--junk`` fraction of
low-quality records with unreliable labels (word-shuffled article text, site boilerplate, and
mirrored near-copies of articles filed under a random topic). Each selection keeps ``--budget``
records; a MiniLM classifier (head on sentence embeddings) is trained on them and scored on
held-out BBC articles. A second table uses the clean pool and a small budget, where only
coverage (spreading the budget over embedding clusters) can help.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

import numpy as np
import torch

from pilotfish.data import curate, score
from pilotfish.data.classifier import TextClassifier, cached_embeddings
from pilotfish.data.corpora import BBC_LABELS, bbc_subset, split
from pilotfish.data.curation import select
from pilotfish.data.records import make_record, provenance, write_jsonl

BOILERPLATE = [
    "Accept cookies to continue. We use cookies to improve your experience. Manage preferences | Privacy policy | Terms",
    "Home | News | Sport | Weather | iPlayer | Sounds | Bitesize | CBeebies | More | Search | Sign in | Register now",
    "Share this page: Email Facebook Twitter. Print. Related links. Most popular stories now. Advertisement. Top",
    "Subscribe to our newsletter for the latest updates. Click here. Follow us. Copyright all rights reserved 2005.",
    "Page not found. The page you requested could not be found. Return to the homepage or try the search box above.",
]


def junk_records(sources: list[dict], n: int, rng: random.Random) -> list[dict]:
    out = []
    for i in range(n):
        kind = i % 3
        src = rng.choice(sources)
        label = rng.choice(BBC_LABELS)
        if kind == 0:
            words = src["text"].split()
            rng.shuffle(words)
            text, rule = " ".join(words), "shuffled words"
        elif kind == 1:
            parts = rng.sample(BOILERPLATE, 3)
            text, rule = " ".join(parts) + f" ({rng.randint(1, 9999)})", "boilerplate"
        else:
            words = src["text"].split()
            cut = rng.randint(0, max(1, len(words) // 5))
            text, rule = "MIRROR: " + " ".join(words[cut:]), "mirrored copy, random topic"
        out.append(make_record(text, id=f"junk-{i}", label=label, prov=provenance("benchmark", rule=rule,
                                                                                   source=src["id"])))
    return out


def accuracy(train: list[dict], test: list[dict], seed: int = 0) -> float:
    clf = TextClassifier(list(BBC_LABELS), seed=seed).fit([r["text"] for r in train], [r["label"] for r in train])
    return clf.evaluate([r["text"] for r in test], [r["label"] for r in test], fresh=False)["accuracy"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pool", type=int, default=300)
    ap.add_argument("--junk", type=float, default=0.3, help="fraction of the pool that is low quality")
    ap.add_argument("--budget", type=int, default=120)
    ap.add_argument("--small-budget", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-chars", type=int, default=300)
    ap.add_argument("--per-class", type=int, default=200, help="articles per topic (0 = all 2,225)")
    ap.add_argument("--no-perplexity", action="store_true", help="skip the SmolLM2 perplexity scorer (slowest)")
    ap.add_argument("--save", default=None, help="write the scored pool here (JSONL)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rng = random.Random(args.seed)
    recs = bbc_subset(args.per_class or None, max_chars=args.max_chars)
    cached_embeddings([r["text"] for r in recs])
    train_all, test = split(recs, (0.7, 0.3), seed=args.seed)
    clean = train_all[: args.pool]
    qual_src = train_all[args.pool : args.pool + 150]  # labelled quality data, disjoint from the pool
    n_junk = int(round(args.junk * args.pool / (1 - args.junk)))
    pool = clean + junk_records(clean, n_junk, rng)
    rng.shuffle(pool)
    qual = [dict(r, quality="high") for r in qual_src] + [
        dict(r, quality="low") for r in junk_records(qual_src, 150, random.Random(args.seed + 1))]
    qual_dir = tempfile.TemporaryDirectory(prefix="pilotfish-curation-")
    qual_path = str(Path(qual_dir.name) / "quality.jsonl")
    write_jsonl(qual_path, qual)

    scorers = ["quality-classifier", "dedup", "coverage"] + ([] if args.no_perplexity else ["perplexity"])
    options = {"quality-classifier": {"train": qual_path}, "coverage": {"clusters": 10},
               "perplexity": {"max_chars": 300}, "dedup": {"threshold": 0.7}}
    scored = score(pool, scorers, options)
    if args.save:
        write_jsonl(args.save, scored)
    b = args.budget
    rules = {
        f"full pool ({len(pool)}, {n_junk} junk)": scored,
        "random": select(scored, top=b, seed=args.seed),
        "quality classifier: top by quality": select(scored, top=b, by="quality"),
        "dedup, then random": select(scored, where=["duplicate==0"], top=b, seed=args.seed),
        "quality + dedup, spread over clusters": select(scored, where=["duplicate==0"], top=b, by="quality",
                                                         per="cluster"),
    }
    if not args.no_perplexity:
        rules["perplexity band q0.05-q0.7, then random"] = select(
            scored, where=["perplexity>=q0.05", "perplexity<=q0.7"], top=b, seed=args.seed)
    print(f"\nNoisy pool: {len(pool)} records ({n_junk} low-quality), budget {b}, test {len(test)} BBC articles")
    print(f"{'selection':<46} {'n':>5} {'junk':>5} {'accuracy':>9}")
    for name, sel in rules.items():
        junk = sum(r["id"].startswith("junk-") for r in sel)
        print(f"{name:<46} {len(sel):5d} {junk:5d} {accuracy(sel, test):9.3f}")

    # clean pool, tiny budget: coverage only (averaged over seeds for the random baseline)
    k = args.small_budget
    _, clean_scored = curate(clean, ["coverage"], options={"coverage": {"clusters": k}})
    rand = [accuracy(select(clean_scored, top=k, seed=s), test) for s in range(5)]
    cov_central = accuracy(select(clean_scored, top=k, by="centrality", per="cluster"), test)
    print(f"\nClean pool: {len(clean)} articles, budget {k}")
    print(f"{'random (mean of 5 seeds)':<46} {k:5d} {'':5} {np.mean(rand):9.3f}  (min {min(rand):.3f}, max {max(rand):.3f})")
    print(f"{'coverage: most central per cluster':<46} {k:5d} {'':5} {cov_central:9.3f}")


if __name__ == "__main__":
    main()

"""Weak-to-strong on BBC topics: weak TF-IDF/NB models on a few labels supervise a MiniLM student.

    python benchmarks/weak_to_strong.py [--few-per-class 4] [--seed 0]

Prints weak accuracy (each weak model and their average), the strong ceiling (MiniLM head on
gold labels), strong students on the weak soft labels with and without the auxiliary
confidence loss (Burns et al. 2023), and the performance gap recovered (PGR).
"""

from __future__ import annotations

import argparse
import random
import time

import torch

from pilotfish.data.classifier import cached_embeddings
from pilotfish.data.corpora import BBC_LABELS, bbc_subset, split
from pilotfish.data.weak_to_strong import weak_to_strong


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--few-per-class", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-chars", type=int, default=300)
    ap.add_argument("--per-class", type=int, default=200, help="articles per topic (0 = all 2,225)")
    ap.add_argument("--aux", default="0,0.5,0.75")
    args = ap.parse_args()
    torch.set_num_threads(1)
    recs = bbc_subset(args.per_class or None, max_chars=args.max_chars)
    start = time.perf_counter()
    cached_embeddings([r["text"] for r in recs])
    print(f"embedded {len(recs)} articles in {time.perf_counter() - start:.1f} s (cached after the first run)")
    train, test = split(recs, (0.7, 0.3), seed=args.seed)
    rng = random.Random(args.seed)
    few = []
    for lab in BBC_LABELS:
        few += rng.sample([r for r in train if r["label"] == lab], args.few_per_class)
    few_ids = {r["id"] for r in few}
    pool = [r for r in train if r["id"] not in few_ids]
    aux = tuple(float(a) for a in args.aux.split(","))
    rep = weak_to_strong(few, pool, test, BBC_LABELS, aux_weights=aux, seed=args.seed)
    print(f"\nBBC topics: {rep.n_few} gold labels for the weak models, {rep.n_pool} unlabelled pool, {rep.n_test} test")
    print(f"{'model':<44} {'accuracy':>9} {'PGR':>6}")
    for name, acc in rep.weak_each.items():
        print(f"{'weak ' + name:<44} {acc:9.3f}")
    print(f"{'weak ensemble (average of the three)':<44} {rep.weak_accuracy:9.3f} {0.0:6.2f}")
    for key, acc in rep.strong_on_weak.items():
        label = "strong on weak labels" + (" + confidence loss " + key[4:] if key != "aux=0" else "")
        print(f"{label:<44} {acc:9.3f} {rep.pgr[key]:6.2f}")
    print(f"{'strong ceiling (MiniLM head on gold labels)':<44} {rep.ceiling_accuracy:9.3f} {1.0:6.2f}")


if __name__ == "__main__":
    main()

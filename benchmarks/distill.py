"""Black-box distillation on BBC topics: zero-shot SmolLM2 teacher vs MiniLM students.

    python benchmarks/distill.py [--train 100] [--test 100] [--seed 0]

Compares, on the same held-out articles (gold labels = folder names):
  1. the teacher: SmolLM2-135M-Instruct labelling zero-shot (label log-probs, calibrated),
  2. a MiniLM student trained on the teacher's labels for ``--train`` articles,
  3. a MiniLM student trained on the gold labels of the same articles,
  4. a MiniLM student trained on the gold labels of the full training split (upper bound).
Accuracy and examples/s (student speed includes embedding the text).
"""

from __future__ import annotations

import argparse
import time

import torch

from pilotfish.data.classifier import TextClassifier, cached_embeddings
from pilotfish.data.corpora import BBC_LABELS, bbc_subset, split
from pilotfish.data.synthesis import label_texts

INSTRUCTION = "What is the topic of this BBC news article?"
WORDS = {"sports": "sport"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=100)
    ap.add_argument("--test", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-chars", type=int, default=300)
    ap.add_argument("--per-class", type=int, default=200, help="articles per topic (0 = all 2,225)")
    ap.add_argument("--no-calibrate", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    recs = bbc_subset(args.per_class or None, max_chars=args.max_chars)
    train_all, test_all = split(recs, (0.7, 0.3), seed=args.seed)
    train, test = train_all[: args.train], test_all[: args.test]
    cal = not args.no_calibrate

    t = time.perf_counter()
    teacher_test = label_texts(test, BBC_LABELS, "smollm2-135m", instruction=INSTRUCTION, label_words=WORDS,
                               calibrate=cal, max_chars=args.max_chars)
    t_sec = time.perf_counter() - t
    by_src = {r["provenance"]["source"]: r["label"] for r in teacher_test.records}
    teacher_acc = sum(by_src.get(r["id"]) == r["label"] for r in test) / len(test)

    teacher_train = label_texts(train, BBC_LABELS, "smollm2-135m", instruction=INSTRUCTION, label_words=WORDS,
                                calibrate=cal, max_chars=args.max_chars)
    train_label_acc = sum(r["label"] == r["gold_label"] for r in teacher_train.records) / len(teacher_train.records)

    cached_embeddings([r["text"] for r in recs])  # once; evaluate(fresh=True) re-embeds the test texts for speed
    texts_test, gold_test = [r["text"] for r in test], [r["label"] for r in test]
    rows = [("teacher: SmolLM2-135M zero-shot" + (" (calibrated)" if cal else ""), teacher_acc, len(test) / t_sec)]

    def student(name: str, texts: list[str], labels: list[object]) -> None:
        clf = TextClassifier(list(BBC_LABELS)).fit(texts, labels)
        ev = clf.evaluate(texts_test, gold_test, fresh=True)
        rows.append((name, ev["accuracy"], ev["examples_per_s"]))

    student(f"MiniLM student on teacher labels (n={len(train)})", [r["text"] for r in teacher_train.records],
            [r["label"] for r in teacher_train.records])
    student(f"MiniLM student on teacher soft labels (n={len(train)})", [r["text"] for r in teacher_train.records],
            [r["label_probs"] for r in teacher_train.records])
    student(f"MiniLM student on gold labels (n={len(train)})", [r["text"] for r in train], [r["label"] for r in train])
    student(f"MiniLM student on gold labels (n={len(train_all)})", [r["text"] for r in train_all],
            [r["label"] for r in train_all])
    print(f"\nBBC topics, {len(test)} held-out articles (first {args.max_chars} characters); "
          f"teacher labels on the training articles are {train_label_acc:.3f} correct")
    print(f"{'model':<52} {'accuracy':>9} {'examples/s':>11}")
    for name, acc, speed in rows:
        print(f"{name:<52} {acc:9.3f} {speed:11.1f}")


if __name__ == "__main__":
    main()

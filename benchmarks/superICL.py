"""SuperICL on BBC topics: the small classifier alone, the large model alone, and the two together.

    python benchmarks/superICL.py [--n 60] [--model qwen2.5-1.5b] [--k 4] [--mmr]

On the same held-out articles (the topic specialist's test split; no dev-set article or copy of one in
any split), side by side:

1. the classifier alone: ``specialist:bbc-topic`` (MiniLM + trained head, the data tools' classifier);
2. the large model zero-shot;
3. the large model few-shot: ``k`` training articles chosen by the ``examples`` plugin (MiniLM kNN);
4. the large model with the SuperICL hint (``supericl`` plugin: the classifier's label and confidence
   after the article);
5. both: few-shot examples annotated with the classifier's predictions, and the hint (SuperICL's format);
6. with ``--mmr``: few-shot with the examples diversified by maximal marginal relevance.

Also: how often the large model overrules the hint, and how often overruling was right. The large
model's answers are cached in ``<tmp>/pilotfish-bbc-topic-bench`` (shared with
benchmarks/specialists.py). Writes a PNG.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bbc_topic import WORK, AnswerCache, ask_topic, held_out, topic_specialist, write_pool  # noqa: E402

from pilotfish import Pilot  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=60, help="held-out articles")
    ap.add_argument("--model", default="qwen2.5-1.5b")
    ap.add_argument("--k", type=int, default=4, help="in-context examples")
    ap.add_argument("--plot", default=str(Path(__file__).resolve().parents[1] / "docs" / "superICL.png"))
    ap.add_argument("--mmr", action="store_true", help="also few-shot with MMR-diversified examples")
    ap.add_argument("--fresh", action="store_true", help=f"forget the cached answers in {WORK}")
    args = ap.parse_args()
    if args.fresh and (WORK / "answers.jsonl").is_file():
        (WORK / "answers.jsonl").unlink()
    cache = AnswerCache()
    spec = topic_specialist()
    items, train = held_out(args.n)
    pool = str(write_pool(train))
    examples = {"pool": pool, "k": args.k, "key_field": "text"}
    supericl = {"classifier": "specialist:bbc-topic", "example_field": "input_text"}
    few = f"few-shot ({args.k} kNN examples)"
    conditions = {
        "zero-shot": Pilot(model=args.model),
        few: Pilot(model=args.model, plugins=["examples"], options={"examples": examples}),
        "SuperICL hint (zero-shot)": Pilot(model=args.model, plugins=["supericl"], options={"supericl": supericl}),
        f"SuperICL ({args.k} annotated examples + hint)": Pilot(
            model=args.model, plugins=["examples", "supericl"], options={"examples": examples, "supericl": supericl}),
    }
    spec.predict(train[0]["text"])  # load MiniLM before timing
    if args.mmr:
        conditions[f"few-shot ({args.k} examples, MMR lambda 0.7)"] = Pilot(
            model=args.model, plugins=["examples"], options={"examples": {**examples, "diversity": "mmr"}})
    start = time.perf_counter()
    preds = [spec.predict(it["text"]) for it in items]
    clf_ms = 1000 * (time.perf_counter() - start) / len(items)
    clf_right = [p.label == it["label"] for p, it in zip(preds, items, strict=True)]
    rows = [("classifier alone (specialist:bbc-topic)", sum(clf_right) / len(items), clf_ms, 0, "")]
    for name, pilot in conditions.items():
        answers = [ask_topic(pilot, it, name, cache, args.model) for it in items]
        right = [a["label"] == a["gold"] for a in answers]
        note = ""
        if "SuperICL" in name:
            over = [(a, c) for a, c in zip(answers, clf_right, strict=True)
                    if a["hint"] and a["label"] is not None and a["label"] != a["hint"]["label"]]
            fixed = sum(a["label"] == a["gold"] for a, _ in over)
            note = f"overrules the hint {len(over)}x: {fixed} right, {len(over) - fixed} wrong"
        rows.append((f"{args.model} {name}", sum(right) / len(items),
                     1000 * sum(a["seconds"] for a in answers) / len(answers), sum(a["label"] is None for a in answers),
                     note))
    print(f"\nBBC topics, {len(items)} held-out articles (first 600 characters); load average "
          f"{os.getloadavg()[0]:.1f} (1 min)")
    print(f"{'method':<58} {'accuracy':>9} {'ms/item':>9} {'unparsed':>9}  note")
    for name, acc, ms, unparsed, note in rows:
        print(f"{name:<58} {acc:>9.3f} {ms:>9.0f} {unparsed:>9}  {note}")
    plot(rows, args.plot, len(items))
    print(f"plot: {args.plot}")


def plot(rows, path, n):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.6))
    names = [r[0].replace(" (specialist:bbc-topic)", "").replace("qwen2.5-1.5b ", "Qwen ") for r in rows]
    accs = [r[1] for r in rows]
    colors = ["#2a7", "#c84", "#48c", "#a5c", "#73a", "#6ad"][: len(rows)]
    ax.barh(range(len(rows)), accs, color=colors)
    for i, a in enumerate(accs):
        ax.text(a + 0.005, i, f"{a:.3f}", va="center")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    ax.set_xlim(min(accs) - 0.1 if min(accs) > 0.1 else 0, 1.05)
    ax.set_xlabel(f"accuracy on {n} held-out BBC articles")
    ax.set_title("SuperICL: MiniLM classifier + Qwen2.5-1.5B")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()

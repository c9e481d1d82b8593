"""Specialists vs the large model: accuracy and latency, side by side.

    python benchmarks/specialists.py [--bbc 60] [--rows 30] [--model qwen2.5-1.5b] [--record]

1. BBC topic classification on held-out articles (the specialist's test split; the dev sets' articles
   and their copies are in no split): ``specialist:bbc-topic`` vs the large model zero-shot and few-shot
   (4 examples chosen by the ``examples`` plugin from the training articles).
2. Three scikit-learn tables (iris, wine, breast_cancer; their test splits): ``specialist:tabular:<d>``
   (gradient-boosted trees) vs the large model reading the row as JSON, zero-shot and few-shot (a fixed
   CSV table of labelled training rows before the row; the same prefix every time, so llama.cpp computes
   it once).

Latency is per item, one item at a time, the specialist with its explanation. The large model's
answers are cached in ``<tmp>/pilotfish-bbc-topic-bench`` (shared with benchmarks/superICL.py), so a
rerun only times the specialist again; ``--fresh`` asks again. ``--record`` stores the large model's
measured accuracies next to each specialist (``Specialist.beats(model)`` reads them). Writes a PNG.
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
from pilotfish.core.models import get_model  # noqa: E402
from pilotfish.data.synthesis import parse_label  # noqa: E402
from pilotfish.specialists import record_baseline  # noqa: E402
from pilotfish.specialists.tabular import DATASETS, serialize_row, tabular_split  # noqa: E402

TITLES = {"iris": "iris flowers (measurements in cm)",
          "wine": "wine recognition (chemical analysis of wines from three Italian cultivars)",
          "breast_cancer": "Wisconsin breast cancer (cell nucleus measurements of a breast mass)"}
SHOTS_PER_CLASS = 3


def timed(fn, items):
    out, seconds = [], []
    for it in items:
        start = time.perf_counter()
        out.append(fn(it))
        seconds.append(time.perf_counter() - start)
    return out, seconds


def row(task, method, n, correct, seconds, unparsed=0):
    return {"task": task, "method": method, "n": n, "accuracy": correct / n if n else 0.0,
            "ms": 1000 * sum(seconds) / max(len(seconds), 1), "unparsed": unparsed}


def bbc_rows(args, cache):
    spec = topic_specialist()
    items, train = held_out(args.bbc)
    spec.predict(train[0]["text"])  # load MiniLM before timing
    preds, secs = timed(lambda it: spec.predict(it["text"]), items)
    rows = [row("bbc-topic", "specialist (MiniLM + head, evidence words/sentences)", len(items),
                sum(p.label == it["label"] for p, it in zip(preds, items, strict=True)), secs)]
    full, _ = held_out(10_000)
    full_preds = spec.predict_batch([it["text"] for it in full], explain=False)
    full_acc = sum(p.label == it["label"] for p, it in zip(full_preds, full, strict=True)) / len(full)
    pool = write_pool(train)
    conditions = {
        "zero-shot": Pilot(model=args.model),
        "few-shot (4 kNN examples)": Pilot(model=args.model, plugins=["examples"],
                                           options={"examples": {"pool": str(pool), "k": 4, "key_field": "text"}}),
    }
    for name, pilot in conditions.items():
        answers = [ask_topic(pilot, it, name, cache, args.model) for it in items]
        rows.append(row("bbc-topic", f"{args.model} {name}", len(items), sum(a["label"] == a["gold"] for a in answers),
                        [a["seconds"] for a in answers], sum(a["label"] is None for a in answers)))
    return rows, spec, full_acc, len(full)


def table_prompts(dataset, spec, train):
    classes = spec.labels
    x, y = train
    ask = f"Which class is this row: {', '.join(classes)}? Answer with the class name only."
    zero = f"This is one row of the {TITLES[dataset]} dataset. {ask}\n\n{{row}}"
    shots = [i for c in range(len(classes)) for i in [j for j in range(len(y)) if y[j] == c][:SHOTS_PER_CLASS]]
    header = ",".join(f'"{f}"' if "," in f else f for f in spec.features) + ",class"
    lines = [",".join(f"{v:g}" for v in x[i]) + f",{classes[y[i]]}" for i in shots]
    few = (f"Labelled rows of the {TITLES[dataset]} dataset (CSV; the last column is the class):\n\n{header}\n"
           + "\n".join(lines) + f"\n\n{ask}\n\n{{row}}")
    return zero, few


def tabular_rows(args, cache):
    rows, specs = [], {}
    llm = get_model(args.model)
    for d in DATASETS:
        spec = get_model(f"specialist:tabular:{d}")
        specs[d] = spec
        parts = tabular_split(d)
        x_test, y_test = parts["test"]
        n = min(args.rows, len(y_test))
        texts = [serialize_row(r, spec.features) for r in x_test]
        spec.predict(texts[-1])
        preds, secs = timed(spec.predict, texts[:n])
        rows.append(row(d, "specialist (boosted trees, contributions)", n,
                        sum(p.label == spec.labels[c] for p, c in zip(preds, y_test[:n], strict=True)), secs))
        zero, few = table_prompts(d, spec, parts["train"])
        for name, template, fmt in (("zero-shot, JSON row", zero, "json"), ("few-shot, CSV table", few, "csv")):
            answers = []
            for i in range(n):
                key = AnswerCache.key("tabular", d, name, i, args.model, template)
                hit = cache.get(key)
                if hit is None:
                    shown = serialize_row(x_test[i], spec.features, fmt)
                    if fmt == "csv":
                        shown = shown.splitlines()[1]  # the values, under the table's header
                    gen = llm.generate(template.format(row=shown), max_tokens=6, temperature=0.0)
                    hit = {"label": parse_label(gen.text, spec.labels), "gold": spec.labels[y_test[i]],
                           "raw": gen.text[:40], "seconds": round(gen.latency_s, 3)}
                    cache.put(key, hit)
                answers.append(hit)
            rows.append(row(d, f"{args.model} {name}", n, sum(a["label"] == a["gold"] for a in answers),
                            [a["seconds"] for a in answers], sum(a["label"] is None for a in answers)))
    return rows, specs


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(r["task"] for r in rows))
    kinds = ["specialist", "zero-shot", "few-shot"]
    colors = {"specialist": "#2a7", "zero-shot": "#c84", "few-shot": "#48c"}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.27
    for j, kind in enumerate(kinds):
        acc = [next((r["accuracy"] for r in rows if r["task"] == t and kind in r["method"]), 0) for t in tasks]
        ms = [next((r["ms"] for r in rows if r["task"] == t and kind in r["method"]), 0) for t in tasks]
        xs = [i + (j - 1) * width for i in range(len(tasks))]
        ax1.bar(xs, acc, width, label=kind, color=colors[kind])
        ax2.bar(xs, ms, width, label=kind, color=colors[kind])
    for ax, title in ((ax1, "accuracy"), (ax2, "latency per item (ms, log scale)")):
        ax.set_xticks(range(len(tasks)))
        ax.set_xticklabels(tasks)
        ax.set_title(title)
    ax1.set_ylim(0, 1.05)
    ax2.set_yscale("log")
    ax1.legend(loc="lower left")
    fig.suptitle("specialists vs Qwen2.5-1.5B (held-out items)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bbc", type=int, default=60, help="held-out BBC articles the large model classifies")
    ap.add_argument("--rows", type=int, default=30, help="test rows per table the large model classifies")
    ap.add_argument("--model", default="qwen2.5-1.5b")
    ap.add_argument("--plot", default=str(Path(__file__).resolve().parents[1] / "docs" / "specialists.png"))
    ap.add_argument("--record", action="store_true", help="store the large model's accuracies next to the specialists")
    ap.add_argument("--fresh", action="store_true", help=f"forget the cached answers in {WORK}")
    args = ap.parse_args()
    if args.fresh and (WORK / "answers.jsonl").is_file():
        (WORK / "answers.jsonl").unlink()
    cache = AnswerCache()
    bbc, topic, full_acc, n_full = bbc_rows(args, cache)
    tab, specs = tabular_rows(args, cache)
    rows = bbc + tab
    print(f"\nload average {os.getloadavg()[0]:.1f} (1 min); specialist latency includes its explanation")
    print(f"{'task':<14} {'method':<52} {'n':>4} {'accuracy':>9} {'ms/item':>9} {'x slower':>9}")
    for r in rows:
        base = next(x["ms"] for x in rows if x["task"] == r["task"] and x["method"].startswith("specialist"))
        extra = f"  ({r['unparsed']} unparsed)" if r["unparsed"] else ""
        print(f"{r['task']:<14} {r['method']:<52} {r['n']:>4} {r['accuracy']:>9.3f} {r['ms']:>9.1f} "
              f"{r['ms'] / base:>8.0f}x{extra}")
    print(f"\nspecialist:bbc-topic on its whole test split: {full_acc:.3f} ({n_full} articles); "
          f"validation accuracy recorded at training: {topic.measured_accuracy}")
    for d, s in specs.items():
        print(f"specialist:tabular:{d}: recorded validation accuracy {s.measured_accuracy}")
    plot(rows, args.plot)
    print(f"plot: {args.plot}")
    if args.record:
        best = {}
        for r in rows:
            if not r["method"].startswith("specialist"):
                if r["task"] not in best or r["accuracy"] > best[r["task"]]["accuracy"]:
                    best[r["task"]] = r
        for task, r in best.items():
            path = topic.path if task == "bbc-topic" else specs[task].path
            mine = next(x for x in rows if x["task"] == task and x["method"].startswith("specialist"))
            record_baseline(path, args.model, r["accuracy"], r["n"], note=f"best of zero/few-shot: {r['method']}",
                            specialist_accuracy=mine["accuracy"])
            print(f"recorded {args.model} accuracy {r['accuracy']:.3f} (n={r['n']}) for {task} in {path}")


if __name__ == "__main__":
    main()

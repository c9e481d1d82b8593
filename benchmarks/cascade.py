"""Cascade benchmark: small model alone, large model alone, and the ``cascade`` plugin, side by side.

Task: reading comprehension on the BBC dev questions (answerable ones). Each question gets the
three sentences of its article around the evidence sentence as context; an answer (the first
non-empty line of the output, "Answer:" label dropped) is correct when it contains the gold answer
(case- and whitespace-insensitive). Per configuration: accuracy, the
share of questions sent to the large model, and mean wall time per question.

Each model answers every question once (greedy); the cascade rows for several thresholds are
computed from those answers and the small model's mean token log-probability, exactly the plugin's
rule (escalate when it is below the threshold). One threshold is also run through the real plugin
(``Pilot(plugins=[Cascade(...)])``) to check that it makes the same decisions and to time it.

    python benchmarks/cascade.py --png docs/cascade.png   # smollm2-135m -> qwen2.5-1.5b
    python benchmarks/cascade.py --limit 20 --json
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import Any

from devdata import QA_DEV, dev_file


def load_items(path: str, limit: int | None) -> list[dict[str, Any]]:
    from pilotfish.data.corpora import bbc_dir
    from pilotfish.retrievers.documents import normalize_ws, split_sentences

    root = bbc_dir()
    items = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        if not q.get("doc_id") or not q.get("answer"):
            continue
        text = (root / f"{q['doc_id']}.txt").read_text(encoding="utf-8", errors="replace")
        sents = [text[s:e] for s, e in split_sentences(text)]
        ev = normalize_ws(q["evidence"])
        at = next((i for i, s in enumerate(sents) if ev in normalize_ws(s) or normalize_ws(s) in ev), None)
        if at is None:
            continue
        context = " ".join(sents[max(0, at - 1):at + 2])
        items.append({"question": q["question"], "answer": q["answer"], "context": context})
        if limit and len(items) >= limit:
            break
    return items


def messages(item: dict[str, Any]) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Context: {item['context']}\n\nAnswer the question in a few words, "
                                        f"using the context.\nQuestion: {item['question']}"}]


def first_line(text: str) -> str:
    """The answer: the first non-empty line, without an "Answer:" label (Gemma 3 starts with a newline
    and labels its answer, so a plain "\n" stop sequence would cut it to nothing)."""
    line = next((x.strip() for x in text.splitlines() if x.strip()), "")
    return re.sub(r"^(answer|a)\s*:\s*", "", line, flags=re.I)


def correct(answer: str, gold: str) -> bool:
    def norm(s: str) -> str:
        return re.sub(r"\s+", " ", re.sub(r"[^\w%£$.]", " ", s.lower())).strip()

    return norm(gold) in norm(answer)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", default=None, help=f"the BBC dev QA file (default: ../shared/data/{QA_DEV})")
    ap.add_argument("--small", default="smollm2-135m")
    ap.add_argument("--large", default="qwen2.5-1.5b")
    ap.add_argument("--thresholds", default="-0.1,-0.2,-0.3,-0.45,-0.6,-1.0")
    ap.add_argument("--plugin-threshold", type=float, default=-0.6, help="threshold also run through the plugin")
    ap.add_argument("--max-tokens", type=int, default=24)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--png", default=None, help="plot accuracy against the share sent to the large model here")
    args = ap.parse_args()
    args.queries = str(dev_file(QA_DEV, args.queries))

    import warnings

    import pilotfish
    from pilotfish import Pilot
    from pilotfish.plugins.cascade import Cascade, confidence

    warnings.simplefilter("ignore")
    items = load_items(args.queries, args.limit)
    small, large = pilotfish.get_model(args.small), pilotfish.get_model(args.large)
    params = {"max_tokens": args.max_tokens, "temperature": 0.0, "stop": ["\nQuestion", "\nContext"]}
    for m in (small, large):  # load and warm up outside the timings
        m.generate(messages(items[0]), **params)
    runs: dict[str, list[dict[str, Any]]] = {"small": [], "large": []}
    for name, model in (("small", small), ("large", large)):
        for it in items:
            t0 = time.perf_counter()
            gen = model.generate(messages(it), **params)
            runs[name].append({"text": gen.text, "s": time.perf_counter() - t0,
                               "conf": confidence(gen, "mean_logprob"), "ok": correct(first_line(gen.text), it["answer"])})
    n = len(items)

    def row(name: str, oks: list[bool], escalated: int, seconds: float) -> dict[str, Any]:
        return {"name": name, "accuracy": round(sum(oks) / n, 3), "escalated": round(escalated / n, 3),
                "s_per_question": round(seconds / n, 3)}

    rows = [row(f"small only ({args.small})", [r["ok"] for r in runs["small"]], 0, sum(r["s"] for r in runs["small"])),
            row(f"large only ({args.large})", [r["ok"] for r in runs["large"]], n, sum(r["s"] for r in runs["large"]))]
    for t in (float(x) for x in args.thresholds.split(",")):
        esc = [r["conf"] is None or r["conf"] < t for r in runs["small"]]
        oks = [lg["ok"] if e else sm["ok"] for e, sm, lg in zip(esc, runs["small"], runs["large"], strict=True)]
        secs = sum(sm["s"] + (lg["s"] if e else 0.0) for e, sm, lg in zip(esc, runs["small"], runs["large"], strict=True))
        rows.append(row(f"cascade, threshold {t} (from the runs above)", oks, sum(esc), secs))
    # the real plugin at one threshold: same decisions, measured time
    pilot = Pilot(model=args.large, plugins=[Cascade(small=args.small, threshold=args.plugin_threshold)])
    oks, esc_n, secs, agree = [], 0, 0.0, 0
    for it, sm in zip(items, runs["small"], strict=True):
        t0 = time.perf_counter()
        ans = pilot.run(messages(it), **params)
        secs += time.perf_counter() - t0
        meta = ans.generation.metadata.get("cascade", {})
        escalated = bool(meta.get("escalated"))
        esc_n += escalated
        agree += escalated == (sm["conf"] is None or sm["conf"] < args.plugin_threshold)
        oks.append(correct(first_line(ans.text), it["answer"]))
    rows.append(row(f"cascade plugin, threshold {args.plugin_threshold} (measured)", oks, esc_n, secs))
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        curve = [r for r in rows if r["name"].startswith("cascade, threshold")]
        ax.plot([r["escalated"] for r in curve], [r["accuracy"] for r in curve], "o-", label="cascade (thresholds)")
        for r in rows[:2] + rows[-1:]:
            ax.scatter([r["escalated"]], [r["accuracy"]], label=r["name"], zorder=3)
        ax.set_xlabel(f"share of questions sent to {args.large}")
        ax.set_ylabel("accuracy (gold contained)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.png, dpi=110)
    if args.json:
        print(json.dumps({"questions": n, "rows": rows, "plugin_decisions_matching_the_rule": agree}, indent=1))
        return
    print(f"{n} questions (BBC dev, answerable, 3-sentence context); correct = gold answer contained in the answer")
    print(f"{'configuration':<58}{'accuracy':>9}{'to large':>9}{'s/q':>8}")
    for r in rows:
        print(f"{r['name']:<58}{r['accuracy']:>9.3f}{r['escalated']:>9.3f}{r['s_per_question']:>8.2f}")
    print(f"plugin decisions equal to the rule applied to the small model's runs: {agree}/{n}")
    import os

    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

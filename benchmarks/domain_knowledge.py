"""Knowledge cards (``knowledge``, issue 15 item 5): QA accuracy of a large model with and without a small
domain model's card, side by side in one run.

The large model answers the BBC dev questions (answerable ones) **without retrieval of its own**: the point
of a black-box domain guide is a model that cannot be given the corpus (a remote API, a fixed prompt). Rows:

- the large model alone (closed book);
- the large model + a card from each domain model (``--guides``: the extractive ``reader``, SmolLM2), the
  card written from the top ``--k`` passages of the ``--corpus bbc`` index;
- the domain model's own answer (what the card says, scored the same way);
- for reference, the large model with full RAG (the top-5 passages in its prompt, the README's setup).

Correct = the gold answer contained in the answer (``pilotfish eval qa``'s rule). Seconds per question include
the card (retrieval + the small model). Answers are cached in ``--work`` (the cascade benchmark's format and
folder: the RAG row reuses its answers).

    python benchmarks/domain_knowledge.py --png docs/knowledge.png
    python benchmarks/domain_knowledge.py --limit 10 --guides reader
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from cascade import Runs, load_items
from devdata import QA_DEV, dev_file, work_dir


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", default=None, help=f"the BBC dev QA file (default: ../shared/data/{QA_DEV})")
    ap.add_argument("--large", default="qwen2.5-1.5b")
    ap.add_argument("--guides", default="reader,smollm2-135m", help="comma-separated small domain models")
    ap.add_argument("--k", type=int, default=3, help="passages the domain model reads")
    ap.add_argument("--min-confidence", type=float, default=0.1)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--no-rag", action="store_true", help="skip the full-RAG reference row")
    ap.add_argument("--work", default=None, help="answer cache (default: the cascade benchmark's)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--png", default=None)
    args = ap.parse_args(argv)
    queries = str(dev_file(QA_DEV, args.queries))
    work = Path(args.work) if args.work else work_dir("cascade-answers")

    import warnings

    import pilotfish
    from pilotfish import Pilot
    from pilotfish.cli import pilot_for_command
    from pilotfish.core.prompts import rag_messages
    from pilotfish.evaluation.qa import normalize_answer
    from pilotfish.plugins.knowledge import Knowledge

    warnings.simplefilter("ignore")
    items = load_items(queries, args.limit)
    large = pilotfish.get_model(args.large)
    params = {"max_tokens": args.max_tokens, "temperature": 0.0}
    runs = Runs(work)
    n = len(items)

    def ok(text: str, gold: str) -> bool:
        return normalize_answer(gold) in normalize_answer(text)

    rows: list[dict[str, Any]] = []

    def add(name: str, answers: list[dict[str, Any]], extra_s: list[float] | None = None, **more: Any) -> None:
        secs = [a["s"] + (extra_s[i] if extra_s else 0.0) for i, a in enumerate(answers)]
        rows.append({"name": name, "accuracy": round(sum(a["ok"] for a in answers) / n, 3),
                     "prompt_tokens": round(sum(a["prompt_tokens"] for a in answers) / n, 1),
                     "s_per_question": round(sum(secs) / n, 2), **more})

    closed = Pilot(model=large, use_entrypoints=False)
    base = []
    for it in items:
        request = closed.make_request(it["question"], **params)
        a = runs.answer(large, closed.hooks.build_messages(request, [], closed), params)
        base.append({**a, "ok": ok(a["text"], it["answer"])})
    add(f"{args.large} alone (closed book)", base)
    for guide in [g.strip() for g in args.guides.split(",") if g.strip()]:
        plugin = Knowledge(corpus="bbc", model=guide, k=args.k, min_confidence=args.min_confidence)
        pilot = Pilot(model=large, plugins=[plugin], use_entrypoints=False)
        with_card, own, card_s, cards = [], [], [], 0
        for it in items:
            request = pilot.make_request(it["question"], **params)
            t0 = time.perf_counter()
            request = pilot.hooks.before_prompt(request, pilot)
            card_s.append(time.perf_counter() - t0)
            info = request.metadata["knowledge"]
            cards += info["card"] is not None
            own.append({"s": card_s[-1], "prompt_tokens": 0, "ok": bool(info["card"]) and ok(info["card"], it["answer"])})
            a = runs.answer(large, pilot.hooks.build_messages(request, [], pilot), params)
            with_card.append({**a, "ok": ok(a["text"], it["answer"])})
        add(f"{args.large} + card from {guide} (top-{args.k})", with_card, card_s, cards=round(cards / n, 3))
        add(f"  the card alone ({guide})", own, cards=round(cards / n, 3))
    if not args.no_rag:
        rag = pilot_for_command(None, args.large, (), "bbc", None, verify=False)
        answers = []
        for it in items:
            request = rag.make_request(it["question"])
            docs = rag.retrieve(request)
            a = runs.answer(large, rag_messages(request.replace(documents=tuple(docs)), docs), params)
            answers.append({**a, "ok": ok(a["text"], it["answer"])})
        add(f"{args.large} + RAG (top-{rag.top_k} passages in the prompt)", answers)
    load = os.getloadavg()[0]
    if args.png:
        plot(rows, args.png)
    if args.json:
        print(json.dumps({"questions": n, "rows": rows, "load_average": round(load, 2)}, indent=1))
        return
    print(f"\n{n} questions (BBC dev, answerable); correct = gold answer contained in the answer")
    print(f"{'configuration':<56}{'accuracy':>9}{'cards':>7}{'prompt tok':>11}{'s/q':>7}")
    for r in rows:
        cards = f"{r['cards']:.2f}" if "cards" in r else ""
        print(f"{r['name']:<56}{r['accuracy']:>9.3f}{cards:>7}{r['prompt_tokens']:>11.0f}{r['s_per_question']:>7.2f}")
    print(f"load average at the end: {load:.2f}; answers cached in {runs.path}")


def plot(rows: list[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for r in rows:
        ax.scatter([r["s_per_question"]], [r["accuracy"]], s=60, label=r["name"].strip())
    ax.set_xlabel("seconds per question")
    ax.set_ylabel("accuracy (gold answer contained)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()

"""Cascade benchmark: cheap models alone, the large model alone, and the ``cascade`` cheap -> large,
side by side, on the BBC dev questions with **retrieved passages** (the README's RAG setup).

Every question is retrieved once with the ``--corpus bbc`` index pipeline (the README's first command), and
the host's RAG prompt (system instruction, ``<sources>`` turn, question) is built once; each model answers
that same prompt (greedy). An answer is correct when it contains the gold answer (``pilotfish eval qa``'s
rule: normalised, articles and punctuation dropped). Per configuration: accuracy, the share of questions
sent to the large model, and seconds per question (the cascade's = the cheap model's time, plus the large
one's where it escalated).

The cascade rows for several thresholds are computed from those runs with exactly the plugin's rule
(escalate when the cheap model's mean token log-prob is below the threshold, or when it refused); for the
``reader`` the log-prob is log(span confidence). One threshold is also run through the real plugin
(``Pilot(plugins=[Cascade(...)])``) on the first ``--plugin-limit`` questions, to check that it makes the
same decisions.

Each model's answers are cached in ``--work`` (JSONL, keyed by model and prompt), so a rerun with other
thresholds or another cheap model regenerates nothing.

    python benchmarks/cascade.py --cheap reader,smollm2-135m --png docs/cascade.png
    python benchmarks/cascade.py --limit 10 --json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from devdata import QA_DEV, dev_file, work_dir

DEFAULT_THRESHOLDS = {"reader": "-0.05,-0.1,-0.2,-0.36,-0.7,-1.2,-2.3",
                      "smollm2-135m": "-0.1,-0.2,-0.3,-0.45,-0.6,-1.0"}


def load_items(path: str, limit: int | None) -> list[dict[str, Any]]:
    items = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    items = [q for q in items if q.get("answer") and q.get("doc_id")]
    return items[:limit] if limit else items


class Runs:
    """Each model's answer to each prompt, cached in a JSONL file."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "answers.jsonl"
        self.cache: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                self.cache[row["key"]] = row

    def answer(self, model: Any, messages: list[dict[str, str]], params: dict[str, Any]) -> dict[str, Any]:
        key = hashlib.sha1(json.dumps([model.model_id, messages, params], sort_keys=True).encode()).hexdigest()
        if key not in self.cache:
            t0 = time.perf_counter()
            gen = model.generate(messages, **params)
            row = {"key": key, "model": model.model_id, "text": gen.text, "s": round(time.perf_counter() - t0, 3),
                   "mean_logprob": gen.mean_logprob, "prompt_tokens": gen.prompt_tokens,
                   "load": round(os.getloadavg()[0], 2)}
            self.cache[key] = row
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
        return self.cache[key]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", default=None, help=f"the BBC dev QA file (default: ../shared/data/{QA_DEV})")
    ap.add_argument("--cheap", default="reader,smollm2-135m", help="comma-separated cheap models")
    ap.add_argument("--large", default="qwen2.5-1.5b")
    ap.add_argument("--thresholds", default=None, help="comma-separated log-prob thresholds (default per model)")
    ap.add_argument("--plugin-threshold", type=float, default=-0.36, help="threshold also run through the plugin")
    ap.add_argument("--plugin-limit", type=int, default=10, help="questions run through the real plugin (0: none)")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--work", default=None, help="cache folder of the models' answers (default: a temp folder)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--png", default=None, help="plot accuracy against the share sent to the large model here")
    args = ap.parse_args()
    args.queries = str(dev_file(QA_DEV, args.queries))
    work = Path(args.work) if args.work else work_dir("cascade-answers")

    import warnings

    import pilotfish
    from pilotfish.cli import pilot_for_command
    from pilotfish.core.prompts import is_refusal, rag_messages
    from pilotfish.evaluation.qa import normalize_answer
    from pilotfish.plugins.cascade import Cascade

    warnings.simplefilter("ignore")
    items = load_items(args.queries, args.limit)
    pilot = pilot_for_command(None, args.large, (), "bbc", None, verify=False)
    prompts = []
    for it in items:
        request = pilot.make_request(it["question"])
        docs = pilot.retrieve(request)
        prompts.append(rag_messages(request.replace(documents=tuple(docs)), docs))
    cheap_ids = [c.strip() for c in args.cheap.split(",") if c.strip()]
    models = {m: pilotfish.get_model(m) for m in [*cheap_ids, args.large]}
    params = {"max_tokens": args.max_tokens, "temperature": 0.0}
    for m in models.values():  # load and warm up outside the timings (a prompt of its own)
        m.generate([{"role": "user", "content": "<sources>\n[1] (w) Warm-up: the sky is blue.\n</sources>"},
                    {"role": "user", "content": "What colour is the sky?"}], max_tokens=4)
    runs = Runs(work)

    def ok(text: str, gold: str) -> bool:
        return normalize_answer(gold) in normalize_answer(text)

    answers: dict[str, list[dict[str, Any]]] = {}
    for mid, model in models.items():
        answers[mid] = []
        for i, (it, msgs) in enumerate(zip(items, prompts, strict=True), 1):
            row = runs.answer(model, msgs, params)
            answers[mid].append({**row, "ok": ok(row["text"], it["answer"]), "refused": is_refusal(row["text"])})
            print(f"[{mid} {i}/{len(items)}] {row['s']:5.1f} s {'ok ' if answers[mid][-1]['ok'] else 'bad'} "
                  f"{row['text'][:70]!r}", flush=True)
    n = len(items)

    def row(name: str, oks: list[bool], escalated: int, seconds: float, kind: str, cheap: str | None = None,
            threshold: float | None = None) -> dict[str, Any]:
        return {"name": name, "kind": kind, "cheap": cheap, "threshold": threshold,
                "accuracy": round(sum(oks) / n, 3), "to_large": round(escalated / n, 3),
                "s_per_question": round(seconds / n, 2)}

    large = answers[args.large]
    rows = [row(f"large only ({args.large})", [r["ok"] for r in large], n, sum(r["s"] for r in large), "large")]
    for c in cheap_ids:
        small = answers[c]
        rows.append(row(f"cheap only ({c})", [r["ok"] for r in small], 0, sum(r["s"] for r in small), "cheap", c))
        spec = args.thresholds or DEFAULT_THRESHOLDS.get(c, DEFAULT_THRESHOLDS["smollm2-135m"])
        for t in (float(x) for x in spec.split(",")):
            esc = [r["mean_logprob"] is None or r["mean_logprob"] < t or r["refused"] for r in small]
            oks = [lg["ok"] if e else sm["ok"] for e, sm, lg in zip(esc, small, large, strict=True)]
            secs = sum(sm["s"] + (lg["s"] if e else 0.0) for e, sm, lg in zip(esc, small, large, strict=True))
            rows.append(row(f"cascade {c} -> large, threshold {t} (p {math.exp(t):.2f})", oks, sum(esc), secs,
                            "cascade", c, t))
    agree, checked = 0, 0
    if args.plugin_limit and cheap_ids:
        c = cheap_ids[0]
        check = Cascade(small=c, threshold=args.plugin_threshold)
        for it, msgs, sm in zip(items[:args.plugin_limit], prompts, answers[c], strict=False):
            request = pilot.make_request(it["question"], **params)
            gen = check.generate(request, msgs, models[args.large], None, pilot)
            escalated = bool(gen.metadata["cascade"]["escalated"])
            expected = sm["mean_logprob"] is None or sm["mean_logprob"] < args.plugin_threshold or sm["refused"]
            agree += escalated == expected
            checked += 1
    load = os.getloadavg()[0]
    if args.png:
        plot(rows, cheap_ids, args.large, args.png)
    if args.json:
        print(json.dumps({"questions": n, "rows": rows, "plugin_check": {"threshold": args.plugin_threshold,
                                                                       "agree": agree, "checked": checked},
                          "load_average": round(load, 2)}, indent=1))
        return
    print(f"\n{n} questions (BBC dev, answerable, top-{pilot.top_k} retrieved passages, the README's RAG prompt); "
          "correct = gold answer contained in the answer")
    print(f"{'configuration':<62}{'accuracy':>9}{'to large':>9}{'s/q':>8}")
    for r in rows:
        print(f"{r['name']:<62}{r['accuracy']:>9.3f}{r['to_large']:>9.3f}{r['s_per_question']:>8.2f}")
    if checked:
        print(f"the real plugin ({cheap_ids[0]}, threshold {args.plugin_threshold}) made the rule's decision on "
              f"{agree}/{checked} questions")
    print(f"load average at the end: {load:.2f}; answers cached in {runs.path}")


def plot(rows: list[dict[str, Any]], cheap_ids: list[str], large: str, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for c in cheap_ids:
        curve = sorted((r for r in rows if r["kind"] == "cascade" and r["cheap"] == c), key=lambda r: r["to_large"])
        ax.plot([r["to_large"] for r in curve], [r["accuracy"] for r in curve], "o-", label=f"cascade {c} -> {large}")
    for r in rows:
        if r["kind"] in ("cheap", "large"):
            ax.scatter([r["to_large"]], [r["accuracy"]], s=60, zorder=3, label=r["name"])
    ax.set_xlabel(f"share of questions sent to {large}")
    ax.set_ylabel("accuracy (gold answer contained)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()

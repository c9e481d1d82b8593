"""Contrastive decoding vs greedy decoding on open-ended continuations of BBC headlines.

    python benchmarks/contrastive.py [--prompts 12] [--tokens 80] [--expert smollm2-135m]
        [--amateur truncate:16:smollm2-135m] [--beta 0.5] [--alpha 0.1]

The real pair: ``--expert qwen2.5-1.5b --amateur qwen2.5-small-base`` (Qwen2.5-1.5B on llama.cpp, and the
first 4 of its layers distilled from it by ``pilotfish train proxy-pair``: the same tokenizer). Prints, per decoder, the repetition rate (share of 4-grams that
repeat an earlier 4-gram of the same text: lower is better), distinct-2 (share of unique bigrams:
higher is better) and seconds per answer, side by side.
"""

from __future__ import annotations

import argparse
import time

import pilotfish
from pilotfish.plugins.contrastive import Contrastive


def headlines(n: int) -> list[str]:
    from pilotfish.data.corpora import bbc_dir

    files = sorted(bbc_dir().glob("*/*.txt"))
    files = files[:: max(1, len(files) // n)][:n]
    return [f.read_text(encoding="utf-8", errors="replace").splitlines()[0].strip() for f in files]


def rep4(text: str) -> float:
    w = text.lower().split()
    grams = [tuple(w[i:i + 4]) for i in range(len(w) - 3)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def distinct2(text: str) -> float:
    w = text.lower().split()
    grams = [tuple(w[i:i + 2]) for i in range(len(w) - 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=12)
    ap.add_argument("--tokens", type=int, default=80)
    ap.add_argument("--expert", default="smollm2-135m")
    ap.add_argument("--amateur", default="truncate:16:smollm2-135m")
    ap.add_argument("--beta", type=float, action="append", help="repeatable: one contrastive row per value (0.5)")
    ap.add_argument("--alpha", type=float, default=0.1)
    args = ap.parse_args()
    prompts = [f"Write a short news report with the headline: {h}" for h in headlines(args.prompts)]
    decoders = {"greedy": pilotfish.Pilot(model=args.expert)}
    for beta in args.beta or [0.5]:
        decoders[f"contrastive {args.amateur} b={beta}"] = pilotfish.Pilot(
            model=args.expert, plugins=[Contrastive(amateur=args.amateur, beta=beta, alpha=args.alpha)])
    print(f"expert {args.expert}: {len(prompts)} prompts, {args.tokens} new tokens each")
    print(f"{'decoder':<48} {'rep-4 (lower)':>14} {'distinct-2':>11} {'s/answer':>9}")
    for name, pilot in decoders.items():
        pilot.run("warm up", max_tokens=2)
        t0 = time.perf_counter()
        texts = [pilot.run(p, max_tokens=args.tokens).text for p in prompts]
        dt = (time.perf_counter() - t0) / len(prompts)
        r = sum(map(rep4, texts)) / len(texts)
        d = sum(map(distinct2, texts)) / len(texts)
        print(f"{name:<48} {r:14.3f} {d:11.3f} {dt:9.2f}")


if __name__ == "__main__":
    main()

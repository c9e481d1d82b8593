"""Speculative decoding vs the target model alone, side by side (greedy: outputs must match).

    python benchmarks/speculative.py [--tokens 40] [--prompts 3]

Pairs measured:
- target gemma3-270m, draft smollm2-135m (different tokenizers: universal assisted generation);
- target smollm2-135m, draft truncate:16:smollm2-135m (same tokenizer, first 16 of 30 layers).
Prints seconds per answer for each, the speed-up, and whether every output was identical.
"""

from __future__ import annotations

import argparse
import time

import pilotfish
from pilotfish.plugins.speculative import speculative_generate

PROMPTS = [
    "The history of the BBC began in 1922, when",
    "Football in England is organised in leagues.",
    "The price of oil rose sharply last year because",
    "The new mobile phone has a camera and",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=40)
    ap.add_argument("--prompts", type=int, default=3)
    ap.add_argument("--draft-tokens", type=int, nargs="+", default=[3, 8])
    args = ap.parse_args()
    prompts = PROMPTS[: args.prompts]
    pairs = [("gemma3-270m", "smollm2-135m"), ("smollm2-135m", "truncate:16:smollm2-135m")]
    print(f"{'target':<14} {'draft':<26} {'k':>3} {'target s':>9} {'spec s':>8} {'speed-up':>9} identical")
    for target_id, draft_id in pairs:
        target, draft = pilotfish.get_model(target_id), pilotfish.get_model(draft_id)
        target.generate("warm up", max_tokens=2)
        t0 = time.perf_counter()
        plain = [target.generate(p, max_tokens=args.tokens).text for p in prompts]
        t_plain = (time.perf_counter() - t0) / len(prompts)
        for k in args.draft_tokens:
            t0 = time.perf_counter()
            spec = [speculative_generate(target, draft, [{"role": "user", "content": p}], {"max_tokens": args.tokens},
                                         num_assistant_tokens=k).text for p in prompts]
            t_spec = (time.perf_counter() - t0) / len(prompts)
            print(f"{target_id:<14} {draft_id:<26} {k:>3} {t_plain:9.2f} {t_spec:8.2f} {t_plain / t_spec:8.2f}x "
                  f"{spec == plain}")


if __name__ == "__main__":
    main()

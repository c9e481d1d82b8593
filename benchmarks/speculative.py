"""Speculative decoding vs the target model alone, side by side (greedy: outputs must match).

    python benchmarks/speculative.py [--tokens 40] [--prompts 3]         # transformers pairs
    python benchmarks/speculative.py --lookup [--rag 10] [--tokens 64]    # Qwen on llama.cpp, RAG prompts

Transformers pairs (``hf:`` ids, assisted generation):
- target hf:gemma3-270m, draft hf:smollm2-135m (different tokenizers: universal assisted generation);
- target hf:smollm2-135m, draft truncate:16:hf:smollm2-135m (same tokenizer, first 16 of 30 layers).

``--lookup``: target qwen2.5-1.5b on llama.cpp, prompt-lookup drafts, on dev RAG prompts (the dev
questions with passages retrieved from the BBC index, built on first use). Both runs start from the
prompt already in the cache (the prefill is the same for both and is excluded), so the numbers compare
decoding only.
Prints seconds per answer for each, the speed-up, and whether every output was identical.
"""

from __future__ import annotations

import argparse
import os
import time

import pilotfish
from pilotfish.plugins.speculative import speculative_generate


def lookup_benchmark(n: int, tokens: int) -> None:
    import json
    from pathlib import Path

    from pilotfish.core.build import build_pilot
    from pilotfish.plugins.lookup import lookup_generate
    from pilotfish.retrievers.cli import corpus_index

    dev = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "bbc-qa-dev.jsonl"
    if not dev.is_file():
        raise SystemExit(f"the dev QA set is missing: {dev}")
    questions = [json.loads(line)["question"] for line in dev.read_text().splitlines() if line.strip()][:n]
    pilot = build_pilot(None, None, (), index=str(corpus_index("bbc")))
    target = pilotfish.get_model("qwen2.5-1.5b")
    t_plain = t_spec = 0.0
    same = drafted = accepted = 0
    print(f"{'plain s':>8} {'lookup s':>9} {'tokens':>6} {'accept':>7} identical")
    for q in questions:
        request = pilot.make_request(q)
        messages = pilot.hooks.build_messages(request, pilot.retrieve(request), pilot)
        target.generate(messages, max_tokens=1)  # the prompt into the cache
        t0 = time.perf_counter()
        plain = target.generate(messages, max_tokens=tokens)
        t1 = time.perf_counter()
        spec = lookup_generate(target, messages, {"max_tokens": tokens})
        t2 = time.perf_counter()
        meta = spec.metadata["speculative"]
        t_plain, t_spec = t_plain + t1 - t0, t_spec + t2 - t1
        same += plain.text == spec.text
        drafted, accepted = drafted + meta["drafted"], accepted + meta["accepted"]
        print(f"{t1 - t0:8.2f} {t2 - t1:9.2f} {spec.completion_tokens:6d} {meta['acceptance_rate']:7.2f} "
              f"{plain.text == spec.text}", flush=True)
    print(f"\nqwen2.5-1.5b, {n} RAG answers, {tokens} tokens max: plain {t_plain:.1f} s, lookup {t_spec:.1f} s, "
          f"speed-up {t_plain / t_spec:.2f}x, acceptance {accepted / max(drafted, 1):.2f}, identical {same}/{n}, "
          f"load {os.getloadavg()[0]:.2f}")


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
    ap.add_argument("--lookup", action="store_true", help="Qwen on llama.cpp with prompt-lookup drafts")
    ap.add_argument("--rag", type=int, default=10, help="dev RAG prompts for --lookup")
    args = ap.parse_args()
    if args.lookup:
        lookup_benchmark(args.rag, args.tokens)
        return
    prompts = PROMPTS[: args.prompts]
    pairs = [("hf:gemma3-270m", "hf:smollm2-135m"), ("hf:smollm2-135m", "truncate:16:hf:smollm2-135m")]
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

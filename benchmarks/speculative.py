"""Speculative decoding vs the target model alone, side by side (greedy: outputs must match).

    python benchmarks/speculative.py [--rag 30] [--tokens 64] [--png docs/speculative.png]   # llama.cpp
    python benchmarks/speculative.py --hf [--tokens 40] [--prompts 3]                          # transformers

Default: target qwen2.5-1.5b on llama.cpp, on dev RAG prompts (the dev questions with passages retrieved
from the BBC index, built on first use), greedy. Per prompt, interleaved so machine load hits all alike:
plain decoding; pilotfish speculative with each draft source (``lookup``; ``smollm2-135m``, another
tokenizer), each exact (the default: passes only as long as are bitwise equal to one-token passes) and
fast (``exact=False``: longer passes on llama.cpp's faster batch kernels); and the peer,
llama-cpp-python's ``LlamaPromptLookupDecoding`` on the same GGUF and thread count. Every run starts with the prompt already in its cache (the prefill is the same for all and is
excluded), so the numbers compare decoding only. Counts (and prints) outputs that differ from plain's.
Prints a table (seconds, speed-up over plain, acceptance, target passes) and saves a bar chart.

``--hf``: transformers pairs (assisted generation): target hf:gemma3-270m with draft hf:smollm2-135m, and
hf:smollm2-135m with truncate:16:hf:smollm2-135m.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pilotfish
from pilotfish.plugins.speculative import speculative_generate


def rag_messages(n: int) -> list[list[dict[str, str]]]:
    from pilotfish.core.build import build_pilot
    from pilotfish.retrievers.cli import corpus_index

    dev = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "bbc-qa-dev.jsonl"
    if not dev.is_file():
        raise SystemExit(f"the dev QA set is missing: {dev}")
    questions = [json.loads(line)["question"] for line in dev.read_text().splitlines() if line.strip()][:n]
    pilot = build_pilot(None, None, (), index=str(corpus_index("bbc")))
    out = []
    for q in questions:
        request = pilot.make_request(q)
        msgs = pilot.hooks.build_messages(request, pilot.retrieve(request), pilot)
        out.append([{"role": m["role"], "content": m["content"]} if isinstance(m, dict)
                    else {"role": m.role, "content": m.content} for m in msgs])
    return out


def peer_model(target: object) -> object:
    """llama-cpp-python's own speculative decoding (prompt lookup) on the same GGUF and thread count."""
    from llama_cpp import Llama
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    from pilotfish.core.threads import threads_now

    n = threads_now()
    # logits_all=True by hand: 0.3.36 sizes its score buffer from the argument, not from draft_model, and
    # fails on the first prompt longer than n_batch without it
    return Llama(model_path=str(target.path), n_ctx=4096, n_batch=512, n_threads=n, n_threads_batch=n, verbose=False,
                 logits_all=True,
                 draft_model=LlamaPromptLookupDecoding(num_pred_tokens=10))


def llamacpp_benchmark(n: int, tokens: int, png: str | None, peer: bool) -> None:
    from pilotfish.plugins.spec_drafts import LookupDrafter, RetokenizedDrafter
    from pilotfish.plugins.spec_loop import exact_batch, speculative_decode

    prompts = rag_messages(n)
    target = pilotfish.get_model("qwen2.5-1.5b")
    small = pilotfish.get_model("smollm2-135m")
    llama = peer_model(target) if peer else None
    variants = [("lookup", "lookup", True), ("lookup fast", "lookup", False),
                ("smollm2-135m", "smollm2-135m", True), ("smollm2-135m fast", "smollm2-135m", False)]
    names = ["plain"] + [v[0] for v in variants] + (["peer lookup"] if peer else [])
    secs = dict.fromkeys(names, 0.0)
    stats = {k: {"drafted": 0, "accepted": 0, "passes": 0} for k in names}
    same = dict.fromkeys(names, 0)
    n_tokens = 0
    mismatches: list[tuple[int, str, str, str]] = []
    print(f"exact mode verifies at most {exact_batch(target)} positions per pass (bitwise equal to one-token passes)")
    print(f"{'#':>3} {'tokens':>6} " + " ".join(f"{k:>13}" for k in names) + "  (seconds)", flush=True)
    for i, msgs in enumerate(prompts):
        ids = target.prompt_ids(msgs)
        target.generate(msgs, max_tokens=1)  # the prompt into the cache
        small.next_token_logits(small.prompt_ids(msgs))  # the draft's prompt too
        if llama is not None:
            llama.create_completion(ids, max_tokens=1, temperature=0.0)
        row = {}
        t0 = time.perf_counter()
        plain = target.generate(msgs, max_tokens=tokens)
        row["plain"] = time.perf_counter() - t0
        for name, source, exact in variants:
            drafter = LookupDrafter() if source == "lookup" else RetokenizedDrafter(small, target, msgs, len(ids))
            t0 = time.perf_counter()
            gen = speculative_decode(target, drafter, msgs, {"max_tokens": tokens}, exact=exact)
            row[name] = time.perf_counter() - t0
            meta = gen.metadata["speculative"]
            stats[name]["drafted"] += meta["drafted"]
            stats[name]["accepted"] += meta["accepted"]
            stats[name]["passes"] += meta["target_passes"]
            same[name] += gen.text == plain.text
            if gen.text != plain.text:
                mismatches.append((i, name, plain.text, gen.text))
        if llama is not None:
            t0 = time.perf_counter()
            got = llama.create_completion(ids, max_tokens=tokens, temperature=0.0)
            row["peer lookup"] = time.perf_counter() - t0
            same["peer lookup"] += got["choices"][0]["text"] == plain.text
        same["plain"] += 1
        n_tokens += plain.completion_tokens
        for k in names:
            secs[k] += row[k]
        print(f"{i:3d} {plain.completion_tokens:6d} " + " ".join(f"{row[k]:13.2f}" for k in names), flush=True)
    load = os.getloadavg()
    print(f"\nqwen2.5-1.5b on llama.cpp, {n} dev RAG answers, greedy, at most {tokens} new tokens ({n_tokens} in all), "
          f"{os.environ.get('PILOTFISH_THREADS', 'default')} thread(s), load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'decoder':<20} {'seconds':>8} {'tokens/s':>9} {'vs plain':>9} {'acceptance':>11} {'passes':>7} identical")
    for k in names:
        s = stats[k]
        acc = f"{s['accepted'] / s['drafted']:.2f}" if s["drafted"] else "-"
        passes = str(s["passes"]) if s["passes"] else "-"
        print(f"{k:<20} {secs[k]:8.1f} {n_tokens / secs[k]:9.2f} {secs['plain'] / secs[k]:8.2f}x {acc:>11} {passes:>7} "
              f"{same[k]}/{n}")
    for i, name, want, got in mismatches:
        print(f"NOT IDENTICAL: prompt {i}, {name}:\n  plain: {want!r}\n  spec:  {got!r}")
    if peer:
        print(f"pilotfish lookup vs the peer: {secs['peer lookup'] / secs['lookup']:.2f}x")
    if png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.2))
        speed = [secs["plain"] / secs[k] for k in names]
        ax.barh(names[::-1], speed[::-1], color=["#888" if k.startswith("peer") else "#2a7" for k in names[::-1]])
        ax.axvline(1.0, color="k", lw=0.8)
        for y, v in enumerate(speed[::-1]):
            ax.text(v, y, f" {v:.2f}x", va="center")
        ax.set_xlabel("speed-up over plain decoding (greedy, prompt cached)")
        ax.set_title(f"qwen2.5-1.5b, {n} RAG answers, load {load[0]:.1f}", fontsize=10)
        fig.tight_layout()
        fig.savefig(png, dpi=110)
        print("saved", png)


PROMPTS = [
    "The history of the BBC began in 1922, when",
    "Football in England is organised in leagues.",
    "The price of oil rose sharply last year because",
    "The new mobile phone has a camera and",
]


def hf_benchmark(args: argparse.Namespace) -> None:
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rag", type=int, default=30, help="dev RAG prompts (llama.cpp benchmark)")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--png", default="docs/speculative.png")
    ap.add_argument("--no-peer", action="store_true", help="skip llama-cpp-python's LlamaPromptLookupDecoding")
    ap.add_argument("--hf", action="store_true", help="the transformers pairs instead")
    ap.add_argument("--prompts", type=int, default=3)
    ap.add_argument("--draft-tokens", type=int, nargs="+", default=[3, 8])
    args = ap.parse_args()
    if args.hf:
        hf_benchmark(args)
    else:
        llamacpp_benchmark(args.rag, args.tokens, args.png or None, not args.no_peer)


if __name__ == "__main__":
    main()

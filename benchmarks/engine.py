"""The llama.cpp backend against the binding's own generation loop and the transformers backend.

    python benchmarks/engine.py [--tokens 64] [--prompt-words 250] [--threads 1 2] [--png engine.png]

Same GGUF files, one process, side by side:
- ``pilotfish``: :class:`pilotfish.models.llamacpp.LlamaCppModel` (its engine loop, prefix cache, sampling in numpy);
- ``binding``: llama-cpp-python's own ``Llama.eval`` (prefill) and ``create_chat_completion`` (generation);
- ``xllamacpp`` (when installed: ``pip install xllamacpp``): a prebuilt wheel with llama.cpp's server API,
  timed by the server itself;
- ``transformers``: pilotfish's HF backend (fp32, SmolLM2 only: Qwen in fp32 would need 6 GB and a
  10-minute conversion).
For each model and thread count it reports prefill tokens/s (a fresh prompt of ``--prompt-words``
words) and generation tokens/s (greedy, ``--tokens`` new tokens, prefill excluded), and the load average
before each row, since other processes change these numbers a lot on a 2-core machine. Goals (issue
13): pilotfish within 10% of the binding, at least 8x the transformers backend on SmolLM2.
"""

from __future__ import annotations

import argparse
import os
import time

import pilotfish
from pilotfish.models.llamacpp import LlamaCppModel
from pilotfish.models.packaged import gguf_path

TEXT = ("The BBC reported that the company's profits rose sharply in the third quarter, helped by strong "
        "sales of its new products in Asia and Europe, while costs fell after a restructuring. ")
STORY = "Write a long, detailed story about a lighthouse keeper who finds a message in a bottle."


def prompt_of(words: int, salt: int) -> str:
    base = (TEXT * (words // len(TEXT.split()) + 1)).split()[:words]
    return f"[{salt}] " + " ".join(base) + "\nSummarise the text above."


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def bench_pilotfish(path: str, threads: int, tokens: int, words: int) -> tuple[float, float]:
    os.environ["PILOTFISH_THREADS"] = str(threads)
    m = LlamaCppModel(path, "bench", context_window=2048, parallel=2)
    m.generate("warm up", max_tokens=2)
    ids = m.prompt_ids(prompt_of(words, threads))
    t0 = time.perf_counter()
    m.next_token_logits(ids)
    prefill = len(ids) / (time.perf_counter() - t0)
    p = [{"role": "user", "content": STORY}]
    n_prompt = len(m.prompt_ids(p))
    t0 = time.perf_counter()
    g = m.generate(p, max_tokens=tokens)
    total = time.perf_counter() - t0
    gen = g.completion_tokens / max(total - n_prompt / prefill, 1e-6)
    m.close()
    return prefill, gen


def bench_binding(path: str, threads: int, tokens: int, words: int) -> tuple[float, float]:
    from llama_cpp import Llama

    llm = Llama(model_path=path, n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False)
    llm.create_completion("warm up", max_tokens=2)
    llm.reset()
    ids = llm.tokenize(prompt_of(words, threads + 10).encode(), add_bos=False, special=True)
    t0 = time.perf_counter()
    llm.eval(ids)
    prefill = len(ids) / (time.perf_counter() - t0)
    llm.reset()
    t0 = time.perf_counter()
    out = llm.create_chat_completion([{"role": "user", "content": STORY}], max_tokens=tokens, temperature=0.0)
    total = time.perf_counter() - t0
    n, n_prompt = out["usage"]["completion_tokens"], out["usage"]["prompt_tokens"]
    return prefill, n / max(total - n_prompt / prefill, 1e-6)


def bench_xllamacpp(path: str, threads: int, tokens: int, words: int) -> tuple[float, float]:
    """xllamacpp (a prebuilt wheel with llama.cpp's server API): its own timings of prefill and generation."""
    import xllamacpp as xlc

    p = xlc.CommonParams()
    p.model.path = path
    p.n_ctx = 2048
    p.cpuparams.n_threads = threads
    p.cpuparams_batch.n_threads = threads
    p.n_parallel = 1
    server = xlc.Server(p)
    server.handle_completions({"prompt": "warm up", "n_predict": 2})
    pre = server.handle_completions({"prompt": prompt_of(words, threads + 30), "n_predict": 1, "cache_prompt": False})
    out = server.handle_chat_completions({"messages": [{"role": "user", "content": STORY}], "max_tokens": tokens,
                                          "temperature": 0})
    return float(pre["timings"]["prompt_per_second"]), float(out["timings"]["predicted_per_second"])


def bench_transformers(threads: int, tokens: int, words: int) -> tuple[float, float]:
    import torch

    torch.set_num_threads(threads)
    m = pilotfish.get_model("hf:smollm2-135m")
    m.generate("warm up", max_tokens=2)
    ids = m.prompt_ids(prompt_of(words, threads + 20))
    t0 = time.perf_counter()
    m.next_token_logits(ids)
    prefill = len(ids) / (time.perf_counter() - t0)
    p = [{"role": "user", "content": STORY}]
    n_prompt = len(m.prompt_ids(p))
    t0 = time.perf_counter()
    g = m.generate(p, max_tokens=tokens)
    total = time.perf_counter() - t0
    return prefill, g.completion_tokens / max(total - n_prompt / prefill, 1e-6)


def has_xllamacpp() -> bool:
    import importlib.util

    return importlib.util.find_spec("xllamacpp") is not None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--prompt-words", type=int, default=250)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--models", nargs="+", default=["smollm2-135m", "qwen2.5-1.5b"])
    ap.add_argument("--png", default=None, help="write a bar chart of generation tokens/s")
    args = ap.parse_args()
    rows = []
    print(f"{'model':<14} {'thr':>3} {'engine':<13} {'prefill tok/s':>14} {'gen tok/s':>10} {'load':>6}")
    for name in args.models:
        path = str(gguf_path(name))
        for threads in args.threads:
            engines = ["pilotfish", "binding"] + (["xllamacpp"] if has_xllamacpp() else [])
            engines += ["transformers"] if name == "smollm2-135m" else []
            for engine in engines:
                before = load()
                if engine == "pilotfish":
                    prefill, gen = bench_pilotfish(path, threads, args.tokens, args.prompt_words)
                elif engine == "binding":
                    prefill, gen = bench_binding(path, threads, args.tokens, args.prompt_words)
                elif engine == "xllamacpp":
                    prefill, gen = bench_xllamacpp(path, threads, args.tokens, args.prompt_words)
                else:
                    prefill, gen = bench_transformers(threads, args.tokens, args.prompt_words)
                rows.append((name, threads, engine, prefill, gen))
                print(f"{name:<14} {threads:>3} {engine:<13} {prefill:14.1f} {gen:10.1f} {before:>6}", flush=True)
    print("\nratios (generation tokens/s):")
    for name in args.models:
        for threads in args.threads:
            r = {e: g for (n, t, e, _, g) in rows if n == name and t == threads}
            line = f"  {name} {threads} thread(s): pilotfish / binding = {r['pilotfish'] / r['binding']:.2f}"
            if "xllamacpp" in r:
                line += f", pilotfish / xllamacpp = {r['pilotfish'] / r['xllamacpp']:.2f}"
            if "transformers" in r:
                line += f", pilotfish / transformers = {r['pilotfish'] / r['transformers']:.1f}x"
            print(line)
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        labels = [f"{n.split('-')[0]}\n{t}thr\n{e}" for (n, t, e, _, _) in rows]
        fig, ax = plt.subplots(figsize=(max(6, len(rows) * 0.9), 4))
        colour = {"pilotfish": "C0", "binding": "C1", "xllamacpp": "C3", "transformers": "C2"}
        ax.bar(range(len(rows)), [g for *_, g in rows], color=[colour[e] for (_, _, e, _, _) in rows])
        ax.set_xticks(range(len(rows)), labels, fontsize=7)
        ax.set_ylabel("generation tokens/s")
        ax.set_title("llama.cpp backend vs binding loop vs transformers (same GGUF)")
        fig.tight_layout()
        fig.savefig(args.png, dpi=120)
        print(f"wrote {args.png}")


if __name__ == "__main__":
    main()

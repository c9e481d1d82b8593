"""Time to the first token of ``pilotfish ask --stream``, as a user sees it: from starting the process to the
first byte of the answer on stdout, and to the process's end, side by side in one run.

    python benchmarks/first_token.py [--questions 3] [--models smollm2-135m,qwen2.5-1.5b] [--threads 1]

Rows (each question once per row, the rows interleaved so a change in the machine's load hits them alike, a
fresh process every time, the model cache already built: GGUFs joined, the BBC index built):

- ``chat``: ``pilotfish ask -m MODEL --stream QUESTION``, no retrieval (process start, plugin discovery, the
  GGUF mmapped, a ~40-token prompt prefilled);
- ``rag``: ``pilotfish ask -m MODEL --corpus bbc --stream QUESTION`` (the README's first command: retrieval,
  then a ~780-token prompt with five passages; the verifier runs after the text, so it does not delay it);
- ``rag+compress``: the same with ``-p compress`` as it comes (ratio 3, sentences ranked by ``minilm-int8``), the
  prompt ~380 tokens;
- ``rag+compress-reader``: ``compress`` with ``guide = "reader"`` at ratio 8, the prompt ~230 tokens (the reader
  runs on torch).

Goal (the engine issue): the first token within 3 s once the cache is built. Prints medians per row and the
load average beside each, and the ratio of each row's first-token time to its whole process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "Which company did Lakshmi Mittal run?",  # the README's question
    "Who won the Australian Open men's singles title in 2005?",
    "What did the Bank of England do to interest rates?",
]
COMPRESS = '[pilotfish.plugin.compress]\nratio = 8.0\nguide = "reader"\n'


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(seconds to the first byte on stdout, seconds to the exit, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    first = None
    out = b""
    while chunk := os.read(proc.stdout.fileno(), 4096):
        if first is None:
            first = time.perf_counter() - start
        out += chunk
    err = proc.stderr.read()
    if proc.wait() != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{err.decode()[-2000:]}")
    return first or float("nan"), time.perf_counter() - start, out.decode()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=int, default=3)
    ap.add_argument("--models", default="smollm2-135m,qwen2.5-1.5b")
    ap.add_argument("--threads", default="1", help="PILOTFISH_THREADS of the processes")
    ap.add_argument("--rows", default="chat,rag,rag+compress,rag+compress-reader")
    args = ap.parse_args()
    env = {**os.environ, "PILOTFISH_THREADS": args.threads}
    cfg = Path(tempfile.mkdtemp()) / "compress.toml"
    cfg.write_text(COMPRESS)
    base = [sys.executable, "-m", "pilotfish", "ask", "--stream", "--max-tokens", "48"]
    rows: dict[str, list[str]] = {}
    for model in args.models.split(","):
        for row in args.rows.split(","):
            extra = {"chat": [], "rag": ["--corpus", "bbc"], "rag+compress": ["--corpus", "bbc", "-p", "compress"],
                     "rag+compress-reader": ["--corpus", "bbc", "-p", "compress", "-c", str(cfg)]}[row]
            rows[f"{model} {row}"] = ["-m", model, *extra]
    # warm the page cache and build anything missing (not timed)
    for name, extra in rows.items():
        timed([*base, *extra, QUESTIONS[0]], env)
        print(f"warmed {name}", file=sys.stderr, flush=True)
    got: dict[str, list[tuple[float, float, float]]] = {name: [] for name in rows}
    for q in QUESTIONS[: args.questions]:
        for name, extra in rows.items():
            first, total, out = timed([*base, *extra, q], env)
            got[name].append((first, total, os.getloadavg()[0]))
            print(f"[{name}] {first:.2f} s first token, {total:.2f} s in all, load {got[name][-1][2]:.2f}: "
                  f"{out.strip().splitlines()[0][:80]!r}", file=sys.stderr, flush=True)
    print(f"\n`pilotfish ask --stream`, {args.questions} questions, threads {args.threads}, medians; goal: the first "
          "token within 3 s\n")
    print("| row | first token s | whole process s | first / whole | within 3 s | load average |")
    print("|---|---|---|---|---|---|")
    for name, vals in got.items():
        first = statistics.median(v[0] for v in vals)
        total = statistics.median(v[1] for v in vals)
        loads = [v[2] for v in vals]
        hits = sum(v[0] <= 3.0 for v in vals)
        print(f"| {name} | {first:.2f} | {total:.2f} | {first / total:.2f} | {hits}/{len(vals)} | "
              f"{min(loads):.1f}-{max(loads):.1f} |")


if __name__ == "__main__":
    main()

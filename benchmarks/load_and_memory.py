"""Load time (first: GGUF conversion; cached: the safetensors copy) and peak memory of a whole
`pilotfish ask` process on each packaged model.

    python benchmarks/load_and_memory.py [--models smollm2-135m gemma3-270m]

Each measurement runs `pilotfish ask` in a fresh interpreter, itself started by a fresh
measuring interpreter so that ru_maxrss (the peak resident set of waited-for children) belongs
to that one run. The first run uses an empty temporary cache; the cached run reuses it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

MEASURE = r"""
import json, resource, subprocess, sys, time
t = time.perf_counter()
p = subprocess.run([sys.executable, "-m", "pilotfish", "ask", "-m", sys.argv[1], "--max-tokens", "16", sys.argv[2]],
                   capture_output=True, text=True)
print(json.dumps([time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                  p.returncode, p.stdout.strip()[:60]]))
"""

QUESTIONS = {"smollm2-135m": "What is the capital of France?", "gemma3-270m": "The Eiffel Tower is in the city of"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=list(QUESTIONS))
    args = ap.parse_args()
    print(f"{'model':<14} {'load':<7} {'wall s':>7} {'peak MB':>8}  answer")
    for model in args.models:
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "PILOTFISH_CACHE": cache, "TQDM_DISABLE": "1"}
            for label in ("first", "cached"):
                out = subprocess.run([sys.executable, "-c", MEASURE, model, QUESTIONS.get(model, "Hello")],
                                     capture_output=True, text=True, env=env, check=True)
                wall, peak, rc, answer = json.loads(out.stdout)
                assert rc == 0, f"pilotfish ask failed for {model}"
                print(f"{model:<14} {label:<7} {wall:7.1f} {peak:8.0f}  {answer!r}")


if __name__ == "__main__":
    main()

"""Where the time of one later ``pilotfish ask --corpus bbc`` goes, phase by phase, side by side.

    python benchmarks/ask_latency.py [--questions 3] [--threads 1,2] [--configs torch,onnx]

Each question is asked once per configuration, the configurations interleaved (so a change in the
machine's load hits them alike), each in a fresh process, as a later answer is (index built, Qwen joined):

- ``driver`` processes follow the CLI's path (``pilotfish.cli``: plugin commands, ``corpus_index``,
  ``pilot_for_command``) with a timestamp after each phase: imports, plugin discovery, index open, query
  encoder load, retrievers' load + search, Qwen load, prompt tokens, prefill (to the first token),
  generation, the verification judge per claim, and the exit (the process's wall clock after the last
  timestamp);
- ``cli`` processes run the real ``pilotfish ask --corpus bbc`` and give the whole-process wall time.

Configurations: ``torch`` is the baseline, as before this change (the query encoder ``minilm`` on torch:
``[pilotfish.plugin.dense] model = "minilm"``; the model loaded after retrieval: ``PILOTFISH_PRELOAD=0``);
``onnx-nopreload`` encodes the query on ONNX Runtime (no torch import); ``onnx`` is the default now (ONNX,
and Qwen loading in the background while the question is retrieved; the driver loads it after retrieval
either way, so only the ``cli`` wall time shows the overlap). ``--threads`` sets ``PILOTFISH_THREADS`` per run. The index of ``--corpus bbc``
in ``$PILOTFISH_CACHE`` is used (built first when missing). Prints medians per phase and configuration,
with ratios to the first configuration, and the load average beside every measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mdtable import md_header, md_row

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "data" / "bbc-qa-dev.jsonl"
CONFIGS = {
    # (pilotfish.toml, environment)
    "torch": ('[pilotfish.plugin.dense]\nmodel = "minilm"\n', {"PILOTFISH_PRELOAD": "0"}),  # before this change
    "onnx-nopreload": ("[pilotfish]\n", {"PILOTFISH_PRELOAD": "0"}),
    "onnx": ("[pilotfish]\n", {}),  # the default now
}


def load() -> float:
    return os.getloadavg()[0]


def driver(question: str, config: str | None, t_launch: float) -> None:
    """One ask along the CLI's path, printing one JSON object of phase times (seconds)."""
    marks: dict[str, float] = {}
    t = time.time()
    marks["start + python"] = t - t_launch

    def mark(name: str) -> None:
        nonlocal t
        now = time.time()
        marks[name] = now - t
        t = now

    import pilotfish.cli as cli

    mark("import pilotfish.cli")
    cli.load_plugin_commands()
    mark("plugin discovery")
    pilot = cli.pilot_for_command(config, None, (), "bbc", None, None)
    mark("index open + build pilot")
    from pilotfish.core.models import get_model, loaded_models

    docs = pilot.retrieve(question)
    mark("retrievers: load + query encoder + search")
    encoder = [m for m in loaded_models() if m.startswith("minilm")]
    get_model(pilot.model)
    mark("qwen load")
    first: list[float] = []
    run_start = time.time()
    answer = pilot.run(question, on_token=lambda _: first or first.append(time.time()))
    mark("pilot.run")
    trace = {f"{e.hook}:{e.plugin}": e.duration_s for e in answer.trace}
    pre = sum(v for k, v in trace.items() if k.split(":")[0] in ("route", "retrieve", "rerank", "build_messages"))
    gen = trace.get("generate:core", 0.0)
    prefill = (first[0] - run_start - pre) if first else gen
    usage = answer.usage.models.get(str(pilot.model))
    claims = max(1, len(answer.verdicts))
    out = {
        **marks,
        "retrieve again (warm)": pre,
        "prefill (to the first token)": prefill,
        "generation (after the first token)": gen - prefill,
        "verify (judge), per claim": trace.get("verify:entailment", 0.0) / claims,
        "_claims": len(answer.verdicts),
        "_prompt_tokens": usage.prompt_tokens if usage else 0,
        "_completion_tokens": usage.completion_tokens if usage else 0,
        "_encoder": ",".join(encoder),
        "_torch_imported": "torch" in sys.modules,
        "_docs": [d.id for d in docs],
        "_text": answer.text,
        "_end": time.time(),
    }
    print("PHASES " + json.dumps(out), flush=True)


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, str, float]:
    start = time.time()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    end = time.time()
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return end - start, out.stdout, end


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--configs", default="torch,onnx")
    ap.add_argument("--driver", nargs=3, metavar=("QUESTION", "CONFIG", "LAUNCH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.driver:
        q, cfg, launch = args.driver
        driver(q, cfg or None, float(launch))
        return
    rows = [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()]
    questions = [r["question"] for r in rows if r.get("answer")][: args.questions]
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    threads = [t.strip() for t in args.threads.split(",") if t.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="pf-ask-latency-"))
    paths = {}
    for c in configs:
        paths[c] = tmp / f"{c}.toml"
        paths[c].write_text(CONFIGS[c][0])
    env0 = {k: v for k, v in os.environ.items() if k != "PILOTFISH_PRELOAD"}
    print(f"cache {env0.get('PILOTFISH_CACHE', '(default)')}; load {load():.2f}", flush=True)
    subprocess.run([sys.executable, "-m", "pilotfish", "ask", "--corpus", "bbc", "-c", str(paths[configs[-1]]),
                    "warm-up: is the index built?"], env=env0, capture_output=True, cwd=ROOT, check=True)
    phases: dict[tuple[str, str], list[dict]] = {}
    walls: dict[tuple[str, str], list[float]] = {}
    for th in threads:
        for q in questions:
            for c in configs:
                env = {**env0, "PILOTFISH_THREADS": th, **CONFIGS[c][1]}
                wall, out, end = run([sys.executable, __file__, "--driver", q, str(paths[c]), repr(time.time())], env)
                p = json.loads(out[out.index("PHASES ") + 7:])
                p["exit"] = end - p.pop("_end")
                p["wall (driver)"] = wall
                phases.setdefault((th, c), []).append(p)
                cli_wall, _, _ = run([sys.executable, "-m", "pilotfish", "ask", "--corpus", "bbc", "-c", str(paths[c]), q],
                                     env)
                walls.setdefault((th, c), []).append(cli_wall)
                print(f"threads={th} {c:6s} cli {cli_wall:5.1f} s  driver {wall:5.1f} s  prompt {p['_prompt_tokens']} tok  "
                      f"encoder={p['_encoder']} torch={p['_torch_imported']}  {p['_text'][:60]!r}  (load {load():.2f})",
                      flush=True)
    keys = [k for k in next(iter(phases.values()))[0] if not k.startswith("_")]
    for th in threads:
        cols = [(th, c) for c in configs]
        print(f"\nthreads={th} (medians over {len(questions)} questions; load at the end {load():.2f})")
        print(md_header(["phase", *(c for _, c in cols), "ratio"]))
        for k in keys:
            vals = [statistics.median(p[k] for p in phases[col]) for col in cols]
            ratio = f"{vals[0] / vals[-1]:.2f}x" if len(vals) > 1 and vals[-1] > 0.005 else ""
            print(md_row([k, *(f"{v:.2f}" for v in vals), ratio]))
        vals = [statistics.median(walls[col]) for col in cols]
        print(md_row(["**`pilotfish ask` process, wall**", *(f"**{v:.2f}**" for v in vals),
                      f"**{vals[0] / vals[-1]:.2f}x**" if len(vals) > 1 else ""]))
        toks = [statistics.median(p["_prompt_tokens"] for p in phases[col]) for col in cols]
        print(md_row(["prompt tokens", *(f"{v:.0f}" for v in toks), ""]))


if __name__ == "__main__":
    main()

"""A new user's first run: fresh clone and venv, the README's first command, then dev questions.

    python benchmarks/first_run.py [--questions 10] [--skip-install --venv .venv]

1. clones this repository into a temporary folder, makes a venv and runs ``scripts/install.sh`` (timed);
2. with an empty model cache, runs the README's first command,
   ``pilotfish ask --corpus bbc "Which company did Lakshmi Mittal run?"`` (joins Qwen, builds the BBC
   index, answers; timed, peak RSS);
3. asks ``--questions`` answerable dev questions (``../shared/data/bbc-qa-dev.jsonl``) the same way, one
   ``pilotfish ask --corpus bbc --json`` process each.

Reports install time, first-answer time, per-question p50/p95, peak RSS, gold answer in the answer, the
share of answers with a valid ``[n]`` citation, and the share whose verdicts are shown (or that are
refusals). Goals (issue 18): first answer within 15 minutes of a fresh clone, later answers p50 under
20 s, gold in at least 70%, a citation in at least 80%. Prints the load average beside every time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mdtable import md_table

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "data" / "bbc-qa-dev.jsonl"
FIRST = "Which company did Lakshmi Mittal run?"


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int, str]:
    """(seconds, peak RSS in MB, stdout) of a command, measured with GNU time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        start = time.perf_counter()
        out = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", t.name, *cmd], env=env, cwd=cwd,
                             capture_output=True, text=True)
        seconds = time.perf_counter() - start
        rss = int((t.read().strip().splitlines() or ["0"])[-1]) // 1024
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return seconds, rss, out.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=10)
    ap.add_argument("--skip-install", action="store_true", help="use --venv instead of a fresh clone and venv")
    ap.add_argument("--venv", default=str(ROOT / ".venv"))
    args = ap.parse_args()
    if not DEV.is_file():
        raise SystemExit(f"the dev QA set is missing: {DEV}")
    work = Path(tempfile.mkdtemp(prefix="pilotfish-first-run-"))
    env = {**os.environ, "PILOTFISH_CACHE": str(work / "cache")}
    env.pop("PILOTFISH_THREADS", None)
    if args.skip_install:
        venv, repo = Path(args.venv), ROOT
        install_s = None
    else:
        repo = work / "repo"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
        venv = work / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        env_i = {**env, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}:{env['PATH']}"}
        print(f"installing into {venv} ({load()})", flush=True)
        install_s, _, _ = timed(["bash", "scripts/install.sh"], env_i, repo)
        print(f"install: {install_s / 60:.1f} min ({load()})", flush=True)
    env = {**env, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}:{env['PATH']}"}
    first_s, first_rss, first_out = timed(["pilotfish", "ask", "--corpus", "bbc", FIRST], env, repo)
    print(f"first answer (index build included): {first_s:.0f} s, peak {first_rss} MB ({load()})\n{first_out}", flush=True)
    rows = [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()]
    questions = [r for r in rows if r.get("answer")][: args.questions]
    times, rss, gold, cited, shown = [], [first_rss], 0, 0, 0
    for q in questions:
        s, peak, out = timed(["pilotfish", "ask", "--corpus", "bbc", "--json", q["question"]], env, repo)
        a = json.loads(out[out.index("{"):])
        nums = [int(n) for n in re.findall(r"\[(\d+)\]", a["text"])]
        ok_cite = bool(nums) and all(1 <= n <= len(a["documents"]) for n in nums)
        times.append(s)
        rss.append(peak)
        gold += q["answer"].lower() in a["text"].lower()
        cited += ok_cite
        shown += bool(a["verdicts"]) or bool(a.get("refused"))
        print(f"{s:6.1f} s  cited={ok_cite}  gold={q['answer'].lower() in a['text'].lower()}  "
              f"verdicts={len(a['verdicts'])}  {a['text'][:90]!r}  ({load()})", flush=True)
    n = len(questions)
    times.sort()
    rows = []
    if install_s is not None:
        rows.append(["install (fresh clone, venv, scripts/install.sh)", f"{install_s / 60:.1f} min", ""])
        rows.append(["first answer after a fresh clone", f"{(install_s + first_s) / 60:.1f} min", "< 15 min"])
    rows += [
        ["first answer (Qwen joined, BBC index built)", f"{first_s:.0f} s", ""],
        ["later answers, p50 / p95", f"{statistics.median(times):.1f} / {times[int(0.95 * (n - 1))]:.1f} s", "p50 < 20 s"],
        ["peak RSS", f"{max(rss)} MB", ""],
        ["gold answer in the answer", f"{gold}/{n}", ">= 70%"],
        ["valid [n] citation", f"{cited}/{n}", ">= 80%"],
        ["verdicts shown (or a refusal)", f"{shown}/{n}", ""],
    ]
    print("\n" + md_table(["measure", "value", "goal"], rows))


if __name__ == "__main__":
    main()

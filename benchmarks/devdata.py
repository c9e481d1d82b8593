"""Where the benchmarks find the shared dev sets and keep their work folders.

The dev sets live outside the repository, in ``../shared/data`` next to it (never under a fixed
machine path), or wherever ``--queries`` / ``--claims`` point; a missing one stops the benchmark
with a message saying where it was looked for. Work folders that a benchmark reuses between runs
(indexes, checkpoints) are named under the system temp dir (``tempfile.gettempdir()``) unless
``--work`` says otherwise, and each benchmark's ``--help`` prints the resolved folder.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO / ".." / "shared" / "data"
QA_DEV = "bbc-qa-dev.jsonl"
CLAIMS_DEV = "bbc-claims-dev.jsonl"


def dev_file(name: str, given: str | Path | None = None, option: str = "--queries") -> Path:
    """The dev set ``name`` (``given`` when set, else ``../shared/data/name``); exits with a clear
    message when it is missing, so that no benchmark runs without its dev-article exclusion."""
    path = Path(given) if given else SHARED_DATA / name
    if not path.is_file():
        sys.exit(f"dev set not found: {path.resolve()} (expected {name} in ../shared/data next to the repository, "
                 f"{SHARED_DATA.resolve()}); pass its path with {option}")
    return path


def work_dir(name: str) -> Path:
    """A work folder reused between runs: ``<system temp dir>/<name>``."""
    return Path(tempfile.gettempdir()) / name

"""Issue 17, item 17: no machine paths; the dev sets are found next to the repository or given."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_no_machine_paths_in_code_or_tests() -> None:
    fixed = re.compile(r"""["'](/work/|/tmp/)""")
    found = [f"{p.relative_to(ROOT)}:{n}" for folder in ("src", "benchmarks", "tests", "scripts")
             for p in (ROOT / folder).rglob("*.py") if p.resolve() != Path(__file__).resolve()
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if fixed.search(line)]
    assert not found, f"fixed machine paths: {found}"


def test_dev_sets_resolve_next_to_the_repository() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import devdata
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    assert devdata.SHARED_DATA.resolve() == ROOT.parent / "shared" / "data"
    import importlib.util

    spec = importlib.util.spec_from_file_location("_verification_conftest", ROOT / "tests" / "verification" / "conftest.py")
    assert spec is not None and spec.loader is not None
    verification = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(verification)
    assert verification.SHARED_DATA.resolve() == ROOT.parent / "shared" / "data"


@pytest.mark.parametrize(("script", "args", "option"), [
    ("verify.py", ["--claims", "missing-claims.jsonl"], "--claims"),
    ("retrieval.py", ["--queries", "missing-qa.jsonl"], "--queries"),
    ("cascade.py", ["--queries", "missing-qa.jsonl"], "--queries"),
    ("plaid.py", ["--queries", "missing-qa.jsonl", "--rebuild-colbert", "--work", "WORK"], "--queries"),
])
def test_a_missing_dev_set_stops_the_benchmark_clearly(tmp_path: Path, script: str, args: list[str], option: str) -> None:
    args = [a.replace("WORK", str(tmp_path / "work")) for a in args]
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert proc.returncode != 0
    assert "dev set not found" in proc.stderr and f"pass its path with {option}" in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


def test_plaid_benchmark_needs_a_colbert_source(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "plaid.py"), "--work", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "give --colbert-from INDEX" in proc.stderr

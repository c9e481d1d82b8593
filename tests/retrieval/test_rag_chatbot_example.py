"""examples/rag_chatbot runs end to end: index a small BBC slice, answer with citations (real models)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pilotfish.data.corpora import bbc_dir

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.real


def test_rag_chatbot_answers_with_citations(tmp_path):
    corpus = tmp_path / "bbc"
    for topic in ("business", "tech"):
        (corpus / topic).mkdir(parents=True)
        for f in sorted((bbc_dir() / topic).glob("*.txt"))[:6]:
            shutil.copy(f, corpus / topic / f.name)
    headline = (corpus / "tech" / sorted(p.name for p in (corpus / "tech").iterdir())[0]).read_text(
        encoding="utf-8", errors="replace").splitlines()[0]
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "rag_chatbot" / "rag_chatbot.py"), "--corpus", str(corpus),
         "--index", str(tmp_path / "index"), "--retrievers", "bm25", "--ask", headline, "-k", "2"],
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "index: " in out.stderr and "12 documents" in out.stderr
    lines = out.stdout.strip().splitlines()
    cited = [line for line in lines if line.strip().startswith("[1] ")]
    assert cited and "tech/" in cited[0], out.stdout  # the passage with the headline is retrieved first
    assert lines[0].strip(), "the model wrote an answer"

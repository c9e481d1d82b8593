"""Fixtures of the data-tool tests: a small deterministic BBC sample and JSONL helpers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def bbc_small():
    """40 short BBC articles (8 per topic), labels = folder names."""
    from pilotfish.data.corpora import BBC_LABELS, bbc_records

    recs = bbc_records(max_chars=300)
    out = []
    for lab in BBC_LABELS:
        out += [r for r in recs if r["label"] == lab][:8]
    return out


@pytest.fixture
def write_lines(tmp_path):
    def write(name, rows):
        p = tmp_path / name
        p.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
        return p

    return write



@pytest.fixture(scope="package", autouse=True)
def _one_torch_thread_when_the_cpu_is_busy():
    """On a CPU shared with other jobs, one torch thread is several times faster than two
    (threads spin-wait on each other); restored after this package's tests."""
    import os

    import torch

    before = torch.get_num_threads()
    busy = os.getloadavg()[0] > (os.cpu_count() or 1)
    if busy:
        torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def dev_doc_ids() -> set[str]:
    """The article ids of the dev sets (``../shared/data`` beside the repository); missing dev sets fail."""
    dev = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    if not dev.is_dir():
        pytest.fail(f"the dev sets are missing: {dev}")
    ids: set[str] = set()
    for f in dev.glob("*.jsonl"):
        ids |= {json.loads(line)["doc_id"] for line in f.read_text().splitlines() if line.strip()}
    return ids

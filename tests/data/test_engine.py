"""The sharded engine: local shards, resume from the last completed shard, refusal on a changed
config, and the same job on a local Ray (2 CPUs) giving identical results."""

from __future__ import annotations

import json

import pytest

from pilotfish import InputError
from pilotfish.data.engine import run_job

ROWS = [{"id": f"r{i}", "text": f"text number {i} with some words {i % 3}"} for i in range(10)]
DEDUP = {"op": "score", "scorers": ["dedup"], "options": {"dedup": {"threshold": 0.5}}}
PARA = {"op": "synthesize", "method": "paraphrase", "model": "fake", "params": {"n": 1}}


def test_local_shards_resume_and_refuse_changed_config(tmp_path, capsys):
    state = tmp_path / "state"
    first = run_job(PARA, ROWS, shard_size=3, state_dir=state)
    assert first.shards == 4 and first.resumed == 0 and len(first.records) == 10
    assert "shards 4/4" in capsys.readouterr().err
    (state / "shard-00003.jsonl").unlink()  # as if the run had been killed during the last shard
    again = run_job(PARA, ROWS, shard_size=3, state_dir=state)
    assert again.resumed == 3 and again.records == first.records
    assert again.report.outputs == first.report.outputs == 10
    changed = dict(PARA, params={"n": 2})
    with pytest.raises(InputError, match=r"refusing to resume.*params.n: 1 -> 2"):
        run_job(changed, ROWS, shard_size=3, state_dir=state)
    with pytest.raises(InputError, match=r"input.records: 10 -> 9"):
        run_job(PARA, ROWS[:9], shard_size=3, state_dir=state)
    manifest = json.loads((state / "manifest.json").read_text())
    assert manifest["job"] == PARA


def test_bad_jobs():
    with pytest.raises(InputError, match="unknown engine"):
        run_job(DEDUP, ROWS, engine="spark")
    with pytest.raises(InputError, match="empty"):
        run_job(DEDUP, [])
    with pytest.raises(InputError, match="unknown job op"):
        run_job({"op": "x"}, ROWS)


@pytest.mark.real
def test_ray_engine_matches_local():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        for job in (PARA, DEDUP):
            local = run_job(job, ROWS, shard_size=4, progress=False)
            remote = run_job(job, ROWS, engine="ray", shard_size=4, progress=False)
            assert remote.records == local.records
            assert remote.report.outputs == local.report.outputs
    finally:
        ray.shutdown()

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


def test_cli_paraphrase_resumes_and_refuses_changed_config(run_cli, write_lines, tmp_path):
    data = write_lines("in.jsonl", ROWS)
    args = ["synthesize", "paraphrase", data, "-m", "fake", "--shard-size", "4", "--state-dir", tmp_path / "st"]
    code, _, err = run_cli(*args, "-o", tmp_path / "a.jsonl")
    assert code == 0 and "shards 3/3" in err and "10 in, 10 out" in err
    code, _, err = run_cli(*args, "-o", tmp_path / "b.jsonl")
    assert code == 0 and "(3 resumed)" in err
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()
    code, _, err = run_cli(*args, "--n", "2", "-o", tmp_path / "c.jsonl")
    assert code == 1 and "refusing to resume" in err and "job.params.n: 1 -> 2" in err


def test_cli_scratch_with_a_black_box_model(run_cli, tmp_path):
    code, _, err = run_cli("synthesize", "scratch", "--task", "topic classification", "--labels", "a,b", "--n", "2",
                           "-m", "fake", "-o", tmp_path / "g.jsonl")
    assert code == 0 and "scratch with fake: 4 in" in err
    rows = [json.loads(x) for x in (tmp_path / "g.jsonl").read_text().splitlines()]
    assert rows and all(r["provenance"]["prompt"] == "scratch" for r in rows)

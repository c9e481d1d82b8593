"""Run a data job over shards: locally, or over a Ray Data dataset; resumable.

A *job* is a JSON-able dict, so it can travel to Ray workers and be compared on resume:

- ``{"op": "synthesize", "method": "label", "model": "smollm2-135m", "params": {...}}``
- ``{"op": "score", "scorers": ["perplexity", "dedup"], "options": {...}}``

Each worker process builds the job's Pilot (and so loads its models) once and reuses it for
every batch (``map_batches`` with a callable class). With ``state_dir``, every finished shard is
written to ``state_dir/shard-NNNNN.jsonl`` and a rerun skips the finished ones; a rerun whose
job or input differs from the recorded one is refused, showing the difference.

Scorers that compare records with each other (``dedup``, ``coverage``) see one shard at a
time: use one shard (``shard_size`` >= the dataset) when that matters.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pilotfish.core.errors import InputError, MissingDependencyError

from .records import Record, check_records
from .synthesis import SynthesisReport

_PILOTS: dict[str, Any] = {}


def _job_key(job: dict[str, Any]) -> str:
    return json.dumps(job, sort_keys=True)


def apply_job(job: dict[str, Any], records: list[Record]) -> tuple[list[Record], dict[str, Any]]:
    """Run a job on one shard in this process; returns (records, report counts)."""
    from .api import data_pilot, run_synthesis, score

    key = _job_key(job)
    if job.get("op") == "synthesize":
        if key not in _PILOTS:
            _PILOTS[key] = data_pilot(["synthesis", *job.get("plugins", [])], job.get("options"))
        res = run_synthesis(job["method"], records, model=job["model"], params=job.get("params", {}),
                            pilot=_PILOTS[key])
        rep = res.report
        return res.records, {"method": rep.method, "model": rep.model, "inputs": rep.inputs, "outputs": rep.outputs,
                             "unparseable": rep.unparseable, "unparseable_samples": rep.unparseable_samples,
                             "duplicates_removed": rep.duplicates_removed, "seconds": rep.seconds,
                              "dropped": dict(rep.dropped)}
    if job.get("op") == "score":
        if key not in _PILOTS:
            _PILOTS[key] = data_pilot(list(job.get("scorers", [])), job.get("options"))
        return score(records, (), pilot=_PILOTS[key]), {}
    raise InputError(f"unknown job op {job.get('op')!r} (synthesize or score)")


@dataclass
class JobResult:
    records: list[Record]
    report: SynthesisReport
    shards: int
    resumed: int


def _merge_reports(job: dict[str, Any], parts: Sequence[dict[str, Any]]) -> SynthesisReport:
    rep = SynthesisReport(str(job.get("method", job.get("op"))), str(job.get("model", "")))
    for p in parts:
        if not p:
            continue
        rep.method, rep.model = p["method"], p["model"]
        rep.inputs += p["inputs"]
        rep.outputs += p["outputs"]
        rep.unparseable += p["unparseable"]
        rep.unparseable_samples = (rep.unparseable_samples + p["unparseable_samples"])[:5]
        rep.duplicates_removed += p["duplicates_removed"]
        for why, n in p.get("dropped", {}).items():
            rep.dropped[why] = rep.dropped.get(why, 0) + n
        rep.seconds += p["seconds"]
    return rep


def _input_hash(records: Sequence[Record]) -> str:
    h = hashlib.blake2b(digest_size=12)
    for r in records:
        h.update(json.dumps(r, sort_keys=True).encode() + b"\n")
    return h.hexdigest()


def _diff(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new)):
            out += _diff(old.get(k, "<absent>"), new.get(k, "<absent>"), f"{path}.{k}" if path else k)
        return out
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


def _state(state_dir: Path, job: dict[str, Any], records: Sequence[Record], shard_size: int) -> None:
    manifest = state_dir / "manifest.json"
    current = {"job": job, "shard_size": shard_size, "input": {"records": len(records), "hash": _input_hash(records)}}
    if manifest.is_file():
        try:
            old = json.loads(manifest.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{manifest} is damaged ({exc}), so the finished shards in {state_dir} cannot be "
                             "matched to this run; delete that folder or use a new --state-dir") from None
        diff = _diff(old, current)
        if diff:
            raise InputError(f"{state_dir} holds a run with a different configuration; refusing to resume "
                             f"(use a new --state-dir or delete it). Differences: " + "; ".join(diff))
    else:
        state_dir.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps(current, indent=2, sort_keys=True))


def _finished_shard(path: Path) -> tuple[list[Record], dict[str, Any]] | None:
    """A finished shard's (records, report), or None when it must be computed (again): no file, or an
    empty, truncated or otherwise unreadable one (a disk that filled up, a copy cut short)."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
        records, report = data["records"], data["report"]
        if isinstance(records, list) and all(isinstance(r, dict) for r in records) and isinstance(report, dict):
            return records, report
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        pass
    print(f"{path} is damaged; computing that shard again", file=sys.stderr)
    return None


def _progress(done: int, total: int, resumed: int) -> None:
    note = f" ({resumed} resumed)" if resumed else ""
    print(f"\rshards {done}/{total}{note}", end="" if done < total else "\n", file=sys.stderr, flush=True)


def run_job(job: dict[str, Any], records: Sequence[Record], *, engine: str = "local", shard_size: int = 64,
            state_dir: str | Path | None = None, ray_address: str | None = None, progress: bool = True,
            ray_workers: int = 2) -> JobResult:
    """Run ``job`` over ``records`` in shards of ``shard_size``; see the module docstring."""
    recs = check_records(list(records))
    if shard_size < 1:
        raise InputError(f"shard_size must be >= 1, got {shard_size}")
    shards = [recs[i : i + shard_size] for i in range(0, len(recs), shard_size)]
    state = Path(state_dir) if state_dir else None
    if state is not None:
        _state(state, job, recs, shard_size)
    outputs: dict[int, tuple[list[Record], dict[str, Any]]] = {}
    if state is not None:
        for i in range(len(shards)):
            done = _finished_shard(state / f"shard-{i:05d}.jsonl")
            if done is not None:
                outputs[i] = done
    resumed = len(outputs)
    todo = [i for i in range(len(shards)) if i not in outputs]

    def finish(i: int, out: tuple[list[Record], dict[str, Any]]) -> None:
        outputs[i] = out
        if state is not None:
            tmp = state / f".shard-{i:05d}.tmp"
            tmp.write_text(json.dumps({"records": out[0], "report": out[1]}))
            tmp.replace(state / f"shard-{i:05d}.jsonl")
        if progress:
            _progress(len(outputs), len(shards), resumed)

    if progress and not todo:
        _progress(len(shards), len(shards), resumed)
    if engine == "local":
        for i in todo:
            finish(i, apply_job(job, shards[i]))
    elif engine == "ray":
        _run_ray(job, shards, todo, finish, ray_address, ray_workers)
    else:
        raise InputError(f"unknown engine {engine!r} (local or ray)")
    all_records = [r for i in range(len(shards)) for r in outputs[i][0]]
    return JobResult(all_records, _merge_reports(job, [outputs[i][1] for i in range(len(shards))]), len(shards), resumed)


class _RayWorker:
    """One per Ray worker (``map_batches`` with a callable class): the job's Pilot and its
    models are built once per worker process and reused for every shard it gets."""

    def __init__(self, job: dict[str, Any]):
        self.job = job

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        shards, results = [], []
        for shard, payload in zip(batch["shard"], batch["records"], strict=True):
            out, report = apply_job(self.job, json.loads(str(payload)))
            shards.append(int(shard))
            results.append(json.dumps({"records": out, "report": report}))
        return {"shard": np.array(shards), "result": np.array(results)}


def _run_ray(job: dict[str, Any], shards: list[list[Record]], todo: list[int], finish: Any,
             address: str | None, workers: int) -> None:
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError("ray", "data", "--engine ray") from exc
    if not ray.is_initialized():
        if address:
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, ignore_reinit_error=True, log_to_driver=False, include_dashboard=False)
    # one row per shard, one shard per batch; shards go to Ray in groups, so a killed run
    # keeps every group finished before it
    group = max(1, workers * 2)
    for g in range(0, len(todo), group):
        ids = todo[g : g + group]
        rows = [{"shard": i, "records": json.dumps(shards[i])} for i in ids]
        ds = ray.data.from_items(rows, override_num_blocks=len(ids))
        results = ds.map_batches(_RayWorker, fn_constructor_kwargs={"job": job}, batch_size=1,
                                 concurrency=min(workers, len(ids)), num_cpus=1, batch_format="numpy")
        for row in results.take_all():
            data = json.loads(str(row["result"]))
            finish(int(row["shard"]), (data["records"], data["report"]))

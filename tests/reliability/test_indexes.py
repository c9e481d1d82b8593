"""Issue 17, items 7-9: damaged indexes, concurrent builds, rebuilt indexes seen by an open Pilot."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pilotfish import FakeModel, Pilot, PilotConfig
from pilotfish.core.errors import PilotfishError

from .conftest import write_corpus


def _passages(index: Path) -> Path:
    manifest = json.loads((index / "index.json").read_text())
    return index / manifest["generation"] / "passages.jsonl"


def _search(run_cli, index: Path) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    return run_cli("search", "rowing regatta", "--index", index)


def _one_clear_error(code: int, out: str, err: str, file: str, corpus: Path, index: Path) -> None:
    assert code == 1, (code, out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    assert file in err and "damaged" in err
    assert f"pilotfish index {corpus} --out {index}" in err
    for raw in ("Traceback", "JSONDecodeError", "list index out of range", "no passages found"):
        assert raw not in err + out
    assert not re.search(r"(?<![A-Za-z])IndexError", err + out)


def test_the_manifest_records_count_and_checksum(bm25_index: Path) -> None:
    import hashlib

    manifest = json.loads((bm25_index / "index.json").read_text())
    data = _passages(bm25_index).read_bytes()
    assert manifest["passages"] == len(data.splitlines())
    assert manifest["passages_sha256"] == hashlib.sha256(data).hexdigest()


def test_a_corrupted_manifest_is_one_clear_error(run_cli, bm25_index: Path, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    path = bm25_index / "index.json"
    path.write_text(path.read_text()[:40])
    code, out, err = _search(run_cli, bm25_index)
    assert code == 1 and "index.json is damaged (not valid JSON" in err and "Traceback" not in err
    assert f"--out {bm25_index}" in err and "pilotfish index" in err
    path.write_text("[1, 2]")
    code, out, err = _search(run_cli, bm25_index)
    assert code == 1 and "a JSON list, expected an object" in err


@pytest.mark.parametrize("damage", ["truncated", "shortened", "empty", "missing"])
def test_damaged_passages_are_one_clear_error(run_cli, bm25_index: Path, corpus: Path, damage: str) -> None:  # type: ignore[no-untyped-def]
    path = _passages(bm25_index)
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "shortened":
        path.write_bytes(b"".join(data.splitlines(keepends=True)[:2]))
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()
    code, out, err = _search(run_cli, bm25_index)
    _one_clear_error(code, out, err, str(path), corpus, bm25_index)


def test_damage_without_a_recorded_checksum_is_still_caught(bm25_index: Path) -> None:
    # an index built before the checksum was recorded: the passage count still guards it
    from pilotfish.retrievers.index import open_index

    manifest_path = bm25_index / "index.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["passages_sha256"]
    manifest_path.write_text(json.dumps(manifest))
    path = _passages(bm25_index)
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:1]))
    with pytest.raises(PilotfishError, match="holds 1 passages, index.json recorded"):
        open_index(bm25_index)


def test_a_damaged_index_is_rebuilt_by_the_next_index_run(run_cli, bm25_index: Path, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    path = _passages(bm25_index)
    path.write_bytes(path.read_bytes()[:30])
    code, out, err = run_cli("index", corpus, "--out", bm25_index, "-r", "bm25", "--quiet")
    assert code == 0, err
    code, out, err = _search(run_cli, bm25_index)
    assert code == 0 and "rowing" in out.lower()


def _index_run(corpus: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pilotfish", "index", str(corpus), "--out", str(out), "-r", "bm25",
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_index_runs_into_one_folder(tmp_path: Path) -> None:
    # many documents, so that each build takes a while and the two runs overlap
    articles = {f"t{i % 5}/doc{i}.txt": f"Title {i}\n\n" + " ".join(f"word{i}-{j} sentence." for j in range(300))
                for i in range(150)}
    corpus = write_corpus(tmp_path / "many", articles)
    out = tmp_path / "index"
    procs = [_index_run(corpus, out) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (_, stderr) in zip(procs, results, strict=True):
        assert p.returncode == 0, stderr
    from pilotfish.retrievers.index import open_index

    index = open_index(out)
    assert index.manifest["generation"] == "gen-000002"  # one after the other: the second updated the first's
    assert len({p.doc_id for p in index.passages}) == 150
    assert [d.name for d in out.iterdir() if d.name.startswith("gen-")] == ["gen-000002"]


def test_the_second_run_says_it_waits(tmp_path: Path, corpus: Path) -> None:
    import fcntl

    out = tmp_path / "index"
    out.mkdir()
    with open(out / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        proc = _index_run(corpus, out)
        first = proc.stderr.readline() if proc.stderr else ""
        assert first.startswith(f"another `pilotfish index` is writing {out.resolve()}; waiting"), first
        assert not (out / "index.json").exists()
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert (out / "index.json").is_file()


def test_an_open_pilot_sees_a_rebuilt_index(tmp_path: Path) -> None:
    from pilotfish.retrievers.index import build_index

    corpus = write_corpus(tmp_path / "c", {"a/old.txt": "Old news\n\nThe harbour ferry sank in the storm."})
    out = tmp_path / "index"
    build_index(corpus, out, ["bm25"])
    pilot = Pilot(model=FakeModel(), plugins=["bm25"], config=PilotConfig(index=str(out)))
    assert "harbour ferry" in pilot.retrieve("ferry storm", 3)[0].text
    (corpus / "a" / "old.txt").unlink()
    write_corpus(corpus, {"b/new.txt": "New news\n\nA comet lit up the night sky over the harbour."})
    build_index(corpus, out, ["bm25"])
    docs = pilot.retrieve("comet night sky", 3)
    assert docs and "comet" in docs[0].text and docs[0].doc_id == "b/new"
    assert all("ferry" not in d.text for d in pilot.retrieve("ferry storm", 3))

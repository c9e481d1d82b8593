"""Issue 17, item 11: damaged resume shards are recomputed; a binary JSONL is a clear InputError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pilotfish import InputError
from pilotfish.data.engine import run_job

ROWS = [{"id": f"r{i}", "text": f"text number {i} with some words {i % 3}"} for i in range(10)]
PARA = {"op": "synthesize", "method": "paraphrase", "model": "fake", "params": {"n": 1}}


@pytest.mark.parametrize("damage", ["empty", "truncated", "not-an-object", "binary"])
def test_a_damaged_resume_shard_is_recomputed(tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str) -> None:
    state = tmp_path / "state"
    first = run_job(PARA, ROWS, shard_size=3, state_dir=state, progress=False)
    shard = state / "shard-00001.jsonl"
    data = shard.read_bytes()
    shard.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "not-an-object": b"[1, 2]",
                       "binary": b"\x89PNG\r\n\x1a\n\x00\xff"}[damage])
    again = run_job(PARA, ROWS, shard_size=3, state_dir=state, progress=False)
    assert again.resumed == 3 and again.records == first.records
    assert f"{shard} is damaged; computing that shard again" in capsys.readouterr().err
    assert json.loads(shard.read_text())["records"] == json.loads(data)["records"]


def test_a_damaged_state_manifest_is_a_clear_error(tmp_path: Path) -> None:
    state = tmp_path / "state"
    run_job(PARA, ROWS, shard_size=3, state_dir=state, progress=False)
    (state / "manifest.json").write_text('{"job": ')
    with pytest.raises(InputError, match=r"manifest.json is damaged .* use a new --state-dir"):
        run_job(PARA, ROWS, shard_size=3, state_dir=state, progress=False)


def test_a_binary_jsonl_names_the_file(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    from pilotfish.data.records import read_doc_ids, read_jsonl

    binary = tmp_path / "photo.jsonl"
    binary.write_bytes(b'{"text": "fine"}\n\x89PNG\r\n\x1a\n\x00\xff\xfe rest\n')
    with pytest.raises(InputError, match=r"photo.jsonl: line 2 is not UTF-8 text"):
        read_jsonl(binary)
    with pytest.raises(InputError, match=r"photo.jsonl: line 2 is not UTF-8 text"):
        read_doc_ids(binary)
    code, out, err = run_cli("synthesize", "paraphrase", binary, "-m", "fake", "-o", tmp_path / "out.jsonl")
    assert code == 1 and f"{binary}: line 2 is not UTF-8 text" in err and "UnicodeDecodeError" not in err

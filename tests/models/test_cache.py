"""Building a cache folder once (models/cache.py): the lock, the temporary folder, the size record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pilotfish
from pilotfish.models.cache import build_folder, file_sizes, sizes_match


def _intact(folder: Path) -> bool:
    try:
        return sizes_match(folder, json.loads((folder / "stamp.json").read_text()))
    except (OSError, ValueError):
        return False


def _writer(calls: list[Path]):
    def build(tmp: Path) -> None:
        calls.append(tmp)
        tmp.mkdir()
        (tmp / "weights.bin").write_bytes(b"x" * 10)
        (tmp / "stamp.json").write_text(json.dumps(file_sizes(tmp)))

    return build


def test_a_folder_is_built_once_and_rebuilt_when_damaged(tmp_path):
    out = tmp_path / "models" / "thing"
    calls: list[Path] = []
    assert build_folder(out, _intact, _writer(calls)) == out
    assert (out / "weights.bin").read_bytes() == b"x" * 10 and len(calls) == 1
    assert calls[0].parent == out.parent and calls[0] != out and not calls[0].exists()
    assert build_folder(out, _intact, _writer(calls)) == out and len(calls) == 1  # intact: not built again
    (out / "weights.bin").write_bytes(b"x" * 5)  # truncated
    assert not _intact(out)
    with pytest.warns(pilotfish.PilotfishWarning, match="thing is damaged") as rec:
        build_folder(out, _intact, _writer(calls), damaged_warning="thing is damaged")
    assert rec[0].filename == __file__ and len(calls) == 2 and _intact(out)


def test_a_failed_build_leaves_neither_the_folder_nor_its_temporary_copy(tmp_path):
    out = tmp_path / "thing"

    def fail(tmp: Path) -> None:
        tmp.mkdir()
        (tmp / "half").write_text("...")
        raise RuntimeError("conversion failed")

    with pytest.raises(RuntimeError, match="conversion failed"):
        build_folder(out, _intact, fail)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".thing.lock"]


def test_sizes_match_needs_a_non_empty_record_of_present_files(tmp_path):
    (tmp_path / "a").write_bytes(b"abc")
    assert sizes_match(tmp_path, {"a": 3}) and file_sizes(tmp_path) == {"a": 3}
    assert not sizes_match(tmp_path, {"a": 4})
    assert not sizes_match(tmp_path, {"a": 3, "b": 1})
    assert not sizes_match(tmp_path, {}) and not sizes_match(tmp_path, None) and not sizes_match(tmp_path, [["a", 3]])

"""Issue 17, item 6: ``--out`` never wipes a user's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from pilotfish.core.errors import ConfigError


@pytest.fixture
def user_folder(tmp_path: Path) -> Path:
    d = tmp_path / "Documents"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "notes.txt").write_text("my notes")
    return d


def _write_model(tmp: Path) -> None:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "model.bin").write_bytes(b"weights")


def test_replace_dir_refuses_a_user_folder(user_folder: Path) -> None:
    from pilotfish.core.outputs import replace_dir

    with pytest.raises(ConfigError, match="is not empty and is not a pilotfish output.*--force"):
        replace_dir(user_folder, _write_model)
    assert (user_folder / "sub" / "notes.txt").read_text() == "my notes"
    assert not list(user_folder.parent.glob("Documents.tmp*"))


def test_replace_dir_marks_its_output_and_replaces_it_again(tmp_path: Path, user_folder: Path) -> None:
    from pilotfish.core.outputs import MARKER, replace_dir

    out = tmp_path / "ckpt"
    replace_dir(out, _write_model)
    assert (out / MARKER).is_file() and (out / "model.bin").is_file()
    replace_dir(out, _write_model)  # a pilotfish output: replaced without --force
    (tmp_path / "empty").mkdir()
    replace_dir(tmp_path / "empty", _write_model)  # an empty folder too
    replace_dir(user_folder, _write_model, force=True)
    assert not (user_folder / "sub").exists() and (user_folder / MARKER).is_file()


def test_a_failed_write_keeps_the_old_output_and_leaves_no_temporary(tmp_path: Path) -> None:
    from pilotfish.core.outputs import replace_dir

    out = tmp_path / "ckpt"
    replace_dir(out, _write_model)

    def crash(tmp: Path) -> None:
        tmp.mkdir()
        (tmp / "half.bin").write_bytes(b"x" * 1000)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replace_dir(out, crash)
    assert (out / "model.bin").is_file() and not (out / "half.bin").exists()
    assert not list(tmp_path.glob("ckpt.tmp*"))


def test_a_checkpoint_from_before_the_marker_is_still_replaced(tmp_path: Path) -> None:
    from pilotfish.core.outputs import check_output_dir

    for name in ("pilotfish_verifier.json", "pilotfish_reranker.json"):
        d = tmp_path / name
        d.mkdir()
        (d / name).write_text("{}")
        (d / "model.safetensors").write_bytes(b"x")
        assert check_output_dir(d) == d
    colbert = tmp_path / "colbert"
    colbert.mkdir()
    (colbert / "artifact.metadata").write_text('{"dim": 128, "pilotfish": {"trained": true}}')
    assert check_output_dir(colbert) == colbert
    with pytest.raises(ConfigError, match="is a file"):
        check_output_dir(colbert / "artifact.metadata")


def test_train_verifier_refuses_before_training(user_folder: Path, tmp_path: Path) -> None:
    from pilotfish.verifiers.train import train_verifier

    with pytest.raises(ConfigError, match="not a pilotfish output"):
        train_verifier(tmp_path / "no-corpus", user_folder, examples=6, progress=False)
    assert (user_folder / "sub" / "notes.txt").read_text() == "my notes"


@pytest.mark.parametrize("command", [["train", "verifier"], ["train", "colbert"], ["train", "reranker"]])
def test_train_commands_refuse_a_user_folder(run_cli, user_folder: Path, tmp_path: Path, command: list[str]) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    code, out, err = run_cli(*command, "--corpus", corpus, "--out", user_folder)
    assert code == 1 and "not a pilotfish output" in err and "--force" in err, (code, out, err)
    assert (user_folder / "sub" / "notes.txt").read_text() == "my notes"
    code, out, err = run_cli(*command, "--help")
    assert "--force" in out


def test_write_text_atomic_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    from pilotfish.core.outputs import write_text_atomic

    f = tmp_path / "meta.json"
    write_text_atomic(f, "{}\n")
    write_text_atomic(f, '{"a": 1}\n')
    assert f.read_text(encoding="utf-8") == '{"a": 1}\n' and [p.name for p in tmp_path.iterdir()] == ["meta.json"]

"""Folders pilotfish writes with ``--out``: never a user's folder by mistake.

Commands that replace a whole folder (``train colbert``, ``train reranker``, ``train verifier``)
first call :func:`check_output_dir`: the folder must be missing, empty, or a pilotfish output (it
holds the marker file :data:`MARKER`, or the metadata file of a checkpoint written before the
marker existed). Anything else, such as a mistyped ``--out ~/Documents``, is refused unless the
user passes ``--force``. Every folder these commands write gets the marker (:func:`mark_output`);
:func:`replace_dir` does both around the write (a crashed write leaves the previous folder as it was).
:func:`write_text_atomic` writes one file (a metadata record) so that a reader never sees half of it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ConfigError

MARKER = ".pilotfish-output"
LEGACY_MARKERS = ("pilotfish_verifier.json", "pilotfish_reranker.json", "index.json")
"""Files that show a folder written by an older pilotfish (before :data:`MARKER`)."""


def is_pilotfish_output(path: Path) -> bool:
    if (path / MARKER).is_file() or any((path / name).is_file() for name in LEGACY_MARKERS):
        return True
    meta = path / "artifact.metadata"  # a ColBERT checkpoint ``train colbert`` wrote
    try:
        return meta.is_file() and "pilotfish" in json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False


def check_output_dir(path: str | Path, force: bool = False, option: str = "--out") -> Path:
    """Refuse (:class:`ConfigError`) to replace ``path`` when it is a file, or a non-empty folder that
    pilotfish did not write, unless ``force``. Returns the path."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{option} {p} is a file, not a folder; choose a folder")
    if force or not p.is_dir() or is_pilotfish_output(p) or not any(p.iterdir()):
        return p
    raise ConfigError(
        f"{option} {p} is not empty and is not a pilotfish output (it has no {MARKER} file); its contents "
        f"would be replaced. Choose a new or empty folder, or pass --force to replace it"
    )


def mark_output(path: Path, kind: str) -> None:
    """Write the marker that lets a later run replace ``path`` without ``--force``."""
    (Path(path) / MARKER).write_text(json.dumps({"kind": kind, "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}) + "\n",
                                     encoding="utf-8")


def replace_dir(dest: Path, write: Callable[[Path], Any], kind: str = "checkpoint", force: bool = False) -> Path:
    """Write a directory with ``write(tmp)`` beside ``dest``, mark it as a pilotfish output, then move it
    into ``dest``'s place (a crashed write leaves the previous ``dest`` as it was). Returns ``dest``.

    A non-empty ``dest`` that is not a pilotfish output is refused unless ``force``
    (:func:`check_output_dir`): a mistyped ``--out`` never deletes a user's files.
    """
    dest = check_output_dir(dest, force)
    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a checkpoint can be hundreds of MB: no half-written leftovers
        raise
    mark_output(tmp, kind)
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)
    return dest


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it renamed into place: a reader sees the
    old file or the new one, never half of it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)

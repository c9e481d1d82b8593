"""Where pilotfish keeps what it builds once: converted and assembled model files, trained models.

``$PILOTFISH_CACHE`` or the user cache dir (e.g. ``~/.cache/pilotfish``); models live in its
``models/`` folder. A :class:`FileLock` makes sure two processes never build the same file at once;
:func:`build_folder` builds a folder once under such a lock, and :func:`file_sizes` / :func:`sizes_match`
record and check what a built folder holds.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    """``$PILOTFISH_CACHE`` or the user cache dir; models live in its ``models/`` folder."""
    env = os.environ.get("PILOTFISH_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("pilotfish"))


VERIFIER_NAME = "verifier-minilm"


def default_verifier_path() -> Path:
    """Where ``pilotfish train verifier`` writes by default: ``<cache>/models/verifier-minilm``.

    Here, not in :mod:`pilotfish.verifiers`, because ``pilotfish train reranker --init verifier``
    starts from it too, and the retrievers never import the verifiers.
    """
    return cache_dir() / "models" / VERIFIER_NAME


class FileLock:
    """An exclusive ``flock`` on ``path`` (created with its folder), held for the ``with`` block.

    ``on_wait()`` is called once, before blocking, when another process holds the lock.
    """

    def __init__(self, path: Path, on_wait: Callable[[], Any] | None = None):
        self.path = path
        self.on_wait = on_wait
        self._fh: Any = None

    def __enter__(self) -> FileLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "w")
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if self.on_wait is not None:
                self.on_wait()
            fcntl.flock(self._fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: Any) -> None:
        import fcntl

        fcntl.flock(self._fh, fcntl.LOCK_UN)
        self._fh.close()


def file_sizes(folder: Path) -> dict[str, int]:
    """The size of each file directly in ``folder`` (what a built folder records, to be checked later)."""
    return {f.name: f.stat().st_size for f in folder.iterdir() if f.is_file()}


def sizes_match(folder: Path, sizes: Any) -> bool:
    """``sizes`` is a non-empty ``{file name: size}`` record and every file it lists is in ``folder``
    with that size."""
    if not isinstance(sizes, dict) or not sizes:
        return False
    for name, size in sizes.items():
        f = folder / name
        if not f.is_file() or f.stat().st_size != size:
            return False
    return True


def build_folder(out: Path, intact: Callable[[Path], bool], build: Callable[[Path], None], *,
                 damaged_warning: str | None = None, stacklevel: int = 1) -> Path:
    """The folder ``out``, built by ``build(tmp)`` unless ``intact(out)`` already holds.

    The build runs under a :class:`FileLock` (``.<out.name>.lock`` next to ``out``; ``intact`` is checked
    again once it is held), writes a temporary folder next to ``out`` and renames it into place, so no
    reader ever sees half a folder. Where ``out`` exists but is not intact, ``damaged_warning`` (if given)
    is issued as a :class:`~pilotfish.core.errors.PilotfishWarning` (``stacklevel`` counted from the
    caller) and the folder is built again.
    """
    if intact(out):
        return out
    with FileLock(out.parent / f".{out.name}.lock"):
        if intact(out):
            return out
        if damaged_warning is not None and out.exists():
            from pilotfish.core.errors import PilotfishWarning

            warnings.warn(damaged_warning, PilotfishWarning, stacklevel=stacklevel + 1)
        tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            build(tmp)
            shutil.rmtree(out, ignore_errors=True)
            os.replace(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out

"""Where pilotfish keeps what it builds once: converted and assembled model files, trained models.

``$PILOTFISH_CACHE`` or the user cache dir (e.g. ``~/.cache/pilotfish``); models live in its
``models/`` folder. A :class:`FileLock` makes sure two processes never build the same file at once.
"""

from __future__ import annotations

import os
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

"""A built index as the retrievers read it: the live generation's passages (checked against the
manifest), where each retriever's files are, and the settings it was built with. :class:`LiveIndex`
follows rebuilds, so an open pilot or a running server answers from the newest generation.
See :mod:`pilotfish.retrievers.index` for the layout and how it is built.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pilotfish.core.errors import RetrievalIndexError
from pilotfish.core.manifest import MANIFEST, damaged, read_manifest, rebuild_command

from .documents import Passage

IndexError_ = RetrievalIndexError
"""The index is missing, damaged, or was built with other settings (the core's class, so the host's
manifest reader and the retrievers raise the same one)."""

PASSAGES = "passages.jsonl"


@dataclass
class Index:
    """A loaded index generation: the passages and where each retriever's files are."""

    root: Path
    manifest: dict[str, Any]
    passages: list[Passage] = field(default_factory=list)

    @property
    def gen_dir(self) -> Path:
        return self.root / self.manifest["generation"]

    def settings(self, retriever: str) -> dict[str, Any]:
        if retriever not in self.manifest.get("retrievers", []):
            built = ", ".join(self.manifest.get("retrievers", [])) or "none"
            raise IndexError_(
                f"the index at {self.root} has no {retriever!r} part (built: {built}); rebuild with: "
                f"{rebuild_command(self.root, self.manifest)} --retrievers "
                f"{','.join([*self.manifest.get('retrievers', []), retriever])}"
            )
        return dict(self.manifest.get("settings", {}).get(retriever, {}))

    def part(self, retriever: str) -> Path:
        return self.gen_dir / retriever


def load_passages(root: Path, manifest: dict[str, Any]) -> list[Passage]:
    """The passages of the manifest's generation, checked against the count and the SHA-256 the
    manifest recorded: a missing, truncated, shortened or emptied ``passages.jsonl`` is one
    :class:`IndexError_` naming the file and the rebuild command (never a JSON traceback, a position
    past the end of the list, or an empty result)."""
    path = root / manifest["generation"] / PASSAGES
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise damaged(path, "the file is missing", root, manifest) from None
    except OSError as exc:
        raise damaged(path, f"cannot read it: {exc}", root, manifest) from None
    expected_sha = manifest.get("passages_sha256")
    if expected_sha and hashlib.sha256(data).hexdigest() != expected_sha:
        raise damaged(path, f"its SHA-256 is not the one {MANIFEST} recorded at build time "
                            f"({len(data)} bytes)", root, manifest)
    out = []
    for n, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line.decode("utf-8"))
            out.append(Passage(**row))
        except (UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
            raise damaged(path, f"line {n} is not a passage: {exc}", root, manifest) from None
    expected = manifest.get("passages")
    if expected is not None and len(out) != expected:
        raise damaged(path, f"it holds {len(out)} passages, {MANIFEST} recorded {expected}", root, manifest)
    return out


def open_index(index_dir: str | Path, manifest: dict[str, Any] | None = None) -> Index:
    """Load the live generation of the index at ``index_dir`` (its manifest read here unless given)."""
    root = Path(index_dir).resolve()
    manifest = manifest if manifest is not None else read_manifest(root)
    return Index(root, manifest, load_passages(root, manifest))


class LiveIndex:
    """The index at a path as it is now: :meth:`current` reloads it when a rebuild has published a new
    generation (the manifest's inode, size or mtime changed and it names another generation), so an
    open :class:`~pilotfish.Pilot` or a running server answers from the rebuilt index. The check is
    one ``stat`` per call."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._index: Index | None = None

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.root / MANIFEST)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def current(self) -> Index:
        stamp = self._stat()
        if stamp is not None and stamp == self._stamp and self._index is not None:
            return self._index
        with self._lock:
            stamp = self._stat()
            if stamp is None or stamp != self._stamp or self._index is None:
                manifest = read_manifest(self.root)
                if self._index is None or manifest["generation"] != self._index.manifest["generation"]:
                    self._index = open_index(self.root, manifest)
                self._stamp = stamp
            return self._index

    def reload(self) -> Index:
        """Read the index again now, whatever the manifest's stamp says."""
        with self._lock:
            self._stamp, self._index = None, None
        return self.current()


def live_index(pilot: Any, path: Path) -> Index:
    """The current generation of the index at ``path``, through one :class:`LiveIndex` per pilot."""
    live: LiveIndex = pilot.shared(f"retrieval-index:{Path(path).resolve()}", lambda: LiveIndex(path))
    return live.current()


def check_setting(retriever: str, index_dir: Path, recorded: dict[str, Any], key: str, wanted: Any) -> None:
    """Refuse to query an index with a model or setting other than the one it was built with."""
    if wanted is None or key not in recorded:
        return
    if recorded[key] != wanted:
        raise IndexError_(
            f"the {retriever!r} index at {index_dir} was built with {key}={recorded[key]!r}, "
            f"but the query side uses {key}={wanted!r}; use the same {key} or rebuild the index "
            f"({rebuild_command(index_dir)})"
        )

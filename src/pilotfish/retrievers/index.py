"""The on-disk RAG index: passages, one folder per retriever, and the manifest ``index.json``.

Layout::

    INDEX/index.json           manifest: retrievers, generation, chunking, per-retriever settings, files
    INDEX/gen-000003/passages.jsonl
    INDEX/gen-000003/bm25/ ... dense/ ... colbert/

Atomicity: every build writes a complete new generation folder and only then replaces the
manifest (``os.replace`` of a temporary file: atomic on POSIX). A killed indexer leaves the
previous manifest pointing at the previous, untouched generation; the next run deletes the
half-written folder and completes. Incrementality: unchanged files (same SHA-1) keep their
passages, and each retriever reuses the expensive part (embeddings) of those passages from
the previous generation; only new or changed files are encoded, deleted files disappear.
"""


from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pilotfish.core.errors import ConfigError, InputError
from pilotfish.core.manifest import FORMAT, MANIFEST, read_manifest

from .documents import Passage, chunk_document, load_directory
from .index_read import (
    PASSAGES,
    Index,
    IndexError_,
    LiveIndex,
    check_setting,
    live_index,
    load_passages,
    open_index,
)

__all__ = [
    "KNOWN_RETRIEVERS", "MANIFEST", "BuildContext", "BuildReport", "Index", "IndexError_", "LiveIndex",
    "build_index", "check_setting", "dir_size", "live_index", "load_passages", "open_index", "read_manifest",
    "tqdm_progress",
]
"""The reading side (:mod:`pilotfish.retrievers.index_read`) is importable from here too."""

LOCK = ".lock"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)



# --- building ------------------------------------------------------------------------------------


@dataclass
class BuildContext:
    """What a retriever's builder gets."""

    passages: list[Passage]
    out_dir: Path
    previous_dir: Path | None
    """The same retriever's folder in the previous generation (None on a first build)."""
    reusable: set[str]
    """Passage ids whose text is unchanged since the previous generation."""
    options: dict[str, Any]
    progress: Callable[[str, int], Any]
    """``progress(label, total)`` -> a tqdm-like bar with ``update(n)`` and ``close()``."""
    shared: dict[str, Any] = field(default_factory=dict)
    """Work one builder hands to the next in the same build: ``sentence_vectors:minilm`` maps passage
    ids to MiniLM sentence embeddings that the colbert builder computed in its own forward pass
    (untrained MiniLM model) for the dense builder."""


@dataclass
class BuildReport:
    manifest: dict[str, Any]
    added: list[str]
    changed: list[str]
    removed: list[str]
    unchanged: int
    skipped: list[str]
    seconds: float
    per_retriever_s: dict[str, float]


def _builder(name: str) -> Any:
    import importlib

    return importlib.import_module(f"pilotfish.retrievers.{name}").build


KNOWN_RETRIEVERS = ("bm25", "dense", "colbert", "plaid")


def _null_progress(label: str, total: int) -> Any:
    class Bar:
        def update(self, n: int = 1) -> None:
            pass

        def close(self) -> None:
            pass

    return Bar()


def tqdm_progress(label: str, total: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=label, unit="psg", leave=True, dynamic_ncols=True)


def build_index(
    corpus: str | Path,
    out: str | Path,
    retrievers: Sequence[str] = ("bm25", "dense"),
    options: dict[str, dict[str, Any]] | None = None,
    max_words: int = 100,
    overlap: int = 1,
    progress: Callable[[str, int], Any] | None = None,
    on_wait: Callable[[str], Any] | None = None,
) -> BuildReport:
    """Build (or update) the index of ``corpus`` under ``out``; see the module docstring.

    One build at a time per folder: a second ``pilotfish index`` into the same ``out`` waits for the
    first (an exclusive ``flock`` on ``out/.lock``; ``on_wait(message)`` is called once when it has
    to wait), then updates the index the first one wrote.
    """
    from pilotfish.models.cache import FileLock

    out_dir = Path(out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    message = f"another `pilotfish index` is writing {out_dir}; waiting for it to finish"
    with FileLock(out_dir / LOCK, on_wait=lambda: on_wait(message) if on_wait else None):
        return _build_index(corpus, out_dir, retrievers, options, max_words, overlap, progress)


def _build_index(
    corpus: str | Path,
    out: Path,
    retrievers: Sequence[str],
    options: dict[str, dict[str, Any]] | None,
    max_words: int,
    overlap: int,
    progress: Callable[[str, int], Any] | None,
) -> BuildReport:
    start = time.perf_counter()
    options = options or {}
    retrievers = list(dict.fromkeys(retrievers))
    if not retrievers:
        raise ConfigError("no retriever to build (choose from: " + ", ".join(KNOWN_RETRIEVERS) + ")")
    unknown = [r for r in retrievers if r not in KNOWN_RETRIEVERS]
    if unknown:
        raise ConfigError(f"unknown retriever(s) {', '.join(unknown)} (known: {', '.join(KNOWN_RETRIEVERS)})")
    progress = progress or _null_progress
    from pilotfish.data.corpora import resolve_corpus

    corpus = resolve_corpus(corpus).resolve()
    # an index inside its corpus is allowed: the index's own files are never read as documents
    report = load_directory(corpus)

    previous: dict[str, Any] | None = None
    old_passages: dict[str, list[Passage]] = {}
    chunking = {"max_words": max_words, "overlap": overlap, "splitter": "sentences-v1"}
    try:
        previous = read_manifest(out)
    except IndexError_:
        previous = None  # none, or damaged: a full build replaces it
    if previous is not None and previous.get("chunking") == chunking:
        try:
            for p in load_passages(out, previous):
                old_passages.setdefault(p.doc_id, []).append(p)
        except IndexError_:
            # damaged passages: reuse no part of that generation (keep its number and settings)
            old_passages = {}
            previous = {k: v for k, v in previous.items() if k not in ("retrievers", "files")}
    old_files: dict[str, str] = (previous or {}).get("files", {}) if old_passages else {}

    passages: list[Passage] = []
    reusable: set[str] = set()
    added: list[str] = []
    changed: list[str] = []
    unchanged = 0
    files: dict[str, str] = {}
    for doc in report.documents:
        files[doc.doc_id] = doc.sha1
        if old_files.get(doc.doc_id) == doc.sha1 and doc.doc_id in old_passages:
            ps = old_passages[doc.doc_id]
            reusable.update(p.id for p in ps)
            unchanged += 1
        else:
            ps = chunk_document(doc, max_words, overlap)
            (changed if doc.doc_id in old_files else added).append(doc.doc_id)
        passages.extend(ps)
    removed = sorted(set(old_files) - set(files))
    if not passages:
        raise InputError(f"the documents under {corpus} contain no text to index")

    gen_no = int((previous or {}).get("generation", "gen-000000").split("-")[-1]) + 1
    # a previous killed run may have left a folder with this number: start it afresh
    gen_name = f"gen-{gen_no:06d}"
    gen_dir = out / gen_name
    if gen_dir.exists():
        shutil.rmtree(gen_dir)
    gen_dir.mkdir()
    digest = hashlib.sha256()
    with open(gen_dir / PASSAGES, "wb") as f:
        for p in passages:
            line = (json.dumps(p.to_json(), ensure_ascii=False) + "\n").encode("utf-8")
            digest.update(line)
            f.write(line)

    settings: dict[str, Any] = {}
    timings: dict[str, float] = {}
    builders = {name: _builder(name) for name in retrievers}
    prev_retrievers = (previous or {}).get("retrievers", [])
    shared: dict[str, Any] = {}
    if "dense" in retrievers and "colbert" in retrievers:
        from .dense import build_model

        dense = dict(options.get("dense", {}))
        if not dense.get("model") and options.get("colbert", {}).get("model") == "minilm-untrained":
            # the colbert pass yields torch MiniLM's sentence vectors for free: cheaper than an int8 pass
            options = {**options, "dense": {**dense, "model": "minilm"}}
        if build_model(options.get("dense", {})) == "minilm":
            shared["sentence_vectors:minilm"] = {}  # colbert (built first) fills it when its model is MiniLM's
    for name in sorted(retrievers, key=lambda r: r != "colbert"):
        t0 = time.perf_counter()
        prev_part = out / previous["generation"] / name if previous and name in prev_retrievers else None
        prev_settings = (previous or {}).get("settings", {}).get(name)
        ctx = BuildContext(passages, gen_dir / name, prev_part, reusable if prev_part else set(),
                           {**options.get(name, {}), "_previous_settings": prev_settings}, progress, shared)
        ctx.out_dir.mkdir()
        settings[name] = builders[name](ctx)
        timings[name] = time.perf_counter() - t0

    manifest = {
        "format": FORMAT,
        "retrievers": retrievers,
        "generation": gen_name,
        "corpus": str(corpus),
        "chunking": chunking,
        "settings": settings,
        "files": files,
        "passages": len(passages),
        "passages_sha256": digest.hexdigest(),
        "documents": len(files),
        "skipped_files": len(report.skipped),
        "build_seconds": {k: round(v, 1) for k, v in timings.items()},
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    _fsync_dir(gen_dir)
    write_json_atomic(out / MANIFEST, manifest)
    # the new generation is live: drop the old ones (and any half-written leftovers)
    for child in out.iterdir():
        if child.is_dir() and child.name.startswith("gen-") and child.name != gen_name:
            shutil.rmtree(child, ignore_errors=True)
    for name in retrievers:
        cleanup = getattr(builders[name], "after_publish", None)
        if cleanup:
            cleanup(previous, manifest)
    return BuildReport(manifest, added, changed, removed, unchanged, report.skipped,
                       time.perf_counter() - start, timings)


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())

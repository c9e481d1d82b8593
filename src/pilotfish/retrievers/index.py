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

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pilotfish.core.errors import ConfigError, InputError, PilotfishError

from .documents import Passage, chunk_document, load_directory

MANIFEST = "index.json"
FORMAT = 1


class IndexError_(PilotfishError):
    """The index is missing, damaged, or was built with other settings."""


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


def replace_dir(dest: Path, write: Callable[[Path], Any]) -> Path:
    """Write a directory with ``write(tmp)`` beside ``dest``, then move it into ``dest``'s place (a
    crashed write leaves the previous ``dest`` as it was). Returns ``dest``."""
    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    write(tmp)
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)
    return dest


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def read_manifest(index_dir: str | Path) -> dict[str, Any]:
    path = Path(index_dir) / MANIFEST
    if not path.is_file():
        raise IndexError_(f"no index at {str(index_dir)!r} (missing {MANIFEST}); build one with: "
                          f"pilotfish index CORPUS_DIR --out {index_dir}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexError_(f"{path} is damaged ({exc}); rebuild the index") from None
    if manifest.get("format") != FORMAT:
        raise IndexError_(f"{path}: index format {manifest.get('format')!r} is not supported; rebuild it")
    return manifest


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
                f"pilotfish index CORPUS_DIR --out {self.root} --retrievers {','.join([*self.manifest.get('retrievers', []), retriever])}"
            )
        return dict(self.manifest.get("settings", {}).get(retriever, {}))

    def part(self, retriever: str) -> Path:
        return self.gen_dir / retriever


def load_passages(path: Path) -> list[Passage]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            out.append(Passage(**json.loads(line)))
    return out


def open_index(index_dir: str | Path) -> Index:
    root = Path(index_dir).resolve()
    manifest = read_manifest(root)
    gen = root / manifest["generation"]
    if not (gen / "passages.jsonl").is_file():
        raise IndexError_(f"the index at {root} is damaged (missing {gen.name}/passages.jsonl); rebuild it")
    return Index(root, manifest, load_passages(gen / "passages.jsonl"))


def check_setting(retriever: str, index_dir: Path, recorded: dict[str, Any], key: str, wanted: Any) -> None:
    """Refuse to query an index with a model or setting other than the one it was built with."""
    if wanted is None or key not in recorded:
        return
    if recorded[key] != wanted:
        raise IndexError_(
            f"the {retriever!r} index at {index_dir} was built with {key}={recorded[key]!r}, "
            f"but the query side uses {key}={wanted!r}; use the same {key} or rebuild the index "
            f"(pilotfish index CORPUS_DIR --out {index_dir})"
        )


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
) -> BuildReport:
    """Build (or update) the index of ``corpus`` under ``out``; see the module docstring."""
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
    out = Path(out).resolve()
    if out == corpus or corpus in out.parents:
        pass  # allowed, but the index's own files are never read as documents (they are .json/.npy)
    report = load_directory(corpus)
    out.mkdir(parents=True, exist_ok=True)

    previous: dict[str, Any] | None = None
    old_passages: dict[str, list[Passage]] = {}
    chunking = {"max_words": max_words, "overlap": overlap, "splitter": "sentences-v1"}
    try:
        previous = read_manifest(out)
    except IndexError_:
        previous = None
    if previous is not None and previous.get("chunking") == chunking:
        try:
            for p in load_passages(out / previous["generation"] / "passages.jsonl"):
                old_passages.setdefault(p.doc_id, []).append(p)
        except OSError:
            previous, old_passages = None, {}
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
    with open(gen_dir / "passages.jsonl", "w", encoding="utf-8") as f:
        for p in passages:
            f.write(json.dumps(p.to_json(), ensure_ascii=False) + "\n")

    settings: dict[str, Any] = {}
    timings: dict[str, float] = {}
    builders = {name: _builder(name) for name in retrievers}
    prev_retrievers = (previous or {}).get("retrievers", [])
    shared: dict[str, Any] = {}
    if "dense" in retrievers and "colbert" in retrievers and \
            (options.get("dense", {}).get("model") or "minilm") == "minilm":
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

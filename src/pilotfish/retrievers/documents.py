"""Documents and passages: a directory loader and a sentence-aware chunker.

- A document's id is its path relative to the corpus root, without extension (``tech/001``).
- The first line of a file is its title when it is short and followed by a blank line (the BBC
  corpus puts the headline there); markdown files use a leading ``# heading``.
- Passages never cut a sentence in two unless one sentence alone is longer than the hard limit
  (``2 * max_words``): an evidence sentence is then found whole in at least one passage.
- Every passage keeps the character offsets of its text in the source file, for citations.
- Undecodable or binary files are skipped with a count and one :class:`PilotfishWarning`.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pilotfish.core.errors import InputError, PilotfishWarning
from pilotfish.core.types import Document

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".rst", ".text")

# a sentence ends at . ! ? (optionally followed by a closing quote or bracket) before whitespace
# and an upper-case letter, digit or quote; common abbreviations are not sentence ends.
_SENT_END = re.compile(r"""(?<=[.!?])["')\]]?\s+(?=["'(\[]?[A-Z0-9])""")
_ABBREV = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|Inc|Ltd|Co|Corp|vs|No|Gen|Gov|Sen|Rep|U\.S|U\.K)\.|\b[A-Z]\.)$")
_WORD = re.compile(r"\S+")


@dataclass
class SourceDocument:
    """A file of the corpus."""

    doc_id: str
    text: str
    title: str | None
    path: str
    sha1: str
    body_start: int = 0
    """Offset where the body starts (after the title line)."""


@dataclass
class Passage:
    """A chunk of a document, with what a citation needs."""

    id: str
    doc_id: str
    text: str
    title: str | None
    start: int
    end: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_document(self, score: float = 0.0, retriever: str | None = None) -> Document:
        meta = {"start": self.start, "end": self.end, **self.metadata}
        return Document(self.id, self.text, self.doc_id, self.title, float(score), retriever, meta)

    def index_text(self) -> str:
        """What retrievers index: the title (context for every passage) and the text."""
        return f"{self.title}. {self.text}" if self.title else self.text

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LoadReport:
    documents: list[SourceDocument]
    skipped: list[str]


def _is_binary(data: bytes) -> bool:
    return b"\x00" in data[:8192]


def read_document(path: Path, doc_id: str) -> SourceDocument | None:
    """One file as a :class:`SourceDocument`, or ``None`` when it is binary or not UTF-8/Latin text."""
    data = path.read_bytes()
    if _is_binary(data):
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    text = text.replace("\r\n", "\n")
    title, body_start = _title_of(text, path.suffix.lower())
    return SourceDocument(doc_id, text, title, str(path), hashlib.sha1(data).hexdigest(), body_start)


def _title_of(text: str, suffix: str) -> tuple[str | None, int]:
    first, nl, rest = text.lstrip("\ufeff").partition("\n")
    offset = len(text) - len(text.lstrip("\ufeff"))
    line = first.strip()
    if suffix in (".md", ".markdown") and line.startswith("#"):
        return line.lstrip("#").strip() or None, offset + len(first) + len(nl)
    # a headline: a short first line followed by a blank line (BBC), without sentence punctuation
    if line and nl and len(line.split()) <= 20 and rest.startswith("\n") and not line.endswith((".", ":")):
        return line, offset + len(first) + len(nl)
    return None, 0


def iter_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(doc id, path) of every text file under ``root``, sorted."""
    for path in sorted(root.rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        if path.suffix.lower() not in TEXT_SUFFIXES:
            continue
        rel = path.relative_to(root).with_suffix("")
        yield rel.as_posix(), path


def load_directory(root: str | Path) -> LoadReport:
    """Every text/markdown file under ``root`` (``bbc``: the packaged BBC News corpus); undecodable ones are
    skipped with a warning."""
    from pilotfish.data.corpora import resolve_corpus

    root = resolve_corpus(root)
    if not root.exists():
        raise InputError(f"corpus directory {str(root)!r} does not exist")
    if not root.is_dir():
        raise InputError(f"{str(root)!r} is not a directory")
    docs: list[SourceDocument] = []
    skipped: list[str] = []
    for doc_id, path in iter_files(root):
        doc = read_document(path, doc_id)
        if doc is None:
            skipped.append(str(path))
        else:
            docs.append(doc)
    if skipped:
        warnings.warn(
            f"skipped {len(skipped)} undecodable or binary file(s) under {root} (first: {skipped[0]})",
            PilotfishWarning,
            stacklevel=2,
        )
    if not docs:
        raise InputError(
            f"no text documents under {str(root)!r} (looked for {', '.join(TEXT_SUFFIXES)} files)"
        )
    return LoadReport(docs, skipped)


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the sentences of ``text`` (paragraph breaks always split).

    Not :func:`pilotfish.verifiers.claims.split_sentences`, on purpose: this one cuts documents into the
    units passages, cloze questions and compression are built from, and index contents depend on its
    spans; the claims splitter cuts *answers* and keeps a citation marker after a full stop with its
    sentence (``"rose. [2] Costs fell."``: here ``"rose."`` | ``"[2] Costs fell."``, there
    ``"rose. [2]"`` | ``"Costs fell."``) and knows more abbreviations (``e.g.``, months). Each side's
    tests pin its own boundaries.
    """
    spans: list[tuple[int, int]] = []
    for para in re.finditer(r"[^\n]+", text):
        ptext, pstart = para.group(), para.start()
        start = 0
        for m in _SENT_END.finditer(ptext):
            if _ABBREV.search(ptext[: m.start()]):
                continue
            spans.append((pstart + start, pstart + m.start()))
            start = m.end()
        spans.append((pstart + start, pstart + len(ptext)))
    out = []
    for s, e in spans:
        seg = text[s:e]
        stripped = seg.strip()
        if stripped:
            s2 = s + (len(seg) - len(seg.lstrip()))
            out.append((offset + s2, offset + s2 + len(stripped)))
    return out


def chunk_document(doc: SourceDocument, max_words: int = 100, overlap: int = 1) -> list[Passage]:
    """Pack whole sentences into passages of at most ``max_words`` words.

    ``overlap`` sentences of the previous passage start the next one (context across the
    boundary). A single sentence longer than ``2 * max_words`` is cut into word windows.
    """
    if max_words < 5:
        raise InputError(f"max_words must be at least 5, got {max_words}")
    if overlap < 0:
        raise InputError(f"overlap must be >= 0 sentences, got {overlap}")
    body = doc.text[doc.body_start:]
    spans: list[tuple[int, int, int]] = []  # start, end, words
    for s, e in split_sentences(body, doc.body_start):
        words = list(_WORD.finditer(doc.text[s:e]))
        if len(words) > 2 * max_words:
            for i in range(0, len(words), max_words):
                part = words[i:i + max_words]
                spans.append((s + part[0].start(), s + part[-1].end(), len(part)))
        else:
            spans.append((s, e, len(words)))
    passages: list[Passage] = []
    i = 0
    while i < len(spans):
        j, n_words = i, 0
        while j < len(spans) and (j == i or n_words + spans[j][2] <= max_words):
            n_words += spans[j][2]
            j += 1
        start, end = spans[i][0], spans[j - 1][1]
        n = len(passages)
        passages.append(Passage(f"{doc.doc_id}#{n}", doc.doc_id, doc.text[start:end], doc.title, start, end))
        if j >= len(spans):
            break
        i = max(j - overlap, i + 1)
    return passages


def chunk_documents(docs: list[SourceDocument], max_words: int = 100, overlap: int = 1) -> list[Passage]:
    out: list[Passage] = []
    for doc in docs:
        out.extend(chunk_document(doc, max_words, overlap))
    return out


def normalize_ws(text: str) -> str:
    return " ".join(text.split())

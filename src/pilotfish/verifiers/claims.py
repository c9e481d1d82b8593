"""Split an answer into claims: sentences, with citation markers such as ``[1]`` or ``[2, 3]``
taken out of the text and kept as indices (the ``citations`` validator and the
``drop-unsupported`` repair need them).

A rule-based splitter on purpose: it runs in microseconds, needs no model, and handles the
cases RAG answers produce (abbreviations such as "Mr." or "U.S.", decimals "2.5", initials
"J. K.", citations after the full stop "... rose. [2]").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CITATION = re.compile(r"\s*\[(\d+(?:\s*[,;-]\s*\d+)*)\]")
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "inc", "ltd", "co", "corp",
    "no", "fig", "gen", "gov", "sen", "rep", "rev", "capt", "col", "lt", "sgt", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "e.g", "i.e", "u.s", "u.k", "approx",
}
_BOUNDARY = re.compile(r"([.!?]+[\"'\u201d\u2019)]*)(\s+(?:\[\d[\d,;\s-]*\]\s*)*)(?=[\"'\u201c\u2018(]?[A-Z0-9\[])|\n{1,}")


@dataclass
class Claim:
    """One checkable sentence of an answer."""

    text: str
    """The sentence with citation markers removed."""
    span: tuple[int, int]
    """Character offsets of the sentence (markers included) in the original answer."""
    citations: list[int] = field(default_factory=list)
    """1-based passage numbers cited by the sentence, in order, without duplicates."""
    raw: str = ""
    """The sentence as written, markers included."""


def parse_citations(marker: str) -> list[int]:
    """``"1, 3-4"`` -> ``[1, 3, 4]``."""
    out: list[int] = []
    for part in re.split(r"\s*[,;]\s*", marker.strip()):
        if "-" in part:
            a, _, b = part.partition("-")
            if a.strip().isdigit() and b.strip().isdigit() and int(b) - int(a) < 50:
                out.extend(range(int(a), int(b) + 1))
        elif part.isdigit():
            out.append(int(part))
    return out


def strip_citations(text: str) -> tuple[str, list[int]]:
    """Remove ``[n]`` markers; return the clean text and the cited numbers."""
    cited: list[int] = []
    for m in CITATION.finditer(text):
        for n in parse_citations(m.group(1)):
            if n not in cited:
                cited.append(n)
    clean = CITATION.sub("", text)
    clean = re.sub(r"\s+([.,;:!?])", r"\1", clean)
    return re.sub(r"\s{2,}", " ", clean).strip(), cited


def _is_abbreviation(text: str, end: int) -> bool:
    """True when the full stop before ``end`` ends an abbreviation, an initial or a number."""
    m = re.search(r"([A-Za-z][A-Za-z.]*)\.$", text[:end])
    if not m:
        return False
    word = m.group(1).lower().rstrip(".")
    return word in _ABBREVIATIONS or len(word) == 1


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of ``text``; trailing citation markers stay with their sentence.

    Not :func:`pilotfish.retrievers.documents.split_sentences`, on purpose: an answer's claims must keep
    the ``[n]`` after their full stop (the ``citations`` validator and ``drop-unsupported`` read them),
    where the documents' splitter starts the next sentence with it, and this one also treats ``e.g.``,
    ``etc.`` and month names as abbreviations. The documents' spans define passages and indexes, so the
    two are kept apart rather than merged.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        if m.group(0).strip() == "" and "\n" not in m.group(0):
            continue
        if m.group(1) and m.group(1).startswith(".") and _is_abbreviation(text, m.start(1) + 1):
            continue
        end = m.end(1) if m.group(1) else m.start()
        if m.group(2):  # citations after the full stop belong to this sentence
            end = m.end(2)
        if text[start:end].strip():
            spans.append((start, end))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    # trim whitespace; a fragment of markers alone ("... however.\n[2]", or "[2]" after the last full stop)
    # belongs to the sentence before it
    out: list[tuple[int, int]] = []
    for a, b in spans:
        seg = text[a:b]
        a += len(seg) - len(seg.lstrip())
        b -= len(seg) - len(seg.rstrip())
        if b <= a:
            continue
        if out and not re.search(r"[A-Za-z0-9]", CITATION.sub("", text[a:b])):
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def split_claims(text: str, min_chars: int = 3) -> list[Claim]:
    """The claims of an answer: one per sentence with at least one word character.

    Citation-only fragments (``"[1]"``) and headings without letters are skipped.
    """
    claims = []
    for a, b in split_sentences(text or ""):
        raw = text[a:b]
        clean, cited = strip_citations(raw)
        clean = re.sub(r"^[\-*\u2022\d.)\s]+(?=[A-Za-z\"'])", "", clean) if re.match(r"^[\-*\u2022]\s", clean) else clean
        if len(clean) < min_chars or not re.search(r"[A-Za-z0-9]{2,}", clean):
            continue
        claims.append(Claim(clean, (a, b), cited, raw))
    return claims

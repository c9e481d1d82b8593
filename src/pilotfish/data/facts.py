"""Facts in a sentence (numbers, dates, named entities), the antonyms that flip them, and the
sentence surgery the claim makers share (a sentence turned into a clause, a final stop put back).

Pure functions of their text: the claim data (:mod:`pilotfish.data.claims`), the cloze questions
(:mod:`pilotfish.data.cloze`) and the verifier's features use them.
"""

from __future__ import annotations

import re

NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\w])")
YEAR = re.compile(r"\b(19[5-9]\d|20[0-3]\d)\b")
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_NOT_ENTITY = set(MONTHS + DAYS) | {
    "The", "A", "An", "But", "And", "He", "She", "It", "They", "We", "I", "In", "On", "At", "This", "That",
    "However", "Meanwhile", "Mr", "Mrs", "Ms", "Dr", "Sir", "If", "As", "For", "His", "Her", "Its", "Their",
    "There", "When", "While", "After", "Before", "Last", "Next", "Some", "Many", "One", "Two", "BBC", "Also",
}
ENTITY = re.compile(r"\b(?:[A-Z][a-zA-Z'\-]+|[A-Z]{2,})(?:\s+(?:of\s+|de\s+|van\s+)?(?:[A-Z][a-zA-Z'\-]+|[A-Z]{2,}))*")

ANTONYMS = [
    ("rose", "fell"), ("risen", "fallen"), ("rise", "fall"), ("rising", "falling"), ("increased", "decreased"),
    ("increase", "decrease"), ("higher", "lower"), ("more", "fewer"), ("won", "lost"), ("win", "lose"),
    ("gained", "lost"), ("up", "down"), ("before", "after"), ("largest", "smallest"), ("biggest", "smallest"),
    ("best", "worst"), ("better", "worse"), ("strong", "weak"), ("stronger", "weaker"), ("boost", "cut"),
    ("jumped", "slumped"), ("profit", "loss"), ("profits", "losses"), ("first", "last"), ("early", "late"),
    ("supported", "opposed"), ("backed", "rejected"), ("accepted", "rejected"), ("agreed", "refused"),
    ("approved", "blocked"), ("success", "failure"), ("hero", "villain"), ("beat", "lost to"), ("allowed", "banned"),
    ("buy", "sell"), ("bought", "sold"), ("cheaper", "dearer"), ("expanding", "shrinking"), ("strongly", "weakly"),
    ("above", "below"), ("over", "under"), ("open", "closed"), ("began", "ended"), ("start", "end"),
    ("likely", "unlikely"), ("able", "unable"), ("popular", "unpopular"), ("always", "never"), ("all", "none of"),
]
ANTONYM_OF = {a: b for a, b in ANTONYMS} | {b: a for a, b in ANTONYMS if " " not in b}


def entities(sentence: str) -> list[str]:
    """The named entities of ``sentence`` (capitalized runs, leading function words and dates dropped)."""
    out = []
    for m in ENTITY.finditer(sentence):
        ent = m.group(0)
        words = ent.split()
        while words and words[0] in _NOT_ENTITY:
            words = words[1:]
        ent = " ".join(words)
        if ent and ent not in _NOT_ENTITY and len(ent) > 2:
            out.append(ent)
    return out


def numbers(text: str) -> list[str]:
    """The numbers of ``text`` as written ("1,200", "3.5")."""
    return [m.group(1) for m in NUMBER.finditer(text)]


def as_clause(sentence: str, max_words: int = 28) -> str | None:
    """A whole sentence to put after a connector: no final stop, no leading discourse marker, first
    letter lowered unless it starts a name ("Tony Blair said ..."); None for quotes or odd lengths."""
    s = sentence.strip().rstrip(".!?\"' ")
    s = re.sub(r"^(But|And|However|Meanwhile|Also|So|Yet|Now|Still),?\s+", "", s)
    words = s.split()
    if '"' in s or not 4 <= len(words) <= max_words:
        return None
    if not (words[1][0].isupper() and words[0][0].isupper()) and not words[0].isupper():
        s = s[0].lower() + s[1:]
    return s


def short_clause(sentence: str) -> str | None:
    """A sentence turned into a clause to append: final stop removed, first letter lowered."""
    s = sentence.strip().rstrip(".!?\"' ")
    s = re.sub(r"^(But|And|However|Meanwhile|Also|So|Yet),?\s+", "", s)
    if len(s.split()) > 14 and "," in s:
        s = s.split(",")[0]
    if len(s.split()) < 4 or len(s.split()) > 18 or '"' in s:
        return None
    first = s.split()[0]
    if first in ("The", "A", "An", "It", "This", "That", "These", "Those", "He", "She", "They", "We", "There", "Its", "His", "Her", "Their"):
        s = s[0].lower() + s[1:]
    return s


def end_sentence(s: str) -> str:
    """``s`` with a final stop (kept if it ends with one already)."""
    s = s.strip()
    return s if s.endswith((".", "!", "?", '"')) else s + "."

"""Per-word self-information under a white-box language model (LLMLingua's "least informative" words).

Used by the ``compress`` plugin's fine step and by ``pilotfish synthesize compressions`` (the candidate
compressions the large model judges).
"""

from __future__ import annotations

import bisect
import re
from typing import Any

_WORD = re.compile(r"\S+")


def word_surprisal(model: Any, question: str, text: str) -> list[tuple[str, float]]:
    """Each whitespace word of ``text`` with the sum of its tokens' self-information (-log p) under
    ``model``, given the question as a prefix (question-aware, as in LongLLMLingua)."""
    logprobs = model.token_logprobs(text, prefix=question + "\n")
    ids = model.encode(text)
    piece = getattr(model, "piece", None)
    pieces = [piece(t) if piece else model.decode([t]).encode() for t in ids]
    data = text.encode()
    words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
    starts = [len(text[:s].encode()) for s, _, _ in words]
    surprisal = [0.0] * len(words)
    if b"".join(pieces) != data or len(logprobs) != len(ids):
        # a tokenizer that does not round-trip: spread the log-probs over the words by position
        for k, lp in enumerate(logprobs):
            surprisal[min(len(words) - 1, k * len(words) // max(1, len(logprobs)))] -= lp
        return [(w, s) for (_, _, w), s in zip(words, surprisal, strict=True)]
    pos = 0
    for tok_piece, lp in zip(pieces, logprobs, strict=True):
        body = tok_piece.lstrip()
        if body:  # the token belongs to the word its first visible byte is in
            j = max(0, bisect.bisect_right(starts, pos + len(tok_piece) - len(body)) - 1)
            surprisal[j] -= lp
        pos += len(tok_piece)
    return [(w, s) for (_, _, w), s in zip(words, surprisal, strict=True)]

"""The keep classifier: MiniLM reads the question and a passage, and scores each word's P(keep).

LLMLingua-2 trains a token classifier on a large model's compressions; here the labels are the candidate
compressions the large model judged best (``pilotfish synthesize compressions``). Input: ``[CLS] question
[SEP] passage words [SEP]``; a word's score is the keep probability of its first sub-token. A passage longer
than one window is read in windows of :data:`WINDOW_WORDS` words.

As a model (id ``lingua``) it is what the ``compress`` plugin's fine step asks for: ``keep_scores(question,
texts)``, one list of ``(word, score)`` per text, higher = keep.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pilotfish.core.errors import InputError, ModelError

META_FILE = "pilotfish_lingua.json"
KIND = "pilotfish-lingua"
MAX_LENGTH = 320
WINDOW_WORDS = 180
_WORD = re.compile(r"\S+")


def read_meta(path: str | Path) -> dict[str, Any] | None:
    try:
        data = json.loads((Path(path) / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("kind") == KIND else None


def encode_words(tokenizer: Any, questions: Sequence[str], passages: Sequence[Sequence[str]]) -> Any:
    """The batch encoding of (question, passage words) pairs: words are pre-split (whitespace), so each
    passage word maps to its sub-tokens through ``word_ids``."""
    return tokenizer([q.split() for q in questions], [list(p) for p in passages], is_split_into_words=True,
                     truncation="only_second", max_length=MAX_LENGTH, padding=True, return_tensors="pt")


def first_tokens(enc: Any, row: int) -> dict[int, int]:
    """Passage word index -> position of its first sub-token, for one row of :func:`encode_words`."""
    out: dict[int, int] = {}
    for pos, (seq, word) in enumerate(zip(enc.sequence_ids(row), enc.word_ids(row), strict=True)):
        if seq == 1 and word is not None and word not in out:
            out[word] = pos
    return out


class KeepClassifier:
    """A trained keep classifier in ``path`` (written by ``pilotfish train lingua``)."""

    def __init__(self, path: str | Path, model_id: str = "lingua"):
        from pilotfish.models.hf import require_torch, require_transformers

        torch = require_torch()
        transformers = require_transformers()
        self.path = Path(path)
        self.meta = read_meta(self.path)
        if self.meta is None:
            raise ModelError(f"{self.path} holds no trained keep classifier ({META_FILE} is missing); train one "
                             "with `pilotfish train lingua`")
        self.model_id = model_id
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(self.path))
        self.model = transformers.AutoModelForTokenClassification.from_pretrained(str(self.path),
                                                                                  dtype=torch.float32)
        self.model.eval()

    def keep_scores(self, question: str, texts: Sequence[str]) -> list[list[tuple[str, float]]]:
        """Each whitespace word of each text with its P(keep) given the question; all windows of all texts
        in one batched forward pass. An empty text gives an empty list."""
        import torch

        if not question.strip():
            raise InputError("the keep classifier needs a non-empty question (it keeps what the question needs)")
        words = [_WORD.findall(t) for t in texts]
        windows = [(t, k) for t, ws in enumerate(words) for k in range(0, len(ws), WINDOW_WORDS)]
        out: list[list[tuple[str, float]]] = [[(w, 0.0) for w in ws] for ws in words]
        if not windows:
            return out
        enc = encode_words(self.tokenizer, [question] * len(windows),
                           [words[t][k:k + WINDOW_WORDS] for t, k in windows])
        with torch.inference_mode():
            logits = self.model(**enc).logits
        prob = torch.softmax(logits.float(), dim=-1)[..., 1]
        for row, (t, k) in enumerate(windows):
            first = first_tokens(enc, row)
            for j in range(min(WINDOW_WORDS, len(words[t]) - k)):
                pos = first.get(j)  # a word the tokenizer cut off (past MAX_LENGTH) keeps score 0
                if pos is not None:
                    out[t][k + j] = (words[t][k + j], float(prob[row, pos]))
        return out

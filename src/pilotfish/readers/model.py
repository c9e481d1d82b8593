"""The extractive reader: MiniLM with a span head (BERT-style question answering).

Given a question and passages, one batched forward pass scores every token as the answer's start and end
(the ``[CLS]`` token stands for "this passage does not answer"). Per passage the best span of at most
``max_answer_tokens`` tokens is kept with

- ``probability``: P(start) x P(end) of that span, under the passage's own softmaxes (the reader's
  confidence, in [0, 1]);
- ``null_probability``: the same for ``[CLS]``, ``[CLS]``.

The answer is the passage whose span beats its no-answer by the widest margin (log P(span) - log P(null));
when no passage's span beats its no-answer by ``null_margin``, the reader abstains.

As a :class:`~pilotfish.core.models.LanguageModel` (model id ``reader``) it reads the host's RAG prompt:
the passages of the ``<sources>`` turn and the question of the last user turn. Its answer is the span with
its citation (``"LNM Holdings [1]"``), or the refusal sentence when it abstains; ``generation.logprobs``
is ``[log(confidence)]``, so the ``cascade``'s log-prob threshold is a confidence threshold
(``threshold = -0.36`` escalates below 0.7), and ``generation.metadata["reader"]`` has the details.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pilotfish.core.errors import InputError, ModelError
from pilotfish.core.models import GenerationParams, LanguageModel
from pilotfish.core.prompts import REFUSAL, parse_sources
from pilotfish.core.types import Generation, Message

META_FILE = "pilotfish_reader.json"
SCORE_KEY = "val_f1"
"""The held-out span F1 (teacher questions of articles never trained on) every reader records."""
QUALITY_FLOOR = 0.3
"""A reader that recorded a lower held-out F1 is refused by the ``reader`` id: a full run (380 steps) recorded
0.34, runs cut short at 10 and 24 steps 0.15 and 0.10. (The teacher's answers are often whole clauses where the
reader points at the key name or number, so F1 stays low even when the answer is right.)"""
MAX_LENGTH = 320


@dataclass
class Span:
    """The best answer span of one passage."""

    passage: int
    """Index of the passage in the list read (0-based)."""
    text: str
    start: int
    end: int
    probability: float
    null_probability: float

    @property
    def margin(self) -> float:
        return math.log(max(self.probability, 1e-12)) - math.log(max(self.null_probability, 1e-12))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "probability": round(self.probability, 4),
                "null_probability": round(self.null_probability, 4), "margin": round(self.margin, 3)}


def read_meta(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((Path(path) / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class ExtractiveReader:
    """A trained span model in ``path`` (written by ``pilotfish train reader``)."""

    def __init__(self, path: str | Path, *, max_answer_tokens: int = 30):
        from pilotfish.models.hf import require_torch, require_transformers

        torch = require_torch()
        transformers = require_transformers()
        self.path = Path(path)
        self.meta = read_meta(self.path)
        if self.meta is None or self.meta.get("kind") != "pilotfish-reader":
            raise ModelError(f"{self.path} holds no trained reader ({META_FILE} is missing); train one with "
                             "`pilotfish train reader`")
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(self.path))
        self.model = transformers.AutoModelForQuestionAnswering.from_pretrained(str(self.path), dtype=torch.float32)
        self.model.eval()
        self.max_answer_tokens = max_answer_tokens

    def encode(self, questions: Sequence[str], contexts: Sequence[str]) -> Any:
        return self.tokenizer(list(questions), list(contexts), truncation="only_second", max_length=MAX_LENGTH,
                              padding=True, return_offsets_mapping=True, return_tensors="pt")

    def spans(self, question: str, contexts: Sequence[str]) -> list[Span | None]:
        """The best span of each passage (``None`` for an empty passage), in one forward pass."""
        keep = [i for i, c in enumerate(contexts) if c.strip()]
        out: list[Span | None] = [None] * len(contexts)
        if not keep:
            self._check_question(question)
            return out
        start_lp, end_lp, ctx, offsets = self._logprobs(question, [contexts[i] for i in keep])
        band = self._band(start_lp.shape[1])
        for row, i in enumerate(keep):
            out[i] = self._best(start_lp[row], end_lp[row], ctx[row], band, offsets[row], contexts[i], i)
        return out

    @staticmethod
    def _check_question(question: str) -> None:
        if not question.strip():
            raise InputError("the reader needs a non-empty question")

    def _logprobs(self, question: str, contexts: Sequence[str]) -> tuple[Any, Any, Any, Any]:
        """One forward pass over ``contexts``: per-token start and end log-probs, the mask of context
        tokens, and the tokens' character offsets (one row per context)."""
        import torch

        self._check_question(question)
        enc = self.encode([question] * len(contexts), contexts)
        offsets = enc.pop("offset_mapping")
        with torch.inference_mode():
            logits = self.model(**enc)
        ctx = torch.tensor([[s == 1 for s in enc.sequence_ids(row)] for row in range(len(contexts))])
        return (torch.log_softmax(logits.start_logits.float(), dim=-1),
                torch.log_softmax(logits.end_logits.float(), dim=-1), ctx, offsets)

    def _band(self, n: int) -> Any:
        """``band[s, e]``: a span may start at token s and end at token e (s <= e < s + max_answer_tokens)."""
        import torch

        ones = torch.ones(n, n, dtype=torch.bool)
        return torch.triu(ones) & ~torch.triu(ones, diagonal=self.max_answer_tokens)

    def range_scores(self, question: str, contexts: Sequence[str],
                     ranges: Sequence[Sequence[tuple[int, int]]]) -> list[list[float]]:
        """For each passage, and each ``(start, end)`` character range of it (its sentences, say), the
        log-probability margin of the best answer span inside that range over the passage's no-answer:
        how strongly the reader points into it. One forward pass; a range the tokenizer cut off (past
        :data:`MAX_LENGTH` tokens) or an empty passage scores ``-inf``. The question-aware coarse step of
        prompt compression uses it."""
        self._check_question(question)
        if len(ranges) != len(contexts):
            raise InputError(f"range_scores: {len(ranges)} range lists for {len(contexts)} passages")
        out = [[-math.inf] * len(r) for r in ranges]
        keep = [i for i, c in enumerate(contexts) if c.strip() and ranges[i]]
        if not keep:
            return out
        start_lp, end_lp, ctxs, offsets = self._logprobs(question, [contexts[i] for i in keep])
        band = self._band(start_lp.shape[1])
        for row, i in enumerate(keep):
            ctx = ctxs[row]
            null = float(start_lp[row, 0] + end_lp[row, 0])
            first = offsets[row][:, 0]
            last = offsets[row][:, 1]
            scores = start_lp[row][:, None] + end_lp[row][None, :]
            for k, (a, b) in enumerate(ranges[i]):
                inside = ctx & (first >= a) & (last <= b) & (last > first)
                if not bool(inside.any()):
                    continue
                pair = band & inside[:, None] & inside[None, :]
                out[i][k] = float(scores.masked_fill(~pair, -1e9).max()) - null
        return out

    def _best(self, start_lp: Any, end_lp: Any, ctx: Any, band: Any, offsets: Any, context: str,
              index: int) -> Span | None:
        import torch

        null = float(start_lp[0] + end_lp[0])
        s_lp = start_lp.masked_fill(~ctx, -1e9)
        e_lp = end_lp.masked_fill(~ctx, -1e9)
        # scores[s, e] = s_lp[s] + e_lp[e] for s <= e < s + max_answer_tokens
        scores = (s_lp[:, None] + e_lp[None, :]).masked_fill(~band, -1e9)
        n = scores.shape[0]
        flat = int(torch.argmax(scores))
        s, e = divmod(flat, n)
        best = float(scores[s, e])
        if best <= -1e8:
            return None
        a, b = int(offsets[s][0]), int(offsets[e][1])
        return Span(index, context[a:b], a, b, math.exp(best), math.exp(null))

    def read(self, question: str, contexts: Sequence[str], null_margin: float = 0.0) -> tuple[Span | None, list[Span | None]]:
        """The answer span over all passages (or ``None`` when the reader abstains) and every passage's."""
        spans = self.spans(question, contexts)
        found = [s for s in spans if s is not None and s.text.strip()]
        if not found:
            return None, spans
        best = max(found, key=lambda s: s.margin)
        return (best if best.margin > null_margin else None), spans


class Reader(LanguageModel):
    """The reader as a model: answers a RAG prompt with a cited span, or refuses."""

    def __init__(self, reader: ExtractiveReader, model_id: str = "reader", null_margin: float = 0.0):
        self.reader = reader
        self.model_id = model_id
        self.null_margin = null_margin
        self.context_window = MAX_LENGTH

    @property
    def meta(self) -> dict[str, Any]:
        return dict(self.reader.meta or {})

    def range_scores(self, question: str, contexts: Sequence[str],
                     ranges: Sequence[Sequence[tuple[int, int]]]) -> list[list[float]]:
        """:meth:`ExtractiveReader.range_scores`: how strongly the reader points into each range."""
        return self.reader.range_scores(question, contexts, ranges)

    def _generate(self, messages: list[Message], params: GenerationParams, *, on_token: Callable[[str], None] | None,
                  logits_processors: list[Any]) -> Generation:
        if logits_processors:
            raise InputError(f"{self.model_id} is an extractive reader: it has no next-token logits to process")
        users = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
        question = users[-1].strip() if users else ""
        passages = [p for u in users[:-1] for p in parse_sources(u)]
        if not question:
            raise InputError(f"{self.model_id}: no question (the last user message is empty or missing)")
        if not passages:
            raise InputError(f"{self.model_id} answers from passages: give it a RAG prompt (enable a retriever, "
                             "or pass documents) — it found no <sources> turn")
        best, spans = self.reader.read(question, [p.text for p in passages], self.null_margin)
        tokens = sum(len(self.reader.tokenizer.tokenize(p.text)) for p in passages)
        if best is None:
            text, conf = REFUSAL, max((s.null_probability for s in spans if s is not None), default=1.0)
        else:
            text, conf = f"{best.text.strip()} [{passages[best.passage].number}]", best.probability
        if on_token is not None:
            on_token(text)
        detail = {"answer": None if best is None else best.to_dict(),
                  "source": None if best is None else passages[best.passage].number,
                  "doc_id": None if best is None else passages[best.passage].doc_id,
                  "confidence": round(conf, 4), "abstained": best is None,
                  "passages": [None if s is None else s.to_dict() for s in spans]}
        return Generation(text=text, model=self.model_id, tokens=[text], logprobs=[math.log(max(conf, 1e-12))],
                          prompt_tokens=tokens, completion_tokens=1, finish_reason="stop", metadata={"reader": detail})

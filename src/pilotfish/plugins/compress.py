"""Prompt compression (LongLLMLingua-style): the retrieved passages, shortened under a token budget.

On this machine the large model's cost is mostly its prompt (Qwen2.5-1.5B prefills ~100 tokens/s on one
thread), so a small model that drops what the question does not need makes the answer cheaper.

Two steps, each configurable:

1. **coarse** (``coarse = "auto"``: MiniLM, on ONNX Runtime int8 where it can be had; any embedder id;
   ``""`` turns it off): the passages are split into
   sentences; each sentence is scored by its cosine similarity to the question, plus ``rank_weight``
   times its passage's similarity (the passage's vector is the mean of its sentences'), and the best sentences are kept, in their original order, until the
   budget is spent. A sentence repeated by overlapping passages is kept once.
2. **fine** (``fine = "smollm2-135m"``, any white-box model; off by default): the coarse step keeps
   ``fine_slack`` times the budget, then the words a small LM finds least informative (the lowest
   self-information, summed over their tokens, given the question) are dropped to reach the budget.
   ``fine = "lingua"`` ranks the words by a trained keep classifier instead (LLMLingua-2-style: MiniLM,
   distilled from compressions the large model judged answer-preserving; :mod:`pilotfish.compressors`).

The budget is ``budget`` tokens of the passages, or their size divided by ``ratio``, counted with the
large model's own tokenizer. The question, the instructions and the history are never touched. Each
passage keeps its number, so ``[n]`` citations resolve to ``answer.documents`` (the originals);
``answer.metadata["compression"]`` holds the tokens before and after and the ratio.

Config::

    [pilotfish]
    plugins = ["compress"]

    [pilotfish.plugin.compress]
    ratio = 3.0          # or: budget = 150
    coarse = "auto"      # MiniLM (ONNX int8 where available), or any embedder id
    fine = ""            # "smollm2-135m" adds the token-level step
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from pilotfish.core.errors import ConfigError, PilotfishError
from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.surprisal import word_surprisal
from pilotfish.core.types import Document, Request
from pilotfish.retrievers.documents import split_sentences

_WORD = re.compile(r"\S+")


class Compress(Plugin):
    """``compress`` hook: keep the sentences (and words) of the passages that matter for the question."""

    name = "compress"

    class Options(PluginOptions):
        ratio: float = Field(3.0, ge=1.0)
        """Target: the passages' tokens divided by this (1.0 keeps everything)."""
        budget: int | None = None
        """Target in tokens of the passages; wins over ``ratio``."""
        coarse: str = "auto"
        """Embedder that ranks sentences by relevance to the question; "" keeps whole passages for ``fine``.
        ``"auto"``: ``minilm-int8`` (MiniLM on ONNX Runtime, the encoder the dense index is built with, so it is
        loaded once for both and torch is never imported) where it can be had, else ``minilm``."""
        rank_weight: float = 0.5
        """Weight of the passage's own similarity in a sentence's score."""
        fine: str = ""
        """Picks the words to drop: a white-box small LM (its per-token log-probs, e.g. "smollm2-135m") or a
        trained keep classifier ("lingua"); "" for sentences only."""
        fine_slack: float = Field(1.5, ge=1.0)
        """With ``fine``, the coarse step keeps this many times the budget."""
        min_sentences: int = Field(1, ge=0)
        """Always keep at least this many of the best sentences, whatever the budget."""
        guide: str = ""
        """A span reader (e.g. ``"reader"``): the sentences it points the answer into are kept first."""
        guide_top: int = Field(2, ge=1)
        """With ``guide``, how many of its best sentences are kept first."""
        previous: int = Field(0, ge=0)
        """Also keep this many sentences before each of the guide's (a pronoun keeps its referent)."""

        @model_validator(mode="after")
        def _check(self) -> Compress.Options:
            if self.budget is not None and self.budget < 1:
                raise ValueError(f"budget must be at least 1 token, got {self.budget}")
            if not self.coarse and not self.fine:
                raise ValueError("set coarse (an embedder id) or fine (a white-box model id), or both")
            if self.guide and not self.coarse:
                raise ValueError("guide pins sentences for the coarse step: set coarse too (e.g. 'minilm')")
            if self.previous and not self.guide:
                raise ValueError("previous keeps the sentences before the guide's picks: set guide (e.g. 'reader')")
            return self

    # -- the hook -------------------------------------------------------------------------------------

    @hookimpl
    def compress(self, request: Request, documents: list[Document], pilot: Any) -> list[Document] | None:
        count = _token_counter(pilot.model_for(request))
        question = request.question
        if not question.strip():
            raise PilotfishError("compress: the question is empty, so nothing tells what to keep")
        sizes = [count(_shown_text(d)) for d in documents]
        total = sum(sizes)
        target = self.options.budget if self.options.budget is not None else max(1, int(total / self.options.ratio))
        if target >= total:
            return [_with_stats(d, d.text, n, n) for d, n in zip(documents, sizes, strict=True)]
        sentences = _sentences(documents)
        if not sentences:
            return None
        coarse_target = target * (self.options.fine_slack if self.options.fine else 1.0)
        if self.options.coarse:
            keep = self._coarse(question, documents, sentences, coarse_target, count, pilot)
        else:
            keep = set(range(len(sentences)))
        texts: list[list[str]] = [[] for _ in documents]
        for i in sorted(keep):
            texts[sentences[i][0]].append(sentences[i][1])
        joined = [" ".join(t) for t in texts]
        if self.options.fine:
            joined = self._fine(question, joined, target, count, pilot)
        return [_with_stats(d, t, n, count(_shown_text(dataclasses.replace(d, text=t))) if t else 0, self.name)
                for d, t, n in zip(documents, joined, sizes, strict=True)]

    # -- steps ----------------------------------------------------------------------------------------

    def _coarse(self, question: str, documents: list[Document], sentences: list[tuple[int, str, int, int]],
                target: float, count: Any, pilot: Any) -> set[int]:
        embedder = pilot.get_model(_coarse_model(self.options.coarse))
        if not hasattr(embedder, "embed"):
            raise ConfigError(f"compress: coarse = {self.options.coarse!r} is not an embedder (give e.g. 'minilm')")
        vecs = np.asarray(embedder.embed([question] + [s[1] for s in sentences]))
        q, sents = vecs[0], vecs[1:]
        # a passage's vector: the mean of its sentences' (no second encoder pass over the whole passages)
        owner = np.array([s[0] for s in sentences])
        passages = np.stack([sents[owner == p].mean(axis=0) if (owner == p).any() else np.zeros_like(q)
                             for p in range(len(documents))])
        passages /= np.maximum(np.linalg.norm(passages, axis=1, keepdims=True), 1e-9)
        score = sents @ q + self.options.rank_weight * (passages @ q)[owner]
        order = [int(i) for i in np.argsort(-score, kind="stable")]
        if self.options.guide:
            order = self._guided(question, documents, sentences, pilot) + order
        keep: set[int] = set()
        seen: set[str] = set()
        spent = 0
        for i in order:
            if i in keep:
                continue
            text = sentences[i][1]
            key = " ".join(text.split())
            if key in seen:
                continue
            cost = count(text)
            if spent + cost > target and len(keep) >= self.options.min_sentences:
                continue  # a shorter sentence further down may still fit
            keep.add(int(i))
            seen.add(key)
            spent += cost
        return keep

    def _guided(self, question: str, documents: list[Document], sentences: list[tuple[int, str, int, int]],
                pilot: Any) -> list[int]:
        """The guide's best sentences, best first, each followed by the ``previous`` sentences before it in its
        passage (the prompt shows them in their original order)."""
        guide = pilot.get_model(self.options.guide)
        if not hasattr(guide, "range_scores"):
            raise ConfigError(f"compress: guide = {self.options.guide!r} is not a span reader (give e.g. 'reader')")
        contexts, ranges, index = [], [], []
        for p, d in enumerate(documents):
            shift = len(_shown_text(d)) - len(d.text)  # the reader reads "title: text", as in the prompt
            mine = [(k, s) for k, s in enumerate(sentences) if s[0] == p]
            contexts.append(_shown_text(d))
            ranges.append([(a + shift, b + shift) for _, (_, _, a, b) in mine])
            index.append([k for k, _ in mine])
        scores = guide.range_scores(question, contexts, ranges)
        ranked = sorted(((sc, k) for ks, scs in zip(index, scores, strict=True) for k, sc in zip(ks, scs, strict=True)
                         if sc > -np.inf), key=lambda t: -t[0])
        out: list[int] = []
        for _, k in ranked[: self.options.guide_top]:
            p = sentences[k][0]
            out += [k] + [j for j in range(k - 1, k - 1 - self.options.previous, -1) if j >= 0 and sentences[j][0] == p]
        return out

    def _fine(self, question: str, texts: list[str], target: int, count: Any, pilot: Any) -> list[str]:
        model = pilot.get_model(self.options.fine)
        words: list[tuple[int, str, float]] = []  # (passage, word, score: higher is kept longer)
        if hasattr(model, "keep_scores"):  # a trained keep classifier (``lingua``): P(keep), every text at once
            for p, scored in enumerate(model.keep_scores(question, texts)):
                words += [(p, w, s) for w, s in scored]
        elif hasattr(model, "token_logprobs"):  # a small LM: the words' self-information given the question
            for p, text in enumerate(texts):
                if text:
                    words += [(p, w, s) for w, s in word_surprisal(model, question, text)]
        else:
            raise ConfigError(f"compress: fine = {self.options.fine!r} is neither a white-box model (per-token "
                              "log-probs; e.g. 'smollm2-135m') nor a keep classifier (e.g. 'lingua')")
        costs = [count(" " + w) for _, w, _ in words]
        spent = sum(costs)
        drop: set[int] = set()
        for i in sorted(range(len(words)), key=lambda i: words[i][2]):
            if spent <= target:
                break
            drop.add(i)
            spent -= costs[i]
        out: list[list[str]] = [[] for _ in texts]
        for i, (p, w, _) in enumerate(words):
            if i not in drop:
                out[p].append(w)
        return [" ".join(ws) for ws in out]


# --- helpers -------------------------------------------------------------------------------------------


def _coarse_model(name: str) -> str:
    if name != "auto":
        return name
    from pilotfish.core.models import registry

    spec = registry().models.get("minilm-int8")
    try:
        return "minilm-int8" if spec is not None and spec.is_available() else "minilm"
    except PilotfishError:
        return "minilm"


def _shown_text(doc: Document) -> str:
    return f"{doc.title}: {doc.text}" if doc.title and not doc.text.startswith(doc.title) else doc.text


def _token_counter(model: Any) -> Any:
    encode = getattr(model, "encode", None)
    if callable(encode):
        return lambda text: len(encode(text)) if text else 0
    return lambda text: int(len(_WORD.findall(text)) * 1.3 + 0.5)  # a black-box model: ~1.3 tokens a word


def _sentences(documents: list[Document]) -> list[tuple[int, str, int, int]]:
    """``(passage, sentence, start, end)`` in passage order; start and end index the passage's text."""
    out = []
    for p, d in enumerate(documents):
        out += [(p, d.text[s:e], s, e) for s, e in split_sentences(d.text)]
    return out


def _with_stats(doc: Document, text: str, before: int, after: int, plugin: str = "compress") -> Document:
    meta = {**doc.metadata, "compression": {"plugin": plugin, "tokens_before": before, "tokens_after": after}}
    return dataclasses.replace(doc, text=text, metadata=meta)

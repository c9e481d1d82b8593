"""Knowledge cards: a small domain model tells any large model what the domain says (black-box domain
guide, after Knowledge Card (Feng et al., 2024) and BLADE (Li et al., 2024)).

``before_prompt``: the plugin searches its **own** domain index (``corpus`` or ``index``; the pilot needs no
retrieval of its own), lets a small domain model read the best ``k`` passages (the extractive ``reader`` by
default, or any chat model: SmolLM2 answers the same RAG prompt), and, when the small model is confident
enough, adds a short card to ``request.context``. Every prompt builder puts the context in the system
message under "Background knowledge:", so the card reaches any model, ``openai:`` ones included, whose
weights pilotfish never sees.

A card names where it came from: the article's title and id, and (for the reader) the sentence holding the
answer::

    According to the BBC News article "Steel firm 'to cut' 45,000 jobs" (business/027): LNM Holdings.
    Evidence: "Mr Mittal runs LNM Holdings, ..."

``request.metadata["knowledge"]`` (``answer.request.metadata``) records the card, the model, its
confidence, the passage and document ids, and why no card was written when none was. Below
``min_confidence`` there is no card: a domain guide that is unsure says nothing.

Config::

    [pilotfish]
    model = "openai:gpt-4o-mini"      # any model, local or remote
    plugins = ["knowledge"]

    [pilotfish.plugin.knowledge]
    corpus = "bbc"                    # or index = "path/to/index"
    model = "reader"                  # the small domain model
    k = 3
    min_confidence = 0.1
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import Field, model_validator

from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.prompts import is_refusal, rag_messages
from pilotfish.core.types import Document, Request

_CITE = re.compile(r"\s*\[\d+\]")


class Knowledge(Plugin):
    """``before_prompt``: a knowledge card from a small domain model, with its source."""

    name = "knowledge"

    class Options(PluginOptions):
        corpus: str | None = None
        """The domain: a folder of .txt/.md files or ``bbc`` (indexed on first use, reused after)."""
        index: str | None = None
        """Or a built index (``pilotfish index``)."""
        model: str = "reader"
        """The small domain model: ``reader`` (a span with its confidence) or a chat model."""
        k: int = Field(3, ge=1, le=20)
        min_confidence: float = Field(0.1, ge=0.0, le=1.0)
        """Below: no card. 0.1 measured best of 0.1 / 0.3 (docs/prompts.md)."""
        max_tokens: int = Field(48, ge=1)
        label: str = "the BBC News article"
        """How the card names its source (``According to <label> "<title>" (<id>)``)."""

        @model_validator(mode="after")
        def _one_domain(self) -> Knowledge.Options:
            if (self.corpus is None) == (self.index is None):
                raise ValueError("give the domain as corpus = \"DIR\" (or \"bbc\") or index = \"DIR\", exactly one")
            return self

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._domain: Any = None

    def domain(self) -> Any:
        """A retrieval-only pilot over the domain index (built once; the index is built on first use)."""
        if self._domain is None:
            from pilotfish.core.build import build_pilot

            index = self.options.index
            if index is None:
                from pilotfish.retrievers.cli import corpus_index

                index = str(corpus_index(self.options.corpus))
            self._domain = build_pilot(None, None, (), index=index)
        return self._domain

    @hookimpl
    def before_prompt(self, request: Request, pilot: Any) -> Request | None:
        question = (request.query or request.question).strip()
        if not question:
            return None
        docs = self.domain().retrieve(question, k=self.options.k)
        small = pilot.get_model(self.options.model)
        card, info = self.card(question, docs, small)
        if card is None:
            return request.replace(metadata={**request.metadata, "knowledge": info})
        return request.replace(context=(*request.context, card), metadata={**request.metadata, "knowledge": info})

    def card(self, question: str, docs: list[Document], small: Any) -> tuple[str | None, dict[str, Any]]:
        """The card for ``question`` from ``docs`` (or ``None``), and its record."""
        info: dict[str, Any] = {"model": getattr(small, "model_id", str(small)), "card": None,
                                "passages": [d.id for d in docs]}
        if not docs:
            return None, {**info, "reason": "the domain index returned no passage"}
        messages = rag_messages(Request(question=question), docs)
        gen = small.generate(messages, max_tokens=self.options.max_tokens, temperature=0.0)
        reader = gen.metadata.get("reader")
        if reader is not None:
            confidence = float(reader["confidence"])
            number = reader.get("source")
        else:
            confidence = math.exp(gen.mean_logprob) if gen.mean_logprob is not None else 0.0
            cited = [int(n) for n in re.findall(r"\[(\d+)\]", gen.text)]
            number = cited[0] if cited else 1
        info["confidence"] = round(confidence, 4)
        if is_refusal(gen.text) or not gen.text.strip():
            return None, {**info, "reason": "the domain model found no answer"}
        if confidence < self.options.min_confidence:
            return None, {**info, "reason": f"confidence {confidence:.2f} < {self.options.min_confidence}"}
        doc = docs[number - 1] if number and 1 <= number <= len(docs) else docs[0]
        answer = _CITE.sub("", gen.text).strip().rstrip(".")
        title = f' "{doc.title}"' if doc.title else ""
        card = f"According to {self.options.label}{title} ({doc.doc_id}): {answer}."
        evidence = _sentence_with(doc.text, reader["answer"]["text"]) if reader and reader.get("answer") else None
        if evidence:
            card += f' Evidence: "{evidence}"'
        return card, {**info, "card": card, "doc_id": doc.doc_id, "passage": doc.id, "title": doc.title}


def _sentence_with(text: str, span: str) -> str | None:
    from pilotfish.retrievers.documents import split_sentences

    for s, e in split_sentences(text):
        if span and span in text[s:e]:
            return text[s:e]
    return None


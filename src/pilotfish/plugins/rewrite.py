"""Query rewriting before retrieval: a small model writes the search queries, the user's question stays.

Three modes (``mode``), all ``before_prompt``:

- ``standalone`` (default): in a conversation, the last question is rewritten so it stands alone
  ("what about his brother?" -> "Who is Lakshmi Mittal's brother?") and becomes ``request.query``; the
  previous question + the follow-up is searched too (``with_history``); a first turn is left as it is.
- ``multi``: ``n`` search queries in other words (vocabulary mismatch), added to ``request.queries``.
- ``hyde``: a short passage that would answer the question (HyDE, Gao et al. 2022), added to
  ``request.queries``: it is searched like a query, and its words match the corpus's.

Retrieval searches with ``request.query`` (or the question) and every entry of ``request.queries``, and
fuses the lists (the host's fusion, reciprocal rank by default). With ``keep_question = true`` (default)
the user's own question is always one of the searches. The prompt the large model sees keeps the user's
question. What was written is in ``request.metadata["rewrite"]``.

Config::

    [pilotfish]
    plugins = ["bm25", "dense", "rewrite"]

    [pilotfish.plugin.rewrite]
    model = "smollm2-135m"     # any chat model; "qwen2.5-1.5b" writes better queries at ~10x the cost
    mode = "standalone"        # "multi", "hyde"
    n = 3                      # queries in multi mode
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field

from pilotfish.core.errors import PilotfishError
from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.types import Request

STANDALONE = "Rewrite the follow-up question so it stands alone, naming what it refers to. Do not answer it."
# two worked examples: without them SmolLM2-135M answers the question instead of rewriting it
STANDALONE_SHOTS = (
    ("user: Who is the chief executive of Tesco?\nassistant: Terry Leahy [1].", "How much did he earn last year?",
     "How much did Terry Leahy, chief executive of Tesco, earn last year?"),
    ("user: Which film won best picture at the Baftas?\nassistant: The Aviator won [2].", "Who directed it?",
     "Who directed The Aviator, the film that won best picture at the Baftas?"),
)
MULTI = ("Write {n} different search queries that would find the answer to the question, one per line, using "
         "other words than the question. Reply with the queries only.")
HYDE = "Write two sentences of a news article that answers the question. Reply with the sentences only."


class Rewrite(Plugin):
    """``before_prompt``: search queries written by a small model; the question itself is unchanged."""

    name = "rewrite"

    class Options(PluginOptions):
        model: str = "smollm2-135m"
        mode: Literal["standalone", "multi", "hyde"] = "standalone"
        n: int = Field(3, ge=1, le=8)
        with_history: bool = True
        """For a follow-up, also search with the previous question + the follow-up (the rule of
        ``pilotfish chat``) and fuse: it costs nothing and catches what a small rewriter misses."""
        keep_question: bool = True
        """In ``multi`` and ``hyde`` modes, also search with the question (or its standalone form)."""
        max_tokens: int = Field(64, ge=8, le=256)

    @hookimpl
    def before_prompt(self, request: Request, pilot: Any) -> Request | None:
        question = request.question.strip()
        if not question:
            raise PilotfishError("rewrite: the question is empty")
        history = [m for m in request.messages if m["role"] in ("user", "assistant")]
        if history and history[-1]["role"] == "user":
            history = history[:-1]
        mode = self.options.mode
        model = pilot.get_model(self.options.model)
        written: list[str] = []
        query = request.query
        if history:  # a follow-up: every mode first makes it stand alone
            turns = "\n".join(f"{m['role']}: {m['content'][:400]}" for m in history[-4:])
            text = self._ask(model, STANDALONE, f"Conversation:\n{turns}\nFollow-up: {question}", STANDALONE_SHOTS)
            standalone = _first_line(text)
            if standalone:
                query = standalone
                written.append(standalone)
        queries = list(request.queries)
        previous = [m["content"] for m in history if m["role"] == "user"]
        if history and self.options.with_history and previous:
            queries.append(f"{previous[-1]} {question}")
        base = query or question
        if mode == "multi":
            lines = _lines(self._ask(model, MULTI.format(n=self.options.n), f"Question: {base}"))
            queries += lines[: self.options.n]
            written += lines[: self.options.n]
        elif mode == "hyde":
            passage = " ".join(self._ask(model, HYDE, f"Question: {base}").split())
            if passage:
                queries.append(passage)
                written.append(passage)
        added = queries[len(request.queries) + int(bool(history and self.options.with_history and previous)):]
        if added and not self.options.keep_question:  # the written queries replace the question's search
            query, queries = added[0], list(request.queries) + added[1:]
        if query == request.query and queries == list(request.queries):
            return None
        meta = {**request.metadata, "rewrite": {"model": model.model_id, "mode": mode, "written": written}}
        return request.replace(query=query, queries=tuple(queries), metadata=meta)

    def _ask(self, model: Any, instruction: str, content: str, shots: tuple[tuple[str, str, str], ...] = ()) -> str:
        messages = [{"role": "system", "content": instruction}]
        for conversation, followup, rewritten in shots:
            messages += [{"role": "user", "content": f"Conversation:\n{conversation}\nFollow-up: {followup}"},
                         {"role": "assistant", "content": rewritten}]
        messages.append({"role": "user", "content": content})
        return model.generate(messages, max_tokens=self.options.max_tokens, temperature=0.0).text


def _first_line(text: str) -> str:
    line = next((x.strip() for x in text.splitlines() if x.strip()), "")
    return re.sub(r"^(rewritten question|question|query)\s*:\s*", "", line, flags=re.I).strip().strip('"')


def _lines(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(\d+[.)]|[-*•])\s*", "", line).strip().strip('"')
        if len(line.split()) >= 2 and line not in out:
            out.append(line)
    return out

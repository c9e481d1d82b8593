"""A whole :class:`~pilotfish.Pilot` as an LCEL ``Runnable`` (:class:`PilotRunnable`), pilotfish retrieval as
a LangChain ``BaseRetriever`` (:class:`PilotRetriever`) and the enabled ``verify`` plugins as a Runnable
(:class:`PilotVerifier`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.documents import Document as LCDocument
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.prompt_values import PromptValue
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import ConfigDict, PrivateAttr

from pilotfish.core.errors import InputError
from pilotfish.core.pilot import Pilot
from pilotfish.core.tracing import collecting_trace
from pilotfish.core.types import Answer, Document, Request, TraceEvent

from .convert import (
    GENERATION_KWARGS,
    emit_trace,
    from_langchain_document,
    from_langchain_messages,
    response_metadata,
    text_of,
    to_langchain_document,
    usage_metadata,
)
from .model import build_pilot, check_pilot


def _question_of(value: Any) -> tuple[Any, dict[str, Any]]:
    """Runnable input -> (question or messages, generation params)."""
    if isinstance(value, str):
        return value, {}
    if isinstance(value, PromptValue):
        return from_langchain_messages(value.to_messages()), {}
    if isinstance(value, BaseMessage):
        return from_langchain_messages([value]), {}
    if isinstance(value, dict):
        params = {k: value[k] for k in (*GENERATION_KWARGS, "system") if k in value}
        for key in ("question", "input", "query", "messages"):
            if key in value:
                inner, _ = _question_of(value[key])
                return inner, params
        raise InputError(f"PilotRunnable: a dict input needs 'question', 'input', 'query' or 'messages'; got keys {sorted(value)}")
    if isinstance(value, (list, tuple)):
        if all(isinstance(m, BaseMessage) for m in value):
            return from_langchain_messages(value), {}
        if all(isinstance(m, dict) for m in value):
            return list(value), {}
    raise InputError(f"PilotRunnable takes a string, messages, a prompt value or a dict; got {type(value).__name__}")


class PilotRunnable(Runnable[Any, Any]):
    """A :class:`~pilotfish.Pilot` as an LCEL Runnable: ``prompt | PilotRunnable(pilot) | parser``.

    Input: a question string, a prompt value, LangChain or dict messages, or a dict with
    ``question`` / ``input`` / ``query`` / ``messages`` (plus optional ``max_tokens``,
    ``temperature``, ``stop``, ``system``).

    Output (``output=``): ``"message"`` (default) an ``AIMessage`` whose
    ``response_metadata["pilotfish"]`` holds citations, verdicts and route; ``"text"`` the answer
    string; ``"answer"`` the :class:`~pilotfish.Answer` itself. Streaming yields
    ``AIMessageChunk`` (message) or ``str`` chunks (text, answer).
    """

    def __init__(self, pilot: Pilot | None = None, *, output: str = "message", trace_events: bool = True,
                 **pilot_kwargs: Any):
        if output not in ("message", "text", "answer"):
            raise InputError(f"PilotRunnable: output must be 'message', 'text' or 'answer', got {output!r}")
        self.pilot = pilot if pilot is not None else Pilot(**pilot_kwargs)
        self.output = output
        self.trace_events = trace_events
        self.name = "PilotRunnable"

    def _format(self, answer: Answer) -> Any:
        if self.output == "answer":
            return answer
        if self.output == "text":
            return answer.text
        meta = response_metadata(answer)
        return AIMessage(content=answer.text, usage_metadata=usage_metadata(answer), response_metadata=meta)

    def _run(self, value: Any, run_manager: Any) -> Any:
        question, params = _question_of(value)
        answer = self.pilot.run(question, **params)
        if self.trace_events:
            emit_trace(run_manager, answer.trace, answer)
        return self._format(answer)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return self._call_with_config(self._run, input, config, run_type="chain")

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        async def arun(value: Any, run_manager: Any) -> Any:
            question, params = _question_of(value)
            answer = await self.pilot.arun(question, **params)
            if self.trace_events:
                emit_trace(run_manager.get_sync(), answer.trace, answer)
            return self._format(answer)

        return await self._acall_with_config(arun, input, config, run_type="chain")

    def _stream_run(self, inputs: Iterator[Any], run_manager: Any) -> Iterator[Any]:
        for value in inputs:
            question, params = _question_of(value)
            stream = self.pilot.stream(question, **params)
            for piece in stream:
                yield AIMessageChunk(content=piece) if self.output == "message" else piece
            answer = stream.answer
            assert answer is not None
            if self.trace_events:
                emit_trace(run_manager, answer.trace, answer)
            if self.output == "message":
                meta = response_metadata(answer)
                yield AIMessageChunk(content="", usage_metadata=usage_metadata(answer), response_metadata=meta,
                                     chunk_position="last")

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[Any]:
        yield from self._transform_stream_with_config(iter([input]), self._stream_run, config, run_type="chain")

    def transform(self, input: Iterator[Any], config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[Any]:
        yield from self._transform_stream_with_config(input, self._stream_run, config, run_type="chain")

    async def astream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AsyncIterator[Any]:
        import asyncio

        loop = asyncio.get_running_loop()
        iterator = self.stream(input, config, **kwargs)
        done = object()
        while True:
            item = await loop.run_in_executor(None, next, iterator, done)
            if item is done:
                return
            yield item


# --- retrieval and verification ------------------------------------------------------------------


class PilotRetriever(BaseRetriever):
    """pilotfish retrieval as a LangChain retriever: every enabled ``retrieve`` plugin, fused by
    reciprocal rank fusion, then the ``rerank`` plugin; the best ``k``.

    Args:
        pilot: a :class:`~pilotfish.Pilot` with retriever plugins (or give ``plugins`` /
            ``options`` / ``config`` to build one).
        k: how many documents to return (``invoke(query, k=3)`` overrides it per call).

    Documents carry ``id``, ``doc_id``, ``title``, ``score`` and ``retriever`` in metadata.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    pilot: Any = None
    plugins: list[Any] = []
    options: dict[str, dict[str, Any]] | None = None
    config: Any = None
    k: int = 4
    trace_events: bool = True

    _pilot: Pilot | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any) -> None:
        check_pilot(self.pilot)
        if not isinstance(self.k, int) or self.k < 1:
            raise InputError(f"PilotRetriever: k must be a positive integer, got {self.k!r}")

    def get_pilot(self) -> Pilot:
        if self._pilot is None:
            self._pilot = build_pilot(self.pilot, None, self.plugins, self.options, self.config)
        return self._pilot

    def _get_relevant_documents(self, query: str, *, run_manager: Any, k: int | None = None) -> list[LCDocument]:
        k = self.k if k is None else k
        if not isinstance(k, int) or k < 1:
            raise InputError(f"PilotRetriever: k must be a positive integer, got {k!r}")
        if not isinstance(query, str) or not query.strip():
            raise InputError("PilotRetriever: the query is empty")
        pilot = self.get_pilot()
        trace: list[TraceEvent] = []
        with collecting_trace(trace):
            docs = pilot.retrieve(pilot.make_request(query), k)
        if self.trace_events:
            emit_trace(run_manager, trace)
        return [to_langchain_document(d) for d in docs[:k]]


class PilotVerifier(Runnable[dict, dict]):
    """The enabled ``verify`` plugins as a Runnable for an existing chain.

    Input: a dict with ``question``, ``answer`` (a string or message) and ``documents``
    (LangChain documents, e.g. what the chain's retriever returned). Output: the same dict plus
    ``verdicts`` (list of dicts: verifier, passed, label, claim, score, evidence, document_id)
    and ``passed``.
    """

    def __init__(self, pilot: Pilot | None = None, **pilot_kwargs: Any):
        self.pilot = pilot if pilot is not None else Pilot(**pilot_kwargs)
        self.name = "PilotVerifier"

    def _verify(self, value: dict, run_manager: Any) -> dict:
        if not isinstance(value, dict) or "answer" not in value:
            raise InputError("PilotVerifier takes a dict with 'question', 'answer' and 'documents'")
        answer = value["answer"]
        text = answer if isinstance(answer, str) else text_of(getattr(answer, "content", answer), "answer")
        docs = [d if isinstance(d, Document) else from_langchain_document(d, i)
                for i, d in enumerate(value.get("documents") or [])]
        question = str(value.get("question") or "")
        request = Request(question=question, messages=({"role": "user", "content": question},))
        trace: list[TraceEvent] = []
        with collecting_trace(trace):
            verdicts = self.pilot.hooks.verify(request, text, docs, self.pilot)
        emit_trace(run_manager, trace)
        rows = [{"verifier": v.verifier, "passed": v.passed, "label": v.label, "claim": v.claim, "score": v.score,
                 "evidence": v.evidence, "document_id": v.document_id} for v in verdicts]
        return {**value, "verdicts": rows, "passed": all(v.passed for v in verdicts)}

    def invoke(self, input: dict, config: RunnableConfig | None = None, **kwargs: Any) -> dict:
        return self._call_with_config(self._verify, input, config, run_type="chain")

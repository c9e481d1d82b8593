"""pilotfish inside LangChain apps, and LangChain chat models inside pilotfish.

Needs the ``langchain`` extra (``langchain-core`` only; it holds every base class, callbacks and
LCEL).

- :class:`LangChainModel`: any LangChain chat model as a pilotfish :class:`~pilotfish.LanguageModel`
  (so every pilotfish plugin works on top of it). Model ids ``langchain:<module>:<attr>``.
- :class:`PilotChatModel`: a LangChain ``BaseChatModel`` that answers through a pilotfish chain
  (retrieve, verify, repair, ...) around a LangChain chat model or a pilotfish model.
- :class:`PilotRunnable`: a whole :class:`~pilotfish.Pilot` as an LCEL ``Runnable``.
- :class:`PilotRetriever`: pilotfish retrieval (every enabled retriever, fused, reranked) as a
  LangChain ``BaseRetriever``.
- :class:`PilotVerifier`: the enabled ``verify`` plugins as a Runnable that checks an answer
  against the documents an existing chain retrieved.
- The callback bridge: every hook call of a run (pilotfish's trace) is sent to the LangChain
  callbacks of the run as a custom event ``pilotfish.hook`` (then one ``pilotfish.answer``), so
  ``astream_events`` and LangSmith-style tracers see the chain's inside.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

try:
    from langchain_core.callbacks import CallbackManager
    from langchain_core.documents import Document as LCDocument
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import (
        AIMessage,
        AIMessageChunk,
        BaseMessage,
        ChatMessage,
        HumanMessage,
        SystemMessage,
    )
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
    from langchain_core.prompt_values import PromptValue
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables import Runnable, RunnableConfig
except ImportError as exc:  # pragma: no cover - depends on the environment
    from pilotfish.core.errors import MissingDependencyError

    raise MissingDependencyError("langchain-core", "langchain", "pilotfish.adapters.langchain") from exc

from pydantic import ConfigDict, PrivateAttr

from pilotfish.core.errors import InputError, ModelError
from pilotfish.core.manager import collecting_trace
from pilotfish.core.models import GenerationParams, LanguageModel, apply_stop
from pilotfish.core.pilot import Pilot
from pilotfish.core.types import Answer, Document, Generation, Message, Request, TraceEvent

__all__ = [
    "LangChainModel",
    "PilotChatModel",
    "PilotRetriever",
    "PilotRunnable",
    "PilotVerifier",
    "emit_trace",
    "from_langchain_messages",
    "load_langchain_model",
    "to_langchain_document",
    "to_langchain_messages",
]

GENERATION_KWARGS = ("max_tokens", "temperature", "top_p", "seed", "stop")


# --- messages and documents -------------------------------------------------------------------


def _text_of(content: Any, where: str) -> str:
    """The text of a LangChain message content (a string or a list of content blocks)."""
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif isinstance(block, dict) and block.get("type") in ("reasoning", "thinking"):
            continue
        else:
            kind = block.get("type") if isinstance(block, dict) else type(block).__name__
            raise InputError(f"{where}: only text content is supported, got a {kind!r} block")
    return "".join(parts)


_ROLES = {"human": "user", "user": "user", "ai": "assistant", "assistant": "assistant", "system": "system"}


def from_langchain_messages(messages: Sequence[BaseMessage]) -> list[Message]:
    """LangChain messages -> pilotfish chat messages (text only; tool messages are refused)."""
    out: list[Message] = []
    for i, m in enumerate(messages):
        role = m.role if isinstance(m, ChatMessage) else m.type
        if role not in _ROLES:
            raise InputError(
                f"message {i} is a {type(m).__name__} ({role!r}); pilotfish chains take system, "
                "human and AI messages (no tool calling)"
            )
        out.append({"role": _ROLES[role], "content": _text_of(m.content, f"message {i}")})
    return out


def to_langchain_messages(messages: Sequence[Message]) -> list[BaseMessage]:
    out: list[BaseMessage] = []
    for m in messages:
        role, content = m["role"], m["content"]
        if role == "system":
            out.append(SystemMessage(content))
        elif role == "assistant":
            out.append(AIMessage(content))
        elif role == "user":
            out.append(HumanMessage(content))
        else:
            out.append(ChatMessage(role=role, content=content))
    return out


def to_langchain_document(doc: Document) -> LCDocument:
    metadata = {
        **doc.metadata,
        "id": doc.id,
        "doc_id": doc.doc_id,
        "title": doc.title,
        "score": doc.score,
        "retriever": doc.retriever,
    }
    return LCDocument(page_content=doc.text, metadata=metadata, id=doc.id)


def from_langchain_document(doc: LCDocument, i: int = 0) -> Document:
    meta = dict(doc.metadata or {})
    doc_id = str(meta.pop("id", None) or doc.id or meta.get("source") or f"doc-{i}")
    return Document(
        id=doc_id,
        text=doc.page_content,
        doc_id=meta.pop("doc_id", None),
        title=meta.pop("title", None),
        score=float(meta.pop("score", 0.0) or 0.0),
        retriever=meta.pop("retriever", None),
        metadata=meta,
    )


# --- the callback bridge ------------------------------------------------------------------------


def _event_payload(ev: TraceEvent) -> dict[str, Any]:
    return {"hook": ev.hook, "plugin": ev.plugin, "duration_s": ev.duration_s, "status": ev.status, "error": ev.error}


def emit_trace(run_manager: Any, trace: Sequence[TraceEvent], answer: Answer | None = None) -> None:
    """Send pilotfish's hook trace to a LangChain run's callbacks as custom events.

    Each hook call becomes ``on_custom_event("pilotfish.hook", {hook, plugin, duration_s,
    status, error})`` attributed to the run; then ``pilotfish.answer`` carries the route,
    citations and verdicts when there is an answer.
    """
    if run_manager is None or not getattr(run_manager, "handlers", None):
        return
    manager = CallbackManager(
        handlers=run_manager.handlers,
        parent_run_id=run_manager.parent_run_id,
        tags=run_manager.tags,
        metadata=run_manager.metadata,
    )
    for ev in trace:
        manager.on_custom_event("pilotfish.hook", _event_payload(ev), run_id=run_manager.run_id)
    if answer is not None:
        from pilotfish.core.types import answer_payload

        manager.on_custom_event("pilotfish.answer", answer_payload(answer), run_id=run_manager.run_id)


# --- LangChain chat model -> pilotfish model --------------------------------------------------


class LangChainModel(LanguageModel):
    """Any LangChain chat model as a pilotfish :class:`~pilotfish.LanguageModel`.

    Args:
        chat_model: a ``BaseChatModel`` instance (``ChatOpenAI(...)``, ``ChatOllama(...)``, ...).
        model_id: the id pilotfish reports (default ``langchain:<class name>``).
        forward: which pilotfish generation parameters are passed to the chat model's
            ``invoke``/``stream`` as keyword arguments. ``stop`` is always applied to the text
            afterwards too; ``max_tokens`` and ``temperature`` are accepted as call arguments by
            the big provider classes (OpenAI, Anthropic, Ollama) but not by every model, so they
            are only forwarded when named here.

    Usage (``usage_metadata``) is mapped to prompt/completion tokens; streaming uses the chat
    model's own ``stream``.
    """

    def __init__(self, chat_model: BaseChatModel, model_id: str | None = None,
                 forward: Sequence[str] = ("stop",)):
        if not isinstance(chat_model, BaseChatModel):
            raise ModelError(f"LangChainModel needs a LangChain BaseChatModel, got {type(chat_model).__name__}")
        unknown = set(forward) - set(GENERATION_KWARGS)
        if unknown:
            raise ModelError(f"LangChainModel: cannot forward {sorted(unknown)}; choose from {list(GENERATION_KWARGS)}")
        self.chat_model = chat_model
        self.model_id = model_id or f"langchain:{type(chat_model).__name__}"
        self.forward = tuple(forward)

    def _call_kwargs(self, params: GenerationParams) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for name in self.forward:
            value = getattr(params, name)
            if name == "stop" and not value:
                continue
            if value is not None:
                kwargs[name] = value
        return kwargs

    def _generate(self, messages, params, *, on_token, logits_processors):  # type: ignore[no-untyped-def]
        lc_messages = to_langchain_messages(messages)
        kwargs = self._call_kwargs(params)
        try:
            if on_token is not None:
                full: Any = None
                for chunk in self.chat_model.stream(lc_messages, **kwargs):
                    piece = chunk.text
                    if piece:
                        on_token(piece)
                    full = chunk if full is None else full + chunk
                message = full if full is not None else AIMessage("")
            else:
                message = self.chat_model.invoke(lc_messages, **kwargs)
        except Exception as exc:
            raise ModelError(f"{self.model_id}: the LangChain model raised {type(exc).__name__}: {exc}") from exc
        text, hit = apply_stop(message.text, params.stop)
        usage = getattr(message, "usage_metadata", None) or {}
        meta = getattr(message, "response_metadata", None) or {}
        finish = "stop" if hit else str(meta.get("finish_reason") or meta.get("stop_reason") or "stop")
        if finish in ("max_tokens", "length"):
            finish = "length"
        return Generation(
            text=text,
            model=str(meta.get("model_name") or meta.get("model") or self.model_id),
            prompt_tokens=int(usage.get("input_tokens", 0) or 0),
            completion_tokens=int(usage.get("output_tokens", 0) or len(text.split())),
            finish_reason=finish,
            metadata={"response_metadata": dict(meta)},
        )


def load_langchain_model(path: str) -> LangChainModel:
    """The factory of ``langchain:<module>:<attr>`` ids (also ``<module>.<attr>``).

    ``attr`` may be a ``BaseChatModel`` instance, a chat model class (built without
    arguments, so it reads its settings from the environment) or a function returning one.
    """
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ModelError(f"langchain model id needs 'langchain:<module>:<attr>', got 'langchain:{path}'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(f"langchain:{path}: cannot import {module_name!r}: {exc}") from exc
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ModelError(f"langchain:{path}: {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, BaseChatModel) and callable(obj):
        try:
            obj = obj()
        except Exception as exc:
            raise ModelError(f"langchain:{path}: building the chat model failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(obj, BaseChatModel):
        raise ModelError(f"langchain:{path} is a {type(obj).__name__}, not a LangChain chat model")
    return LangChainModel(obj, model_id=f"langchain:{path}")


# --- pilotfish chain -> LangChain chat model --------------------------------------------------


def _as_pilot_model(model: Any) -> Any:
    if isinstance(model, BaseChatModel):
        return LangChainModel(model)
    return model


def _check_pilot(pilot: Any) -> None:
    if pilot is not None and not isinstance(pilot, Pilot):
        raise InputError(f"pilot must be a pilotfish.Pilot, got {type(pilot).__name__}")


def _build_pilot(pilot: Any, model: Any, plugins: Sequence[Any], options: dict[str, Any] | None,
                 config: Any) -> Pilot:
    if pilot is not None:
        _check_pilot(pilot)
        return pilot
    return Pilot(model=_as_pilot_model(model), plugins=list(plugins), options=options, config=config)


def _usage_metadata(answer: Answer) -> dict[str, int]:
    p, c = answer.usage.prompt_tokens, answer.usage.completion_tokens
    return {"input_tokens": p, "output_tokens": c, "total_tokens": p + c}


def _response_metadata(answer: Answer) -> dict[str, Any]:
    from pilotfish.core.types import answer_payload

    gen = answer.generation
    return {
        "model_name": (gen.model if gen and gen.model else None) or (answer.route.model if answer.route else "pilotfish"),
        "finish_reason": gen.finish_reason if gen else "stop",
        "pilotfish": answer_payload(answer),
    }


class PilotChatModel(BaseChatModel):
    """A LangChain chat model that answers through a pilotfish chain.

    Usable anywhere LangChain takes a chat model (``invoke``, ``batch``, ``stream``,
    ``ainvoke``, LCEL). The chain's citations, verdicts, route and repairs are in
    ``response_metadata["pilotfish"]``; tokens of every model call in ``usage_metadata``.

    Args:
        model: a LangChain chat model, a pilotfish model object or a model id
            (default ``smollm2-135m``).
        plugins: pilotfish plugins to enable (entry-point names or objects).
        options: per-plugin option tables.
        config: a ``pilotfish.toml`` path or :class:`~pilotfish.PilotConfig`.
        pilot: an already built :class:`~pilotfish.Pilot` (then model/plugins/options/config
            are not used).
        max_tokens, temperature, top_p, seed, stop: generation defaults (per-call keyword
            arguments win).
        timeout, max_retries, streaming: LangChain's standard parameters, accepted for
            compatibility; timeouts and retries belong to the wrapped model.

    When streaming, the chunks are the generated text; a repair plugin may change the answer
    after it was streamed: the final text is ``response_metadata["pilotfish"]["text"]``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    model: Any = "smollm2-135m"
    plugins: list[Any] = []
    options: dict[str, dict[str, Any]] | None = None
    config: Any = None
    pilot: Any = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: list[str] | None = None
    timeout: float | None = None
    max_retries: int | None = None
    streaming: bool = False
    trace_events: bool = True
    """Send the hook trace to the callbacks as custom events (the callback bridge)."""

    _pilot: Pilot | None = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def model_post_init(self, context: Any) -> None:
        _check_pilot(self.pilot)

    @property
    def _llm_type(self) -> str:
        return "pilotfish"

    @property
    def model_name(self) -> str:
        m = self.pilot.model if self.pilot is not None else self.model
        if isinstance(m, BaseChatModel):
            return f"langchain:{type(m).__name__}"
        return m if isinstance(m, str) else str(getattr(m, "model_id", "model"))

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "plugins": [p if isinstance(p, str) else repr(p) for p in self.plugins]}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        params: dict[str, Any] = {
            "ls_provider": "pilotfish",
            "ls_model_name": kwargs.get("model") or self.model_name,
            "ls_model_type": "chat",
        }
        if self.temperature is not None:
            params["ls_temperature"] = kwargs.get("temperature", self.temperature)
        if kwargs.get("max_tokens", self.max_tokens) is not None:
            params["ls_max_tokens"] = kwargs.get("max_tokens", self.max_tokens)
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    def get_pilot(self) -> Pilot:
        """The pilotfish chain (built on first use, then reused)."""
        with self._lock:
            if self._pilot is None:
                self._pilot = _build_pilot(self.pilot, self.model, self.plugins, self.options, self.config)
            return self._pilot

    def _params(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        unknown = set(kwargs) - set(GENERATION_KWARGS)
        if unknown:
            raise InputError(
                f"PilotChatModel got unsupported call arguments {sorted(unknown)}; supported: {list(GENERATION_KWARGS)}"
            )
        params = {name: kwargs.get(name, getattr(self, name)) for name in GENERATION_KWARGS}
        if stop is not None:
            params["stop"] = stop
        return params

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: Any = None, **kwargs: Any) -> ChatResult:
        pilot = self.get_pilot()
        answer = pilot.run(from_langchain_messages(messages), **self._params(stop, kwargs))
        if self.trace_events:
            emit_trace(run_manager, answer.trace, answer)
        meta = _response_metadata(answer)
        message = AIMessage(content=answer.text, usage_metadata=_usage_metadata(answer), response_metadata=meta)
        return ChatResult(
            generations=[ChatGeneration(message=message, generation_info={"finish_reason": meta["finish_reason"]})],
            llm_output={"model_name": meta["model_name"], "token_usage": _usage_metadata(answer)},
        )

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: Any = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        pilot = self.get_pilot()
        stream = pilot.stream(from_langchain_messages(messages), **self._params(stop, kwargs))
        for piece in stream:
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))  # LangChain calls on_llm_new_token
        answer = stream.answer
        assert answer is not None
        if self.trace_events:
            emit_trace(run_manager, answer.trace, answer)
        meta = _response_metadata(answer)
        yield ChatGenerationChunk(
            message=AIMessageChunk(content="", usage_metadata=_usage_metadata(answer), response_metadata=meta,
                                   chunk_position="last"),
            generation_info={"finish_reason": meta["finish_reason"]},
        )


# --- a whole Pilot as an LCEL Runnable -------------------------------------------------------


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
        meta = _response_metadata(answer)
        return AIMessage(content=answer.text, usage_metadata=_usage_metadata(answer), response_metadata=meta)

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
                meta = _response_metadata(answer)
                yield AIMessageChunk(content="", usage_metadata=_usage_metadata(answer), response_metadata=meta,
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
        _check_pilot(self.pilot)
        if not isinstance(self.k, int) or self.k < 1:
            raise InputError(f"PilotRetriever: k must be a positive integer, got {self.k!r}")

    def get_pilot(self) -> Pilot:
        if self._pilot is None:
            self._pilot = _build_pilot(self.pilot, None, self.plugins, self.options, self.config)
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
        text = answer if isinstance(answer, str) else _text_of(getattr(answer, "content", answer), "answer")
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

"""A LangChain ``BaseChatModel`` that answers through a pilotfish chain (retrieve, verify, repair, ...)
around a LangChain chat model or a pilotfish model."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from pilotfish.core.errors import InputError
from pilotfish.core.pilot import Pilot

from .convert import (
    GENERATION_KWARGS,
    emit_trace,
    from_langchain_messages,
    response_metadata,
    usage_metadata,
)
from .model import build_pilot, check_pilot


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
        check_pilot(self.pilot)

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
                self._pilot = build_pilot(self.pilot, self.model, self.plugins, self.options, self.config)
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
        meta = response_metadata(answer)
        message = AIMessage(content=answer.text, usage_metadata=usage_metadata(answer), response_metadata=meta)
        return ChatResult(
            generations=[ChatGeneration(message=message, generation_info={"finish_reason": meta["finish_reason"]})],
            llm_output={"model_name": meta["model_name"], "token_usage": usage_metadata(answer)},
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
        meta = response_metadata(answer)
        yield ChatGenerationChunk(
            message=AIMessageChunk(content="", usage_metadata=usage_metadata(answer), response_metadata=meta,
                                   chunk_position="last"),
            generation_info={"finish_reason": meta["finish_reason"]},
        )


"""A LangChain chat model as a pilotfish :class:`~pilotfish.LanguageModel` (model ids
``langchain:<module>:<attr>``), so every pilotfish plugin works on top of it; and the pilot a LangChain
object of this package wraps (:func:`build_pilot`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage

from pilotfish.core.errors import ModelError
from pilotfish.core.models import GenerationParams, LanguageModel, apply_stop
from pilotfish.core.pilot import Pilot
from pilotfish.core.types import Generation

from ..common import load_framework_object, require_pilot
from .convert import GENERATION_KWARGS, to_langchain_messages


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
    obj = load_framework_object("langchain", path, BaseChatModel, "chat model", "LangChain")
    return LangChainModel(obj, model_id=f"langchain:{path}")


# --- the pilot a LangChain object wraps ---------------------------------------------------------


def as_pilot_model(model: Any) -> Any:
    if isinstance(model, BaseChatModel):
        return LangChainModel(model)
    return model


def check_pilot(pilot: Any) -> None:
    """``None`` (a pilot is built from the model) or a :class:`~pilotfish.Pilot`."""
    if pilot is not None:
        require_pilot(pilot)


def build_pilot(pilot: Any, model: Any, plugins: Sequence[Any], options: dict[str, Any] | None,
                 config: Any) -> Pilot:
    if pilot is not None:
        check_pilot(pilot)
        return pilot
    return Pilot(model=as_pilot_model(model), plugins=list(plugins), options=options, config=config)

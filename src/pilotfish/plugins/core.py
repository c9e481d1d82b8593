"""The host's fallbacks, all ``trylast`` so an installed plugin always gets the first word.

- ``route``: the pilot's configured model.
- ``build_messages``: an instruction to cite (system), then the numbered passages between
  ``<sources>`` tags and the question in the user turn (:mod:`pilotfish.core.prompts`).
- ``generate``: a plain call of the routed model (with ``logits_processors`` on white-box models).
"""

from __future__ import annotations

from typing import Any

from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.prompts import rag_messages
from pilotfish.core.types import Document, Generation, Message, Request, Route


@hookimpl(trylast=True)
def route(request: Request, pilot: Any) -> Route:
    model = pilot.model
    model_id = model if isinstance(model, str) else getattr(model, "model_id", "model")
    return Route(model=model_id, reason="default model", plugin="core")


@hookimpl(trylast=True)
def build_messages(request: Request, documents: list[Document], pilot: Any) -> list[Message]:
    return rag_messages(request, documents)


@hookimpl(trylast=True)
def generate(request: Request, messages: list[Message], model: Any, on_token: Any, pilot: Any) -> Generation:
    processors = pilot.hooks.logits_processors(request, model, pilot) if getattr(model, "white_box", False) else []
    params = request.params
    return model.generate(
        messages,
        max_tokens=params.get("max_tokens", 256),
        temperature=params.get("temperature", 0.0),
        top_p=params.get("top_p", 1.0),
        stop=params.get("stop") or None,
        seed=params.get("seed"),
        on_token=on_token,
        logits_processors=processors,
    )

"""The host's fallbacks, all ``trylast`` so an installed plugin always gets the first word.

- ``route``: the pilot's configured model.
- ``build_messages``: numbered passages in a system message, with an instruction to cite them.
- ``generate``: a plain call of the routed model (with ``logits_processors`` on white-box models).
"""

from __future__ import annotations

from typing import Any

from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.types import Document, Generation, Message, Request, Route

RAG_INSTRUCTION = (
    "Answer the question using only the numbered sources below. "
    "After each sentence, cite the sources it uses like [1] or [2]. "
    "If the sources do not contain the answer, say so."
)


def format_sources(documents: list[Document]) -> str:
    lines = []
    for i, doc in enumerate(documents, start=1):
        title = f"{doc.title}: " if doc.title and not doc.text.startswith(doc.title) else ""
        lines.append(f"[{i}] ({doc.doc_id}) {title}{doc.text}")
    return "\n".join(lines)


@hookimpl(trylast=True)
def route(request: Request, pilot: Any) -> Route:
    model = pilot.model
    model_id = model if isinstance(model, str) else getattr(model, "model_id", "model")
    return Route(model=model_id, reason="default model", plugin="core")


@hookimpl(trylast=True)
def build_messages(request: Request, documents: list[Document], pilot: Any) -> list[Message]:
    system_parts = []
    if request.system:
        system_parts.append(request.system)
    if request.context:
        system_parts.append("Background knowledge:\n" + "\n".join(request.context))
    if documents:
        system_parts.append(RAG_INSTRUCTION + "\n\nSources:\n" + format_sources(documents))
    messages: list[Message] = []
    if system_parts:
        messages.append({"role": "system", "content": "\n\n".join(system_parts)})
    for example in request.examples:
        if isinstance(example, dict) and "input" in example and "output" in example:
            messages.append({"role": "user", "content": str(example["input"])})
            messages.append({"role": "assistant", "content": str(example["output"])})
    history = [m for m in request.messages if m["role"] != "system"]
    if history and history[-1]["role"] == "user":
        history[-1] = {"role": "user", "content": request.question}
    messages.extend(history)
    return messages


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

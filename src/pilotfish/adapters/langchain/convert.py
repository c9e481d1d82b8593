"""Conversions between pilotfish and LangChain: messages, documents, an answer's metadata, the pilot a
LangChain object wraps, and the callback bridge (a run's trace sent to LangChain's callbacks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManager
from langchain_core.documents import Document as LCDocument
from langchain_core.messages import AIMessage, BaseMessage, ChatMessage, HumanMessage, SystemMessage

from pilotfish.core.errors import InputError
from pilotfish.core.types import Answer, Document, Message, TraceEvent

GENERATION_KWARGS = ("max_tokens", "temperature", "top_p", "seed", "stop")


# --- messages and documents -------------------------------------------------------------------


def text_of(content: Any, where: str) -> str:
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
        out.append({"role": _ROLES[role], "content": text_of(m.content, f"message {i}")})
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



def usage_metadata(answer: Answer) -> dict[str, int]:
    p, c = answer.usage.prompt_tokens, answer.usage.completion_tokens
    return {"input_tokens": p, "output_tokens": c, "total_tokens": p + c}


def response_metadata(answer: Answer) -> dict[str, Any]:
    from pilotfish.core.types import answer_payload

    gen = answer.generation
    return {
        "model_name": (gen.model if gen and gen.model else None) or (answer.route.model if answer.route else "pilotfish"),
        "finish_reason": gen.finish_reason if gen else "stop",
        "pilotfish": answer_payload(answer),
    }


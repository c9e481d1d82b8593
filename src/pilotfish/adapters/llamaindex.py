"""pilotfish inside LlamaIndex apps, and LlamaIndex LLMs inside pilotfish.

Needs the ``llamaindex`` extra (``llama-index-core`` only).

- :class:`PilotRetriever`: pilotfish retrieval (every enabled retriever, fused, reranked) as a
  LlamaIndex retriever (``NodeWithScore`` results).
- :class:`PilotPostprocessor`: the pilot's ``rerank`` plugin as a node postprocessor (keeps the
  best ``top_n``; drops duplicate passages; optionally cuts long passages).
- :class:`PilotLLM`: a LlamaIndex ``CustomLLM`` that answers through a pilotfish chain (or a
  plain pilotfish model); citations, verdicts and route are in ``response.additional_kwargs``.
- :class:`PilotEmbedding`: a pilotfish embedder (e.g. the packaged MiniLM) as LlamaIndex's
  ``embed_model`` (LlamaIndex's default needs OpenAI).
- :class:`LlamaIndexModel`: any LlamaIndex LLM as a pilotfish model (``llamaindex:<module>:<attr>``).

LlamaIndex's defaults (``Settings.llm``, ``Settings.embed_model``, the tiktoken tokenizer) reach
for OpenAI and the network: :func:`use_pilotfish_settings` sets all three to local pilotfish
models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

try:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.base.llms.types import (
        ChatMessage,
        ChatResponse,
        CompletionResponse,
        LLMMetadata,
        MessageRole,
    )
    from llama_index.core.llms import LLM, CustomLLM
    from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
except ImportError as exc:  # pragma: no cover - depends on the environment
    from pilotfish.core.errors import MissingDependencyError

    raise MissingDependencyError("llama-index-core", "llamaindex", "pilotfish.adapters.llamaindex") from exc

from pydantic import ConfigDict, Field, PrivateAttr

from pilotfish.core.errors import InputError, ModelError
from pilotfish.core.models import LanguageModel, apply_stop, get_model
from pilotfish.core.pilot import Pilot
from pilotfish.core.types import Document, Generation, Message

from .common import load_framework_object, require_pilot

__all__ = [
    "LlamaIndexModel",
    "PilotEmbedding",
    "PilotLLM",
    "PilotPostprocessor",
    "PilotRetriever",
    "load_llamaindex_model",
    "to_node",
    "use_pilotfish_settings",
]


def to_node(doc: Document) -> NodeWithScore:
    meta = {**doc.metadata, "doc_id": doc.doc_id, "title": doc.title, "retriever": doc.retriever}
    meta = {k: v for k, v in meta.items() if isinstance(v, (str, int, float)) or v is None}
    return NodeWithScore(node=TextNode(text=doc.text, id_=doc.id, metadata=meta), score=doc.score)


def from_node(node: NodeWithScore) -> Document:
    meta = dict(node.node.metadata or {})
    return Document(
        id=node.node.node_id,
        text=node.node.get_content(),
        doc_id=meta.pop("doc_id", None),
        title=meta.pop("title", None),
        score=float(node.score or 0.0),
        retriever=meta.pop("retriever", None),
        metadata=meta,
    )


class PilotRetriever(BaseRetriever):
    """pilotfish retrieval as a LlamaIndex retriever.

    Args:
        pilot: a :class:`~pilotfish.Pilot` with retriever plugins.
        k: how many nodes to return (after fusion and the pilot's reranker).
    """

    def __init__(self, pilot: Pilot, k: int = 4, **kwargs: Any):
        if not isinstance(k, int) or k < 1:
            raise InputError(f"PilotRetriever: k must be a positive integer, got {k!r}")
        self.pilot = require_pilot(pilot)
        self.k = k
        super().__init__(**kwargs)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = query_bundle.query_str
        if not query or not query.strip():
            raise InputError("PilotRetriever: the query is empty")
        return [to_node(d) for d in self.pilot.retrieve(self.pilot.make_request(query), self.k)]


class PilotPostprocessor(BaseNodePostprocessor):
    """The pilot's ``rerank`` plugin as a LlamaIndex node postprocessor.

    Nodes from any LlamaIndex retriever are turned into pilotfish documents, deduplicated (same
    text), reranked by the pilot's ``rerank`` hook (without one, the incoming order stands) and
    cut to ``top_n``; with ``max_chars`` every passage is shortened to that many characters
    (a crude compression that keeps prompts small for small models).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    pilot: Any = Field(description="a pilotfish.Pilot whose rerank plugin orders the nodes")
    top_n: int = 3
    max_chars: int | None = None

    def model_post_init(self, context: Any) -> None:
        require_pilot(self.pilot)
        if self.top_n < 1:
            raise InputError(f"PilotPostprocessor: top_n must be >= 1, got {self.top_n}")

    @classmethod
    def class_name(cls) -> str:
        return "PilotPostprocessor"

    def _postprocess_nodes(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        seen: set[str] = set()
        docs = []
        for n in nodes:
            d = from_node(n)
            if d.text in seen:
                continue
            seen.add(d.text)
            docs.append(d)
        if query_bundle is not None and docs:
            request = self.pilot.make_request(query_bundle.query_str)
            ranked = self.pilot.hooks.rerank(request, docs, self.top_n, self.pilot)
            if ranked is not None:
                docs = list(ranked)
        out = []
        for d in docs[: self.top_n]:
            if self.max_chars is not None and len(d.text) > self.max_chars:
                d.text = d.text[: self.max_chars]
            out.append(to_node(d))
        return out


class PilotLLM(CustomLLM):
    """A LlamaIndex LLM that answers through a pilotfish chain.

    Args:
        pilot: a :class:`~pilotfish.Pilot` (its plugins run on every call: verification, repair,
            routing, prompt enhancers, ...); or
        model: a pilotfish model id / object to wrap in a plain chain.
        max_tokens, temperature: generation defaults.
        context_window: what LlamaIndex's prompt helper packs into (default: the model's).

    ``CompletionResponse.additional_kwargs["pilotfish"]`` (and ``ChatResponse``'s) carries
    citations, verdicts, route, repairs and the hook trace.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    pilot: Any = None
    model: Any = None
    max_tokens: int = 256
    temperature: float = 0.0
    context_window: int | None = None

    _chain: Pilot | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any) -> None:
        if self.pilot is not None:
            self._chain = require_pilot(self.pilot)
        else:
            self._chain = Pilot(model=self.model if self.model is not None else "smollm2-135m")

    @classmethod
    def class_name(cls) -> str:
        return "PilotLLM"

    @property
    def chain(self) -> Pilot:
        assert self._chain is not None
        return self._chain

    @property
    def metadata(self) -> LLMMetadata:
        chain = self.chain
        model_id = chain.model if isinstance(chain.model, str) else getattr(chain.model, "model_id", "model")
        window = self.context_window
        if window is None:
            window = getattr(chain.model, "context_window", None) if not isinstance(chain.model, str) else None
            window = window or 2048
        return LLMMetadata(context_window=window, num_output=self.max_tokens, is_chat_model=True,
                           model_name=f"pilotfish:{model_id}")

    def _params(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        params = {"max_tokens": kwargs.pop("max_tokens", self.max_tokens),
                  "temperature": kwargs.pop("temperature", self.temperature)}
        for name in ("stop", "top_p", "seed"):
            if name in kwargs:
                params[name] = kwargs.pop(name)
        kwargs.pop("formatted", None)
        return params

    def _answer_kwargs(self, answer: Any) -> dict[str, Any]:
        from pilotfish.core.types import answer_payload

        return {"pilotfish": answer_payload(answer)}

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        answer = self.chain.run(prompt, **self._params(kwargs))
        return CompletionResponse(text=answer.text, additional_kwargs=self._answer_kwargs(answer))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        stream = self.chain.stream(prompt, **self._params(kwargs))

        def gen() -> Any:
            text = ""
            for piece in stream:
                text += piece
                yield CompletionResponse(text=text, delta=piece)
            assert stream.answer is not None
            yield CompletionResponse(text=text, delta="", additional_kwargs=self._answer_kwargs(stream.answer))

        return gen()

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        answer = self.chain.run(_from_llamaindex_messages(messages), **self._params(kwargs))
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=answer.text),
                            additional_kwargs=self._answer_kwargs(answer))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Any:
        stream = self.chain.stream(_from_llamaindex_messages(messages), **self._params(kwargs))

        def gen() -> Any:
            text = ""
            for piece in stream:
                text += piece
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=piece)
            assert stream.answer is not None
            yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta="",
                               additional_kwargs=self._answer_kwargs(stream.answer))

        return gen()


_LI_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}


def _from_llamaindex_messages(messages: Sequence[ChatMessage]) -> list[Message]:
    out: list[Message] = []
    for i, m in enumerate(messages):
        role = m.role.value if hasattr(m.role, "value") else str(m.role)
        if role not in _LI_ROLES:
            raise InputError(f"message {i} has role {role!r}; pilotfish chains take system, user and assistant messages")
        out.append({"role": _LI_ROLES[role], "content": m.content or ""})
    return out


class PilotEmbedding(BaseEmbedding):
    """A pilotfish embedder (default: the packaged MiniLM) as LlamaIndex's ``embed_model``."""

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    embedder_id: str = "minilm"
    _embedder: Any = PrivateAttr(default=None)

    def model_post_init(self, context: Any) -> None:
        self._embedder = get_model(self.embedder_id)
        if not hasattr(self._embedder, "embed"):
            raise ModelError(f"{self.embedder_id!r} is not an embedder (no .embed)")
        self.model_name = f"pilotfish:{self.embedder_id}"

    @classmethod
    def class_name(cls) -> str:
        return "PilotEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return [float(x) for x in self._embedder.embed([query])[0]]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return [float(x) for x in self._embedder.embed([text])[0]]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in self._embedder.embed(list(texts))]


def use_pilotfish_settings(llm: Any, embed_model: Any = None, tokenizer_model: Any = None) -> None:
    """Point LlamaIndex's global ``Settings`` at local models (no OpenAI, no downloads).

    ``tokenizer_model``: a pilotfish white-box model whose tokenizer counts tokens (default: the
    whitespace split, which needs no download; LlamaIndex's default fetches tiktoken's tables).
    """
    from llama_index.core import Settings

    Settings.llm = llm
    Settings.embed_model = embed_model if embed_model is not None else PilotEmbedding()
    if tokenizer_model is not None:
        Settings.tokenizer = lambda text: tokenizer_model.encode(text)
    else:
        Settings.tokenizer = str.split


class LlamaIndexModel(LanguageModel):
    """Any LlamaIndex LLM as a pilotfish :class:`~pilotfish.LanguageModel` (chat or streaming chat)."""

    def __init__(self, llm: LLM, model_id: str | None = None):
        if not isinstance(llm, LLM):
            raise ModelError(f"LlamaIndexModel needs a LlamaIndex LLM, got {type(llm).__name__}")
        self.llm = llm
        self.model_id = model_id or f"llamaindex:{type(llm).__name__}"

    def _generate(self, messages, params, *, on_token, logits_processors):  # type: ignore[no-untyped-def]
        li_messages = [ChatMessage(role=MessageRole(m["role"]), content=m["content"]) for m in messages]
        try:
            if on_token is not None:
                text = ""
                last = None
                for last in self.llm.stream_chat(li_messages):
                    piece = last.delta if last.delta is not None else (last.message.content or "")[len(text):]
                    if piece:
                        on_token(piece)
                        text += piece
                raw = getattr(last, "raw", None)
            else:
                response = self.llm.chat(li_messages)
                text = response.message.content or ""
                raw = response.raw
        except Exception as exc:
            raise ModelError(f"{self.model_id}: the LlamaIndex LLM raised {type(exc).__name__}: {exc}") from exc
        text, hit = apply_stop(text, params.stop)
        usage = (raw or {}).get("usage") if isinstance(raw, dict) else getattr(raw, "usage", None)

        def count(name: str) -> int:
            value = usage.get(name) if isinstance(usage, dict) else getattr(usage, name, None)
            return int(value or 0)

        return Generation(
            text=text,
            model=self.model_id,
            prompt_tokens=count("prompt_tokens") if usage else 0,
            completion_tokens=count("completion_tokens") if usage else len(text.split()),
            finish_reason="stop",
        )


def load_llamaindex_model(path: str) -> LlamaIndexModel:
    """The factory of ``llamaindex:<module>:<attr>`` ids: an LLM instance, class or factory."""
    obj = load_framework_object("llamaindex", path, LLM, "LLM", "LlamaIndex")
    return LlamaIndexModel(obj, model_id=f"llamaindex:{path}")

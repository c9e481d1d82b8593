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

Modules: :mod:`.convert` (messages, documents, metadata, the callback bridge), :mod:`.model`
(``LangChainModel``), :mod:`.chat` (``PilotChatModel``), :mod:`.runnables` (``PilotRunnable``,
``PilotRetriever``, ``PilotVerifier``).
"""

from pilotfish.core.errors import MissingDependencyError

try:
    import langchain_core  # noqa: F401  (every module of this package needs it)
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingDependencyError("langchain-core", "langchain", "pilotfish.adapters.langchain") from exc

from .chat import PilotChatModel
from .convert import emit_trace, from_langchain_messages, to_langchain_document, to_langchain_messages
from .model import LangChainModel, load_langchain_model
from .runnables import PilotRetriever, PilotRunnable, PilotVerifier

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

"""What every retriever plugin shares: finding its index, loading it once, answering ``retrieve``."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

from pilotfish.core.errors import ConfigError, InputError
from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.types import Document, Request

from .index_read import Index, live_index


class RetrieverOptions(PluginOptions):
    index: str | None = None
    """The index directory (default: the pilot's ``index``, set by ``--index DIR``)."""


class Searcher:
    """A loaded retriever: ``search(query, k)`` -> ``[(passage position, score)]``, best first."""

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        raise NotImplementedError


class RetrieverPlugin(Plugin):
    """Base of ``bm25``, ``dense`` and ``colbert``: subclasses implement :meth:`load`."""

    name: ClassVar[str] = ""
    Options: ClassVar[type[PluginOptions]] = RetrieverOptions
    _load_lock: ClassVar[threading.Lock] = threading.Lock()

    def index_dir(self, pilot: Any) -> Path:
        value = getattr(self.options, "index", None) or getattr(pilot.config, "index", None)
        if not value:
            raise ConfigError(
                f"the {self.name!r} retriever needs an index: build one with `pilotfish index CORPUS_DIR --out DIR` "
                f"and pass `--index DIR` (or set [pilotfish] index / [pilotfish.plugin.{self.name}] index)"
            )
        return pilot.resolve_path(value) if hasattr(pilot, "resolve_path") else Path(value)

    def load(self, index: Index) -> Searcher:
        raise NotImplementedError

    def searcher(self, pilot: Any) -> tuple[Index, Searcher]:
        """The index's live generation and this retriever's searcher over it: a rebuild of the index
        (``pilotfish index`` publishing a new generation) is picked up by the next call."""
        path = self.index_dir(pilot).resolve()
        index = live_index(pilot, path)
        slot: dict[str, Any] = pilot.shared(f"retriever:{self.name}:{path}:{id(self)}", dict)
        with self._load_lock:
            if slot.get("generation") is not index:
                slot["searcher"] = self.load(index)
                slot["generation"] = index
            return index, slot["searcher"]

    def search(self, pilot: Any, query: str, k: int) -> list[Document]:
        if not query or not query.strip():
            raise InputError("the search query is empty")
        index, searcher = self.searcher(pilot)
        hits = searcher.search(query, k)
        return [index.passages[i].to_document(score, self.name) for i, score in hits]

    @hookimpl
    def retrieve(self, request: Request, k: int, pilot: Any) -> list[Document]:
        return self.search(pilot, request.search_query, k)

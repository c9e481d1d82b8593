"""What every retriever plugin shares: finding its index, loading it once, answering ``retrieve``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pilotfish.core.errors import ConfigError, InputError
from pilotfish.core.hookspecs import hookimpl
from pilotfish.core.plugin import Plugin, PluginOptions
from pilotfish.core.types import Document, Request

from .index import Index, open_index


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
        path = self.index_dir(pilot).resolve()
        index: Index = pilot.shared(f"retrieval-index:{path}", lambda: open_index(path))
        searcher = pilot.shared(f"retriever:{self.name}:{path}:{id(self)}", lambda: self.load(index))
        return index, searcher

    def search(self, pilot: Any, query: str, k: int) -> list[Document]:
        if not query or not query.strip():
            raise InputError("the search query is empty")
        index, searcher = self.searcher(pilot)
        hits = searcher.search(query, k)
        return [index.passages[i].to_document(score, self.name) for i, score in hits]

    @hookimpl
    def retrieve(self, request: Request, k: int, pilot: Any) -> list[Document]:
        return self.search(pilot, request.search_query, k)

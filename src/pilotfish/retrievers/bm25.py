"""``bm25``: lexical retrieval with bm25s (Lucene BM25, English stop words, Snowball stemmer).

``k1``, ``b``, ``method`` and ``stemmer`` (``[pilotfish.plugin.bm25]``) are build settings: bm25s
stores the weighted scores in the index, so ``pilotfish index`` uses them and the index records
them; a query side that asks for other values is told to rebuild.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

from pydantic import Field

from pilotfish.core.errors import ConfigError, MissingDependencyError

from .base import RetrieverOptions, RetrieverPlugin, Searcher
from .index import BuildContext, Index, IndexError_, check_setting

DEFAULTS = {"k1": 1.5, "b": 0.75, "method": "lucene", "stemmer": "english", "stopwords": "en"}
TUNABLE = ("k1", "b", "method", "stemmer")


def _bm25s() -> Any:
    try:
        import bm25s
    except ImportError as exc:
        raise MissingDependencyError("bm25s", "rag", "the bm25 retriever") from exc
    return bm25s


def _stemmer(name: str | None) -> Any:
    if not name:
        return None
    try:
        import Stemmer
    except ImportError:
        return None
    try:
        return Stemmer.Stemmer(name)
    except KeyError:
        known = ", ".join(Stemmer.algorithms())
        raise ConfigError(f"bm25: unknown stemmer {name!r} (known: {known}; \"\" for none)") from None


def _tokenize(bm25s: Any, texts: list[str], settings: dict[str, Any], stemmer: Any) -> Any:
    return bm25s.tokenize(texts, stopwords=settings["stopwords"], stemmer=stemmer, show_progress=False)


def build(ctx: BuildContext) -> dict[str, Any]:
    """BM25 is cheap: always rebuilt from the passages (a second or two for 10k passages)."""
    bm25s = _bm25s()
    settings = {k: ctx.options.get(k, v) for k, v in DEFAULTS.items()}
    stemmer = _stemmer(settings["stemmer"])
    if stemmer is None:
        settings["stemmer"] = None
    bar = ctx.progress("bm25", len(ctx.passages))
    tokens = _tokenize(bm25s, [p.index_text() for p in ctx.passages], settings, stemmer)
    retriever = bm25s.BM25(k1=settings["k1"], b=settings["b"], method=settings["method"])
    retriever.index(tokens, show_progress=False)
    retriever.save(str(ctx.out_dir))
    bar.update(len(ctx.passages))
    bar.close()
    (ctx.out_dir / "settings.json").write_text(json.dumps(settings))
    return settings


class BM25Searcher(Searcher):
    def __init__(self, index: Index, wanted: dict[str, Any] | None = None):
        bm25s = _bm25s()
        self.settings = index.settings("bm25")
        recorded = {**self.settings, "stemmer": self.settings.get("stemmer") or ""}  # None: built without
        for key, value in (wanted or {}).items():
            check_setting("bm25", index.root, recorded, key, value)
        self.stemmer = _stemmer(self.settings.get("stemmer"))
        part = index.part("bm25")
        if not part.is_dir():
            raise IndexError_(f"the index at {index.root} lacks its bm25 part; rebuild it")
        self.bm25s = bm25s
        self.retriever = bm25s.BM25.load(str(part))
        self.n = len(index.passages)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        tokens = self.bm25s.tokenize([query], stopwords=self.settings["stopwords"], stemmer=self.stemmer,
                                     show_progress=False, return_ids=False)
        vocab = self.retriever.vocab_dict
        kept = [[t for t in tokens[0] if t in vocab]]
        if not kept[0]:
            return []
        docs, scores = self.retriever.retrieve(kept, k=min(k, self.n), show_progress=False)
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]


class BM25Retriever(RetrieverPlugin):
    """Lexical BM25 over the passages of the index (``[pilotfish.plugin.bm25]``)."""

    name: ClassVar[str] = "bm25"

    class Options(RetrieverOptions):
        k1: float = Field(1.5, ge=0)
        """Term-frequency saturation."""
        b: float = Field(0.75, ge=0, le=1)
        """Length normalisation (0: none, 1: full)."""
        method: Literal["lucene", "robertson", "atire", "bm25l", "bm25+"] = "lucene"
        """The BM25 variant (bm25s' ``method``)."""
        stemmer: str = "english"
        """A Snowball stemmer name (PyStemmer: ``english``, ``french``...); ``""`` for none."""

    def load(self, index: Index) -> Searcher:
        # only the settings the user set are checked against the index (the defaults follow the index)
        wanted = {k: getattr(self.options, k) for k in TUNABLE if k in self.options.model_fields_set}
        return BM25Searcher(index, wanted)

"""The host: a request's way through the hooks.

``Pilot.run(question)``: ``before_prompt`` (chained) -> ``route`` -> ``retrieve`` (fused by
reciprocal rank fusion) -> ``rerank`` -> ``build_messages`` -> ``generate`` -> ``verify`` ->
``repair`` (bounded rounds, only when a verdict failed) -> :class:`~pilotfish.Answer`.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .config import PilotConfig, load_config
from .errors import PilotfishError
from .manager import OnError, PluginManager, build_manager, collecting_trace
from .models import LanguageModel, _current_usage, get_model
from .prompts import is_refusal
from .threads import set_threads
from .types import (
    Answer,
    Document,
    Generation,
    Message,
    RepairRound,
    Request,
    Route,
    TraceEvent,
    Usage,
    as_messages,
)

RRF_K = 60


def reciprocal_rank_fusion(lists: Sequence[Sequence[Document]], k: int = RRF_K) -> list[Document]:
    """Fuse ranked lists: score = sum over lists of 1 / (k + rank). One list passes through."""
    if len(lists) == 1:
        return list(lists[0])
    scores: dict[str, float] = {}
    first: dict[str, Document] = {}
    for docs in lists:
        for rank, doc in enumerate(docs, start=1):
            scores[doc.id] = scores.get(doc.id, 0.0) + 1.0 / (k + rank)
            first.setdefault(doc.id, doc)
    fused = []
    for doc_id in sorted(scores, key=lambda d: -scores[d]):
        doc = first[doc_id]
        fused.append(
            Document(doc.id, doc.text, doc.doc_id, doc.title, scores[doc_id], "fusion",
                     {**doc.metadata, "retriever_score": doc.score, "retriever": doc.retriever})
        )
    return fused


def standardize(values: Sequence[float]) -> list[float]:
    """z-scores of ``values`` (all 0.0 when they are equal)."""
    if not values:
        return []
    mean = sum(values) / len(values)
    sd = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    return [(v - mean) / sd if sd > 0 else 0.0 for v in values]


def zscore_fusion(lists: Sequence[Sequence[Document]]) -> list[Document]:
    """Fuse ranked lists by their scores: each list's scores are standardised (z-scores) and summed; a
    document missing from a list gets that list's lowest z-score. Unlike reciprocal rank fusion it
    keeps how far apart the scores are (convex combination; Bruch et al. 2023). One list passes through."""
    if len(lists) == 1:
        return list(lists[0])
    scores: dict[str, float] = {}
    first: dict[str, Document] = {}
    per_list: list[dict[str, float]] = []
    for docs in lists:
        if not docs:
            continue
        per_list.append({d.id: z for d, z in zip(docs, standardize([d.score for d in docs]), strict=True)})
        for d in docs:
            first.setdefault(d.id, d)
    for z in per_list:
        floor = min(z.values())
        for doc_id in first:
            scores[doc_id] = scores.get(doc_id, 0.0) + z.get(doc_id, floor)
    return [
        Document(first[i].id, first[i].text, first[i].doc_id, first[i].title, scores[i], "fusion",
                 {**first[i].metadata, "retriever_score": first[i].score, "retriever": first[i].retriever})
        for i in sorted(scores, key=lambda d: -scores[d])
    ]


FUSIONS = {"rrf": reciprocal_rank_fusion, "zscore": zscore_fusion}


def drop_duplicates(documents: Sequence[Document]) -> list[Document]:
    """Keep the first of documents with the same text (whitespace-normalised); the kept one lists the
    dropped ids in ``metadata["duplicates"]``. Corpora repeat articles (the BBC corpus: 133 of 2,224,
    890 of 12,549 passages), and a repeated passage would take a second slot of the prompt."""
    kept: dict[str, Document] = {}
    dropped: dict[str, list[str]] = {}
    for d in documents:
        key = " ".join(d.text.split())
        if key in kept:
            dropped.setdefault(key, []).append(d.id)
        else:
            kept[key] = d
    return [dataclasses.replace(d, metadata={**d.metadata, "duplicates": dropped[key]}) if key in dropped else d
            for key, d in kept.items()]


def compression_stats(shown: Sequence[Document]) -> dict[str, Any]:
    """Prompt tokens of the passages before and after ``compress`` (summed over the passages)."""
    before = sum(int(d.metadata.get("compression", {}).get("tokens_before", 0)) for d in shown)
    after = sum(int(d.metadata.get("compression", {}).get("tokens_after", 0)) for d in shown)
    plugin = next((d.metadata["compression"].get("plugin") for d in shown if "compression" in d.metadata), None)
    return {"plugin": plugin, "tokens_before": before, "tokens_after": after,
            "ratio": round(before / after, 2) if after else None}


class Pilot:
    """A chain of plugins around a model.

    Args:
        model: the default model (an id such as ``"smollm2-135m"`` or a model object).
        plugins: entry-point names or plugin objects to enable, in addition to the defaults.
        options: per-plugin option tables, ``{"bm25": {"index": "./index"}}``.
        config: a :class:`PilotConfig` (or a path to a TOML file); explicit arguments win.
        use_entrypoints: discover plugins by entry point (tests may turn this off).
    """

    def __init__(
        self,
        model: str | LanguageModel | None = None,
        plugins: Sequence[Any] = (),
        *,
        options: dict[str, dict[str, Any]] | None = None,
        config: PilotConfig | str | Path | None = None,
        top_k: int | None = None,
        max_repair_rounds: int | None = None,
        on_error: OnError | None = None,
        use_entrypoints: bool = True,
        pm: PluginManager | None = None,
    ):
        if isinstance(config, (str, Path)):
            config = load_config(config)
        self.config: PilotConfig = config or PilotConfig()
        if self.config.threads != "auto" or "threads" in self.config.model_fields_set:
            set_threads(self.config.threads)
        self.model = model if model is not None else self.config.model
        self.top_k = top_k if top_k is not None else self.config.top_k
        self.max_repair_rounds = (
            max_repair_rounds if max_repair_rounds is not None else self.config.max_repair_rounds
        )
        self.generation_defaults = self.config.generation.model_dump()
        merged_options = {k: dict(v) for k, v in self.config.plugin.items()}
        for name, opts in (options or {}).items():
            merged_options.setdefault(name, {}).update(opts)
        enabled = list(self.config.plugins) + [p for p in plugins if p not in self.config.plugins]
        self.pm = pm or build_manager(
            enabled,
            merged_options,
            on_error=on_error or self.config.on_error,
            use_entrypoints=use_entrypoints,
        )
        self.hooks = self.pm.hooks
        self._cache: dict[str, Any] = {}
        self._cache_lock = threading.Lock()
        if not isinstance(self.model, str):
            self._cache[f"model:{getattr(self.model, 'model_id', 'model')}"] = self.model

    @classmethod
    def from_config(cls, path: str | Path | None = None, **overrides: Any) -> Pilot:
        """Build the chain a config file describes (see :mod:`pilotfish.core.config`)."""
        return cls(config=load_config(path), **overrides)

    # -- services for plugins -------------------------------------------------------------

    def get_model(self, model: str | Any | None = None) -> Any:
        """The shared model for an id (the default model when ``None``)."""
        return get_model(self.model if model is None else model)

    def preload(self) -> threading.Thread | None:
        """Load the default model in a background (daemon) thread, e.g. while the question is retrieved;
        ``None`` when it is a model object. A failed load is raised where the model is first used."""
        if not isinstance(self.model, str):
            return None
        thread = threading.Thread(target=self._preload, name="pilotfish-preload", daemon=True)
        thread.start()
        return thread

    def _preload(self) -> None:
        try:
            self.get_model()
        except Exception:  # noqa: BLE001  (raised again, with its message, where the model is used)
            pass

    def shared(self, key: str, factory: Any) -> Any:
        """A per-pilot cache for heavy objects plugins build once (indexes, tokenised corpora)."""
        with self._cache_lock:
            if key not in self._cache:
                self._cache[key] = factory()
            return self._cache[key]

    def resolve_path(self, value: str | Path) -> Path:
        """A path from an option, relative to the config file when there is one."""
        p = Path(value).expanduser()
        if not p.is_absolute() and self.config.path is not None:
            p = self.config.path.parent / p
        return p

    # -- the request's way ------------------------------------------------------------------

    def make_request(self, question: str | Sequence[Message], **params: Any) -> Request:
        text, messages = as_messages(question)
        system = params.pop("system", None) or self.config.system_prompt
        gen = {**self.generation_defaults, **{k: v for k, v in params.items() if v is not None}}
        return Request(question=text, messages=messages, system=system, params=gen)

    def run(self, question: str | Sequence[Message] | Request, *, on_token: Any = None, **params: Any) -> Answer:
        """Answer one question (a string, chat messages, or a prepared :class:`Request`)."""
        request = question if isinstance(question, Request) else self.make_request(question, **params)
        trace: list[TraceEvent] = []
        usage = Usage()
        token = _current_usage.set(usage)
        start = time.perf_counter()
        try:
            with collecting_trace(trace):
                answer = self._run(request, on_token, usage, trace)
        finally:
            _current_usage.reset(token)
        answer.latency_s = time.perf_counter() - start
        return answer

    def _run(self, request: Request, on_token: Any, usage: Usage, trace: list[TraceEvent]) -> Answer:
        h = self.hooks
        request = h.before_prompt(request, self)
        if not isinstance(request, Request):
            raise PilotfishError(f"before_prompt must return a Request or None, got {type(request).__name__}")
        route = self._route(request)
        model = self.get_routed_model(route)
        documents = self.retrieve(request)
        shown = self._compress(request, documents)
        request = request.replace(documents=tuple(shown))
        messages = h.build_messages(request, shown, self)
        generation = h.generate(request, messages, model, on_token, self)
        if not isinstance(generation, Generation):
            raise PilotfishError(f"generate returned {type(generation).__name__}, expected a Generation")
        text = generation.text
        # a refusal is final: nothing in it to verify or repair
        refused = is_refusal(text)
        verdicts = [] if refused else h.verify(request, text, shown, self)
        repairs: list[RepairRound] = []
        for round_no in range(1, self.max_repair_rounds + 1):
            failed = [v for v in verdicts if not v.passed]
            if not failed or refused:
                break
            result = h.repair(request, text, verdicts, shown, round_no, self)
            if result is None:
                break
            repair_plugin = next(
                (e.plugin for e in reversed(trace) if e.hook == "repair" and e.status == "ok"), None
            )
            repairs.append(RepairRound(round_no, repair_plugin, result.action, failed, text, result.text, result.note))
            text = result.text
            if result.documents is not None:
                documents = shown = result.documents
            if result.action == "refuse" or is_refusal(text):
                refused, verdicts = True, []
                break
            verdicts = h.verify(request, text, shown, self)
        return Answer(
            text=text,
            request=request,
            documents=documents,
            verdicts=verdicts,
            refused=refused,
            route=route,
            repairs=repairs,
            usage=usage,
            trace=trace,
            generation=generation,
            metadata={"compression": compression_stats(shown)} if shown is not documents else {},
        )

    def _compress(self, request: Request, documents: list[Document]) -> list[Document]:
        """The ``compress`` hook's passages (one per retrieved passage, same order), or the passages as they are."""
        if not documents:
            return documents
        out = self.hooks.compress(request, documents, self)
        if out is None:
            return documents
        if len(out) != len(documents) or any(not isinstance(d, Document) for d in out):
            raise PilotfishError("compress must return one Document per passage, in the same order "
                                 f"(got {len(out)} for {len(documents)})")
        return list(out)

    def _route(self, request: Request) -> Route:
        decided = self.hooks.route(request, self)
        if decided is None:
            return Route(model=self.model if isinstance(self.model, str) else getattr(self.model, "model_id", "model"), reason="default")
        if isinstance(decided, Route):
            return decided
        if isinstance(decided, str):
            return Route(model=decided)
        # a model object: register it under its id so get_model finds it
        model_id = getattr(decided, "model_id", repr(decided))
        self._cache.setdefault(f"model:{model_id}", decided)
        return Route(model=model_id, reason="model object")

    def model_for(self, request: Request) -> Any:
        """The model the ``route`` hook picks for ``request`` (what repair and consistency plugins ask again)."""
        return self.get_routed_model(self._route(request))

    def get_routed_model(self, route: Route) -> Any:
        """The model object a route names (a model object given to the pilot, or a shared id)."""
        cached = self._cache.get(f"model:{route.model}")
        return cached if cached is not None else get_model(route.model)

    def retrieve(self, request: Request | str, k: int | None = None) -> list[Document]:
        """Run the retrieval part alone: retrieve, fuse, rerank; the best ``k`` (default top_k)."""
        if isinstance(request, str):
            request = self.make_request(request)
        k = k or self.top_k
        n = max(self.config.candidates, k)
        lists = self.hooks.retrieve(request, n, self)
        for query in dict.fromkeys(request.queries):  # multi-query rewriting: every query's lists are fused
            if query.strip() and query != request.search_query:
                lists = [*(lists or []), *(self.hooks.retrieve(request.replace(query=query), n, self) or [])]
        if not lists:
            return []
        fused = FUSIONS[self.config.fusion](lists)
        if self.config.dedupe:
            fused = drop_duplicates(fused)
        reranked = self.hooks.rerank(request, fused, k, self) if fused else None
        return list(reranked if reranked is not None else fused)[:k]

    # -- other ways to call it ----------------------------------------------------------------

    async def arun(self, question: str | Sequence[Message] | Request, **params: Any) -> Answer:
        """``run`` in a worker thread, so the event loop stays free (models are blocking)."""
        ctx = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(None, lambda: ctx.run(self.run, question, **params))

    def batch(self, questions: Sequence[str | Sequence[Message]], *, max_concurrency: int = 4, **params: Any) -> list[Answer]:
        """Answer several questions; results in input order."""
        if max_concurrency <= 1 or len(questions) <= 1:
            return [self.run(q, **params) for q in questions]
        with ThreadPoolExecutor(max_workers=max_concurrency) as pool:
            futures = [pool.submit(contextvars.copy_context().run, lambda q=q: self.run(q, **params)) for q in questions]
            return [f.result() for f in futures]

    def stream(self, question: str | Sequence[Message] | Request, **params: Any) -> AnswerStream:
        """Yield the answer's text chunks as the model produces them.

        The returned iterator's ``answer`` attribute holds the full :class:`Answer` (verdicts,
        repairs) once iteration ends. Repairs can change the text after it was streamed:
        compare ``stream.answer.text``.
        """
        return AnswerStream(self, question, params)


class AnswerStream:
    """Iterator over text chunks; ``.answer`` is set when the run is over."""

    def __init__(self, pilot: Pilot, question: Any, params: dict[str, Any]):
        self.answer: Answer | None = None
        self._queue: queue.Queue[Any] = queue.Queue()
        self._done = object()
        self._error: BaseException | None = None
        self._streamed = False
        ctx = contextvars.copy_context()

        def work() -> None:
            try:
                self.answer = pilot.run(question, on_token=self._put, **params)
            except BaseException as exc:
                self._error = exc
            finally:
                self._queue.put(self._done)

        self._thread = threading.Thread(target=ctx.run, args=(work,), daemon=True)
        self._thread.start()

    def _put(self, chunk: str) -> None:
        self._streamed = True
        self._queue.put(chunk)

    def __iter__(self) -> Iterator[str]:
        while True:
            item = self._queue.get()
            if item is self._done:
                break
            yield item
        self._thread.join()
        if self._error is not None:
            raise self._error
        if not self._streamed and self.answer is not None and self.answer.text:
            yield self.answer.text  # a generate plugin that does not stream

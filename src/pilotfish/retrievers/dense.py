"""``dense``: sentence embeddings (MiniLM by default) in a chromadb collection.

- Embedded ``PersistentClient`` inside the index generation by default; a chromadb server
  (``chroma run``) when the ``server`` option names its URL (``http://127.0.0.1:8000``).
- Always our own embedding function: chromadb's default one downloads an ONNX model (fails
  offline), and ``get_collection`` without ``embedding_function=`` silently falls back to it, so
  every ``get/create_collection`` call here passes :class:`PilotfishEmbeddingFunction`.
- HNSW: cosine space, ``ef_construction`` / ``ef_search`` 200, ``max_neighbors`` 32 (chromadb's
  defaults 100/100/16 gave recall@10 ~0.55 against exact search on 10k vectors; the tests check
  recall against exact search).
- Embeddings of unchanged passages are reused from the previous generation (``vectors.npy``).
- The encoder: a new index is built with ``minilm-int8`` (MiniLM on ONNX Runtime, int8 weights: 1.5-2x the
  passages/s of torch with bf16 autocast here, retrieval quality unchanged on the BBC dev questions; see
  docs/retrieval.md) where it can be had, else ``minilm`` (torch). Passages are encoded longest-last in
  batches of similar length. Queries use the encoder the index was built with; for a ``minilm`` index
  that is its ONNX fp32 twin ``minilm-onnx`` (the same vectors, without importing torch: 5-10 s less a
  ``pilotfish ask`` process), falling back to ``minilm`` where ONNX is not available.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar
from urllib.parse import urlparse

from pilotfish.core.errors import ConfigError, MissingDependencyError, ModelError

from .base import RetrieverOptions, RetrieverPlugin, Searcher
from .index import BuildContext, Index, IndexError_, check_setting

DEFAULT_MODEL = "minilm"
"""The embedding function's default (an index records the model it was built with)."""
BUILD_MODEL = "minilm-int8"
"""What a new index is built with when no ``model`` is configured and ONNX Runtime can serve it."""
QUERY_TWINS = {"minilm": "minilm-onnx"}
"""Encoders whose vectors equal the recorded one's (checked when exported), preferred for queries."""
HNSW = {"space": "cosine", "ef_construction": 200, "ef_search": 200, "max_neighbors": 32}
BATCH = 2000


def _chromadb() -> Any:
    try:
        import chromadb
    except ImportError as exc:
        raise MissingDependencyError("chromadb", "rag", "the dense retriever") from exc
    return chromadb


_EF_CLASS: Any = None


def embedding_function(model_id: str) -> Any:
    """A chromadb embedding function backed by a pilotfish embedder (registered once)."""
    global _EF_CLASS
    if _EF_CLASS is None:
        from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
        from chromadb.utils.embedding_functions import register_embedding_function

        @register_embedding_function
        class PilotfishEmbeddingFunction(EmbeddingFunction[Documents]):
            """Embeds with ``pilotfish.get_model(model_id)`` (MiniLM by default), offline."""

            def __init__(self, model_id: str = DEFAULT_MODEL):
                self.model_id = model_id

            def __call__(self, input: Documents) -> Embeddings:
                from pilotfish.core.models import get_model

                return list(get_model(self.model_id).embed(list(input)))

            @staticmethod
            def name() -> str:
                return "pilotfish"

            def get_config(self) -> dict[str, Any]:
                return {"model_id": self.model_id}

            @staticmethod
            def build_from_config(config: dict[str, Any]) -> Any:
                return PilotfishEmbeddingFunction(config.get("model_id", DEFAULT_MODEL))

            def default_space(self) -> Any:
                return "cosine"

        _EF_CLASS = PilotfishEmbeddingFunction
    return _EF_CLASS(model_id)


def client_for(server: str | None, path: Any = None) -> Any:
    chromadb = _chromadb()
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False, allow_reset=False)
    if server:
        url = urlparse(server if "://" in server else f"http://{server}")
        if not url.hostname:
            raise ConfigError(f"dense: server {server!r} is not a URL like http://127.0.0.1:8000")
        try:
            return chromadb.HttpClient(host=url.hostname, port=url.port or 8000, ssl=url.scheme == "https",
                                       settings=settings)
        except Exception as exc:
            raise IndexError_(f"dense: cannot reach the chromadb server at {server}: {exc}") from None
    return chromadb.PersistentClient(path=str(path), settings=settings)


def _embedder(model_id: str) -> Any:
    from pilotfish.core.models import get_model

    model = get_model(model_id)
    if not hasattr(model, "embed"):
        raise ModelError(f"dense: model {model_id!r} is not an embedder (use 'minilm' or 'st:<path>')")
    return model


def _available(model_id: str) -> bool:
    from pilotfish.core.errors import PilotfishError
    from pilotfish.core.models import registry

    spec = registry().models.get(model_id)
    try:
        return spec is not None and spec.is_available()
    except PilotfishError:
        return False


def build_model(options: dict[str, Any]) -> str:
    """The encoder a new index is built with: the configured ``model``, else ``minilm-int8`` where it can be
    had, else ``minilm`` (an update of an index keeps the encoder it was built with)."""
    model = options.get("model")
    if model:
        return str(model)
    return BUILD_MODEL if _available(BUILD_MODEL) else DEFAULT_MODEL


def query_embedder(model_id: str) -> Any:
    """The query encoder of an index built with ``model_id``: its ONNX twin when there is one and it loads,
    else the model itself."""
    twin = QUERY_TWINS.get(model_id)
    if twin and _available(twin):
        try:
            return _embedder(twin)
        except ModelError as exc:  # a failed export, a broken onnxruntime: the torch encoder gives the same vectors
            import warnings

            from pilotfish.core.errors import PilotfishWarning

            warnings.warn(f"dense: {twin} could not be loaded ({exc}); querying with {model_id}", PilotfishWarning,
                          stacklevel=2)
    return _embedder(model_id)


def build(ctx: BuildContext) -> dict[str, Any]:
    import numpy as np

    prev = ctx.options.get("_previous_settings") or {}
    # an update keeps the encoder of the generation it updates (its vectors are reused) unless one is configured
    model_id = ctx.options.get("model") or prev.get("model") or build_model(ctx.options)
    server = ctx.options.get("server")
    hnsw = {**HNSW, **ctx.options.get("hnsw", {})}
    ids = [p.id for p in ctx.passages]
    vectors: Any = None
    old: dict[str, int] = {}
    if ctx.previous_dir and (ctx.previous_dir / "vectors.npy").is_file() and prev.get("model") == model_id:
        old_ids = json.loads((ctx.previous_dir / "ids.json").read_text())
        old_vectors = np.load(ctx.previous_dir / "vectors.npy")
        old = {pid: i for i, pid in enumerate(old_ids) if pid in ctx.reusable}
    embedder = _embedder(model_id)
    dim = int(embedder.dimension)
    vectors = np.zeros((len(ids), dim), dtype=np.float32)
    todo = [i for i, pid in enumerate(ids) if pid not in old]
    for i, pid in enumerate(ids):
        if pid in old:
            vectors[i] = old_vectors[old[pid]]
    bar = ctx.progress(f"dense ({model_id})", len(ids))
    bar.update(len(ids) - len(todo))
    shared = ctx.shared.get(f"sentence_vectors:{model_id}") or {}
    done: list[int] = []
    if shared:  # computed by the colbert builder's forward pass in this build
        done = [i for i in todo if ids[i] in shared]
        for i in done:
            vectors[i] = shared[ids[i]]
        bar.update(len(done))
        todo = [i for i in todo if ids[i] not in shared]
    texts = {i: ctx.passages[i].index_text() for i in todo}
    todo.sort(key=lambda i: len(texts[i]))  # batches of similar length: little padding
    with _fast_math(embedder):
        for s in range(0, len(todo), 256):
            chunk = todo[s:s + 256]
            vectors[chunk] = embedder.embed([texts[i] for i in chunk])
            bar.update(len(chunk))
    bar.close()
    np.save(ctx.out_dir / "vectors.npy", vectors)
    (ctx.out_dir / "ids.json").write_text(json.dumps(ids))

    collection_name = f"pilotfish-{ctx.out_dir.parent.name}-{ctx.out_dir.parent.parent.name}"[:60] if server else "passages"
    client = client_for(server, ctx.out_dir / "chroma")
    ef = embedding_function(model_id)
    _delete_collection(client, collection_name)  # a half-built one of a killed run, on a server
    col = client.create_collection(collection_name, embedding_function=ef,
                                   configuration={"hnsw": hnsw}, metadata={"model": model_id})
    for s in range(0, len(ids), BATCH):
        col.add(ids=ids[s:s + BATCH], embeddings=vectors[s:s + BATCH])
    return {"model": model_id, "dimension": dim, "hnsw": hnsw, "server": server, "collection": collection_name,
            "from_colbert_pass": len(done)}


def _fast_math(embedder: Any) -> Any:
    """bfloat16 autocast for a torch encoder where the CPU has native bf16 (2x faster, cosine to fp32 >
    0.9999); nothing for an ONNX Runtime one (torch is then never imported)."""
    import contextlib

    if getattr(embedder, "backend", "torch") != "torch":
        return contextlib.nullcontext()
    import torch

    from pilotfish.models.hardware import cpu_has_bf16

    return torch.autocast("cpu", torch.bfloat16, enabled=cpu_has_bf16())


def _delete_collection(client: Any, name: str) -> bool:
    """Delete a collection; False when there is none (chromadb's NotFoundError, ValueError before 1.0)."""
    from chromadb.errors import NotFoundError

    try:
        client.delete_collection(name)
    except (NotFoundError, ValueError):
        return False
    return True


def _after_publish(previous: dict[str, Any] | None, manifest: dict[str, Any]) -> None:
    """On a server, drop the previous generation's collection once the new one is live. The new index
    is already published, so a failure here is reported as a warning (the old collection is left on
    the server), not raised."""
    old = (previous or {}).get("settings", {}).get("dense") or {}
    new = manifest["settings"].get("dense") or {}
    if old.get("server") and old.get("collection") != new.get("collection"):
        try:
            _delete_collection(client_for(old["server"]), old["collection"])
        except Exception as exc:  # the server went away, refused...: say so, the build itself succeeded
            import warnings

            from pilotfish.core.errors import PilotfishWarning

            warnings.warn(f"dense: could not delete the previous generation's collection {old['collection']!r} on "
                          f"{old['server']} ({type(exc).__name__}: {exc}); delete it by hand", PilotfishWarning,
                          stacklevel=2)


build.after_publish = _after_publish  # type: ignore[attr-defined]


class DenseSearcher(Searcher):
    def __init__(self, index: Index, model: str | None, server: str | None):
        settings = index.settings("dense")
        if not model or QUERY_TWINS.get(settings.get("model", "")) != model:  # a twin gives the same vectors
            check_setting("dense", index.root, settings, "model", model)
        self.model_id = settings["model"]
        # a configured model is used as it is; else the recorded one, or its ONNX twin (see the module doc)
        self.embedder = _embedder(model) if model else query_embedder(self.model_id)
        server = server or settings.get("server")
        client = client_for(server, index.part("dense") / "chroma")
        try:
            self.collection = client.get_collection(settings["collection"],
                                                    embedding_function=embedding_function(self.model_id))
        except Exception as exc:
            raise IndexError_(f"dense: collection {settings['collection']!r} not found ({exc}); rebuild the index") from None
        self.position = {p.id: i for i, p in enumerate(index.passages)}

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        vec = self.embedder.embed([query])
        res = self.collection.query(query_embeddings=[vec[0]], n_results=min(k, len(self.position)),
                                    include=["distances"])
        return [(self.position[pid], 1.0 - float(d)) for pid, d in zip(res["ids"][0], res["distances"][0], strict=True)
                if pid in self.position]


class DenseRetriever(RetrieverPlugin):
    """Dense retrieval on chromadb (``[pilotfish.plugin.dense]``)."""

    name: ClassVar[str] = "dense"

    class Options(RetrieverOptions):
        model: str | None = None
        """The embedder; must match the one the index was built with. Default: to build, ``minilm-int8`` where
        ONNX Runtime can serve it, else ``minilm``; to query, the recorded one (``minilm-onnx`` for ``minilm``)."""
        server: str | None = None
        """A chromadb server URL; default: the embedded store inside the index."""

    def load(self, index: Index) -> Searcher:
        return DenseSearcher(index, self.options.model, self.options.server)  # type: ignore[attr-defined]

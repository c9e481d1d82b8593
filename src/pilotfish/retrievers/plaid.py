"""``plaid``: late interaction (MaxSim) with colbert-ai's PLAID engine, for real ColBERT checkpoints.

The engine is ``colbert-ai`` (extra ``pilotfish[plaid]``): its ``Indexer`` writes a PLAID index
(k-means centroids, residuals compressed to ``nbits`` per dimension, an inverted file) into this
retriever's folder of the index generation (``INDEX/gen-N/plaid/``), and its ``Searcher`` answers
queries. The model is a colbert-ai checkpoint directory: the hub layout of ``colbert-ir/colbertv2.0``
(BERT config + weights, ``linear.weight``, tokenizer, ``artifact.metadata``).
:func:`convert_checkpoint` turns a pilotfish checkpoint (``pilotfish train colbert --out DIR``,
``minilm-untrained``) into one.

PLAID cannot be updated in place: when any passage changes the whole part is re-encoded and rebuilt
(the other retrievers of the index stay incremental); when no passage changed and the checkpoint is the
same, the previous generation's part is copied as is.

colbert-ai 0.2.22 under transformers 5: its ``HF_ColBERT.__init__`` does not call ``post_init()``,
which transformers 5 needs (``all_tied_weights_keys``); :func:`colbert_ai` patches the classes that
``class_factory`` makes to call it. Its C++ extensions are compiled on first use (about 100 s) into
``$TORCH_EXTENSIONS_DIR`` (default: ``torch_extensions/`` under pilotfish's cache), then reused.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from pilotfish.core.errors import MissingDependencyError, ModelError

from .base import RetrieverOptions, RetrieverPlugin, Searcher
from .index import BuildContext, Index, IndexError_

PART = "plaid"
"""The colbert-ai index name inside the part folder (``INDEX/gen-N/plaid/plaid/``)."""
_patch_lock = threading.Lock()
_patched = False


_HUB_BASES = {"bert-base-uncased": "bert", "bert-large-uncased": "bert", "bert-base-multilingual-uncased": "bert",
              "roberta-base": "roberta", "xlm-roberta-base": "xlm-roberta", "xlm-roberta-large": "xlm-roberta",
              "google/electra-base-discriminator": "electra", "microsoft/mdeberta-v3-base": "deberta-v2"}


def _model_type_stub(model_type: str) -> str:
    """A folder with just ``{"model_type": ...}``: all ``class_factory`` reads from a config."""
    from pilotfish.models.cache import cache_dir

    d = cache_dir() / "plaid-model-types" / model_type
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps({"model_type": model_type}))
    return str(d)


def _patch_class_factory(module: Any, original: Any) -> None:
    def class_factory(name_or_path: str) -> Any:
        if not Path(str(name_or_path)).is_dir() and name_or_path in _HUB_BASES:
            # colbert-ai falls back to the hub name 'bert-base-uncased' (artifact.metadata's model_name) only
            # to pick the model class: answer that offline instead of asking the hub
            name_or_path = _model_type_stub(_HUB_BASES[name_or_path])
        cls = original(name_or_path)
        if getattr(cls, "_pilotfish_post_init", False):
            return cls
        init = cls.__init__

        def __init__(self: Any, config: Any, colbert_config: Any) -> None:
            init(self, config, colbert_config)
            self.post_init()  # transformers 5 fills all_tied_weights_keys etc. here

        cls.__init__ = __init__
        cls._pilotfish_post_init = True
        return cls

    class_factory._pilotfish = True  # type: ignore[attr-defined]
    module.class_factory = class_factory


def colbert_ai() -> Any:
    """Import colbert-ai (patched for transformers 5, C++ extensions compiled under the cache)."""
    global _patched
    from pilotfish.models.cache import cache_dir

    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(cache_dir() / "torch_extensions"))
    try:
        import colbert
        import colbert.modeling.base_colbert as base_colbert
        import colbert.modeling.hf_colbert as hf_colbert
        import colbert.modeling.tokenization.doc_tokenization as doc_tok
        import colbert.modeling.tokenization.query_tokenization as query_tok
    except ImportError as exc:
        raise MissingDependencyError("colbert-ai", "plaid", "the plaid retriever") from exc
    with _patch_lock:
        if not _patched:
            original = hf_colbert.class_factory
            for module in (hf_colbert, base_colbert, doc_tok, query_tok):
                if not getattr(module.class_factory, "_pilotfish", False):
                    _patch_class_factory(module, original)
            _patched = True
    return colbert


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """colbert-ai prints progress and memory stats on stdout: keep them out of pilotfish's output."""
    if os.environ.get("PILOTFISH_PLAID_VERBOSE"):
        yield
        return
    import warnings

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.cuda.amp.autocast in colbert-ai
        warnings.filterwarnings("ignore", message=".*CUDA is not available")
        yield


def check_checkpoint(path: str | Path) -> Path:
    p = Path(path).expanduser()
    if not p.is_dir():
        raise ModelError(f"colbert-ai checkpoint {str(path)!r} is not a directory (hub ids must be downloaded first, "
                         "e.g. huggingface-cli download colbert-ir/colbertv2.0 --local-dir DIR)")
    if not (p / "artifact.metadata").is_file():
        raise ModelError(f"{p} has no artifact.metadata: not a colbert-ai checkpoint (convert a pilotfish one with "
                         "pilotfish.retrievers.plaid.convert_checkpoint, which saves it with colbert-ai's Checkpoint.save)")
    return p.resolve()


def fingerprint(path: Path) -> str:
    """A hash of the checkpoint's projection: an index refuses any other query model (a moved copy of the
    same checkpoint is fine)."""
    from .colbert_model import weights_hash

    w = None
    st = path / "model.safetensors"
    if st.is_file():
        from safetensors import safe_open

        with safe_open(str(st), framework="pt") as f:
            if "linear.weight" in f.keys():  # noqa: SIM118
                w = f.get_tensor("linear.weight").float().numpy()
    elif (path / "pytorch_model.bin").is_file():
        import torch

        w = torch.load(str(path / "pytorch_model.bin"), map_location="cpu", weights_only=True)["linear.weight"].float().numpy()
    if w is None:
        raise ModelError(f"{path} has no 'linear.weight': not a ColBERT checkpoint")
    return weights_hash(w)


def convert_checkpoint(source: str | Path, out: str | Path, doc_maxlen: int = 180, query_maxlen: int = 32) -> Path:
    """Save a pilotfish ColBERT checkpoint (a directory, ``minilm-untrained`` or ``default``) as a
    colbert-ai checkpoint (``Checkpoint.save``: weights, tokenizer, ``artifact.metadata``) at ``out``."""
    import tempfile

    from .colbert_model import UNTRAINED, ColbertEncoder

    colbert_ai()
    from colbert.infra import ColBERTConfig
    from colbert.modeling.checkpoint import Checkpoint

    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(source) if str(source) not in (UNTRAINED, "default", "") else None
        if src is None:
            enc = ColbertEncoder.load(str(source) or "default")
            src = enc.save(Path(tmp) / "pf")
            dim = enc.dim
        else:
            dim = int(json.loads((src / "artifact.metadata").read_text()).get("dim", 128)) \
                if (src / "artifact.metadata").is_file() else 128
        config = ColBERTConfig(dim=dim, doc_maxlen=doc_maxlen, query_maxlen=query_maxlen, checkpoint=str(src))
        with _quiet():
            ckpt = Checkpoint(str(src), colbert_config=config, verbose=0)
            out.mkdir(parents=True, exist_ok=True)
            ckpt.save(str(out))
    return out


def _run_context(root: Path) -> Any:
    from colbert.infra import Run, RunConfig

    return Run().context(RunConfig(nranks=1, gpus=0, avoid_fork_if_possible=True, root=str(root),
                                   experiment="pilotfish", index_root=str(root)))


def build(ctx: BuildContext) -> dict[str, Any]:
    ckpt_opt = ctx.options.get("checkpoint")
    if not ckpt_opt:
        raise ModelError("the plaid retriever needs a colbert-ai checkpoint directory: set "
                         "[pilotfish.plugin.plaid] checkpoint = 'DIR' (the hub layout of colbert-ir/colbertv2.0)")
    ckpt = check_checkpoint(ckpt_opt)
    colbert_ai()
    nbits = int(ctx.options.get("nbits") or 2)
    doc_maxlen = ctx.options.get("doc_maxlen")
    kmeans_niters = int(ctx.options.get("kmeans_niters") or 4)
    settings = {"checkpoint": str(ckpt), "weights": fingerprint(ckpt), "nbits": nbits, "doc_maxlen": doc_maxlen, "kmeans_niters": kmeans_niters,
                "engine": "colbert-ai"}
    ids = [p.id for p in ctx.passages]
    prev = ctx.options.get("_previous_settings") or {}
    bar = ctx.progress(f"plaid ({ckpt.name})", len(ctx.passages))
    if (ctx.previous_dir and (ctx.previous_dir / "ids.json").is_file()
            and all(prev.get(k) == v for k, v in settings.items() if k != "checkpoint")
            and json.loads((ctx.previous_dir / "ids.json").read_text()) == ids
            and ctx.reusable.issuperset(ids)):
        # nothing changed: the previous PLAID index is still exact (PLAID has no incremental update)
        shutil.copytree(ctx.previous_dir, ctx.out_dir, dirs_exist_ok=True)
        bar.update(len(ids))
        bar.close()
        return {**settings, "reused": True, "passages": len(ids)}
    from colbert import Indexer
    from colbert.infra import ColBERTConfig

    collection = [p.index_text() for p in ctx.passages]
    extra = {"doc_maxlen": int(doc_maxlen)} if doc_maxlen else {}  # default: the checkpoint's
    config = ColBERTConfig(nbits=nbits, kmeans_niters=kmeans_niters, index_bsize=32, **extra)
    with _quiet(), _run_context(ctx.out_dir):
        # a fresh folder: never overwrite=True (colbert-ai sleeps 20 s before erasing)
        Indexer(checkpoint=str(ckpt), config=config, verbose=0).index(name=PART, collection=collection)
    bar.update(len(ids))
    bar.close()
    (ctx.out_dir / "ids.json").write_text(json.dumps(ids))
    return {**settings, "reused": False, "passages": len(ids)}


class PlaidSearcher(Searcher):
    def __init__(self, index: Index, checkpoint: str | None, ncells: int | None, centroid_score_threshold: float | None,
                 ndocs: int | None):
        settings = index.settings("plaid")
        part = index.part("plaid")
        if not (part / PART / "metadata.json").is_file():
            raise IndexError_(f"the index at {index.root} lacks its plaid part; rebuild it")
        ckpt = check_checkpoint(checkpoint or settings.get("checkpoint", ""))
        colbert_ai()
        weights = fingerprint(ckpt)
        if settings.get("weights") not in (None, weights):
            raise IndexError_(
                f"the 'plaid' index at {index.root} was built with the checkpoint {settings.get('checkpoint')} "
                f"(weights {settings['weights']}), but the query side uses {ckpt} (weights {weights}); use the same "
                f"checkpoint or rebuild the index (pilotfish index CORPUS_DIR --out {index.root} -r plaid)")
        from colbert import Searcher as CSearcher
        from colbert.infra import ColBERTConfig

        extra = {k: v for k, v in (("ncells", ncells), ("centroid_score_threshold", centroid_score_threshold),
                                   ("ndocs", ndocs)) if v is not None}
        with _quiet(), _run_context(part):
            self.searcher = CSearcher(index=PART, checkpoint=str(ckpt), index_root=str(part),
                                      collection=[p.index_text() for p in index.passages],
                                      config=ColBERTConfig(**extra), verbose=0)
        self.n = len(index.passages)
        self._lock = threading.Lock()

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        with self._lock, _quiet():
            pids, _ranks, scores = self.searcher.search(query, k=min(k, self.n))
        return [(int(p), float(s)) for p, s in zip(pids, scores, strict=True)]


class PlaidRetriever(RetrieverPlugin):
    """colbert-ai PLAID over the passages of the index (``[pilotfish.plugin.plaid]``)."""

    name: ClassVar[str] = "plaid"

    class Options(RetrieverOptions):
        checkpoint: str | None = None
        """A colbert-ai checkpoint directory (default: the one the index was built with)."""
        nbits: int = 2
        """Bits per dimension of the stored residuals (build time)."""
        doc_maxlen: int | None = None
        """Passage tokens kept (build time; default: the checkpoint's ``doc_maxlen``)."""
        kmeans_niters: int = 4
        """k-means iterations for the centroids (build time)."""
        ncells: int | None = None
        """Centroids probed per query token (colbert-ai's default for k: 1 if k <= 10, 2 if <= 100, else 4)."""
        centroid_score_threshold: float | None = None
        ndocs: int | None = None

    def load(self, index: Index) -> Searcher:
        o: Any = self.options
        return PlaidSearcher(index, o.checkpoint, o.ncells, o.centroid_score_threshold, o.ndocs)

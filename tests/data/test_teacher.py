"""The teacher's questions: parsing and the round-trip filter, a real run on Qwen, and the committed data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pilotfish.data.teacher import answers_agree, is_refusal, normalize_answer, parse_questions, span_in

STATE = Path(__file__).resolve().parents[2] / "datasets" / "teacher-questions" / "state"
DEV = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_parsing_and_agreement():
    raw = ('Here you go:\n{"question": "Who won the race at Venta de Banos?", "answer": "Kathy Butler"}\n'
           '{"question": "too short?", "answer": "x"}\n{"question": "What did the firm report for 2004?", '
           '"answer": "a profit"}\nnot json {"question": ')
    got = parse_questions(raw, 5)
    assert [q["answer"] for q in got] == ["Kathy Butler", "a profit"]
    assert normalize_answer("The Three Gorges Dam.") == "three gorges dam"
    assert answers_agree("The Three Gorges Dam", "Three Gorges Dam")
    assert answers_agree("36%", "36 %") and not answers_agree("36%", "42%")
    assert not answers_agree("Ines Monteiro", "Kathy Butler")
    assert span_in("three gorges dam", "Work on the Three Gorges Dam began in 1994.")
    assert is_refusal("unanswerable") and is_refusal("The passage does not answer this.") and not is_refusal("1971")


@pytest.mark.real
def test_the_teacher_writes_and_filters_questions_on_real_passages():
    import pilotfish
    from pilotfish.data.teacher import corpus_passages, teacher_questions

    with pytest.warns(pilotfish.PilotfishWarning, match="skipped 1 undecodable"):  # sports/199.txt in the package
        passages = corpus_passages("bbc", sample=2, seed=3)
    res = teacher_questions(passages, "qwen2.5-1.5b", n=2, unanswerable_every=1, seed=0)
    assert res.report.inputs == 2 and res.records, res.report.summary()
    assert res.report.outputs + sum(res.report.dropped.values()) + res.report.unparseable >= 2
    for r in res.records:
        assert r["provenance"]["model"] == "qwen2.5-1.5b" and r["provenance"]["prompt"] == "teacher-questions-v1"
        assert r["provenance"]["seed"] == 0 and r["passage_id"] in {p["id"] for p in passages}
        if r["kind"] == "answerable":
            assert span_in(r["answer"], r["passage"]) and answers_agree(r["answer"], r["roundtrip"])
        else:
            assert is_refusal(r["roundtrip"])


def test_committed_teacher_data_is_clean():
    """The product data: provenance on every record, answers that are spans of their passage, and no dev
    article among its sources."""
    shards = sorted(STATE.glob("shard-*.jsonl"))
    assert shards, f"no committed shards under {STATE}"
    if not DEV.is_dir():
        pytest.fail(f"the dev sets are missing: {DEV}")
    dev_docs = set()
    for f in DEV.glob("*.jsonl"):
        dev_docs |= {json.loads(line)["doc_id"] for line in f.read_text().splitlines() if line.strip()}
    n = 0
    for shard in shards:
        for r in json.loads(shard.read_text())["records"]:
            n += 1
            assert r["doc_id"] not in dev_docs
            assert {"model", "prompt", "seed", "source"} <= set(r["provenance"])
            if r["kind"] == "answerable":
                assert span_in(r["answer"], r["passage"])
    assert n >= 10

"""``pilotfish synthesize qa-file``: teacher questions as an ``eval qa`` file (issue 16, item 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pilotfish.core.errors import InputError
from pilotfish.data.qa_files import evidence_sentence, read_teacher_questions, teacher_qa_rows
from pilotfish.evaluation.qa import load_qa, normalize_answer

SHARDS = Path(__file__).resolve().parents[2] / "datasets" / "teacher-questions" / "state"


def test_every_answerable_row_has_the_passage_sentence_holding_its_answer(tmp_path, run_cli) -> None:
    out = tmp_path / "qa.jsonl"
    code, _, err = run_cli("synthesize", "qa-file", "--questions", SHARDS, "--sample", "40", "--seed", "3",
                           "--out", out)
    assert code == 0, err
    assert "40 questions (" in err
    rows = load_qa(out)  # the format eval qa takes
    assert len(rows) == 40 and len({r["id"] for r in rows}) == 40
    recs = {r["id"]: r for r in read_teacher_questions(SHARDS)}
    for r in rows:
        if r["answer"]:
            assert normalize_answer(r["answer"]) in normalize_answer(r["evidence"])
            assert r["evidence"] in " ".join(recs[r["id"]]["passage"].split())
        else:
            assert r["kind"] == "teacher-unanswerable" and recs[r["id"]]["kind"] == "unanswerable"
    again = tmp_path / "again.jsonl"
    run_cli("synthesize", "qa-file", "--questions", SHARDS, "--sample", "40", "--seed", "3", "--out", again)
    assert again.read_text() == out.read_text()


def test_no_evidence_excluded_articles_and_bad_input() -> None:
    passage = "The firm made a profit. Its boss, Jane Roe, left in May."
    recs = [{"id": "a", "question": "Who left?", "answer": "Jane Roe", "passage": passage, "doc_id": "business/1"},
            {"id": "b", "question": "Who joined?", "answer": "John Doe", "passage": passage, "doc_id": "business/1"},
            {"id": "c", "question": "What was sold?", "answer": "", "passage": passage, "doc_id": "business/2"},
            {"id": "d", "question": "Who left  ?", "answer": "Jane Roe", "passage": passage, "doc_id": "dev/9"}]
    rows, counts = teacher_qa_rows(recs, exclude_docs=["dev/9"])
    assert [r["id"] for r in rows] == ["a", "c"] and rows[0]["evidence"] == "Its boss, Jane Roe, left in May."
    assert counts["no_evidence_sentence"] == 1 and counts["excluded_doc"] == 1 and counts["kept"] == 2
    assert evidence_sentence("", passage) is None
    with pytest.raises(InputError, match="no shard-"):
        read_teacher_questions(Path(__file__).parent)


def test_a_question_without_a_passage_names_the_line(tmp_path) -> None:
    f = tmp_path / "q.jsonl"
    f.write_text(json.dumps({"id": "x", "question": "Who?", "answer": "A"}) + "\n")
    with pytest.raises(InputError, match=r"q.jsonl: line 1: teacher question 'x' has no 'passage'"):
        read_teacher_questions(f)

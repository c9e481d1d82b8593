"""pilotfish eval qa: the report's keys and scoring (fake model: the scoring is under test), bad input."""

from __future__ import annotations

import json


def test_eval_qa_reports_the_issue_keys(tmp_path, run_cli):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "steel.txt").write_text("Steel\n\nLakshmi Mittal runs LNM Holdings. It employs 50,000 people.")
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"id": "q1", "question": "Does Lakshmi Mittal run LNM Holdings?", "answer": "Lakshmi Mittal",
                              "doc_id": "steel", "evidence": "Lakshmi Mittal runs LNM Holdings."}) + "\n"
                  + json.dumps({"id": "q2", "question": "What is the capital of Mars?", "answer": ""}) + "\n")
    code, out, err = run_cli("eval", "qa", "--corpus", corpus, "--queries", qa, "-m", "fake", "--no-verify",
                             "--records", tmp_path / "r.jsonl", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert {"accuracy", "citation_precision", "unanswerable_refused", "latency_s_p50", "latency_s_p95",
            "prompt_tokens_mean", "by_model"} <= set(report)
    assert report["answerable"] == 1 and report["unanswerable"] == 1
    assert report["accuracy"] == 1.0  # the fake model echoes the question, which holds the gold answer
    records = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == ["q1", "q2"] and report["unanswerable_refused"] == 0.0


def test_eval_qa_bad_file_names_line_and_field(tmp_path, run_cli):
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"question": "Who?", "answer": "x"}) + "\n")
    code, out, err = run_cli("eval", "qa", "--corpus", tmp_path, "--queries", qa, "-m", "fake")
    assert code == 1 and "needs 'doc_id' and 'evidence'" in err and "qa.jsonl" in err


def test_records_are_written_as_questions_finish_and_resume_answers_only_the_rest(tmp_path, run_cli):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "steel.txt").write_text("Steel\n\nLakshmi Mittal runs LNM Holdings. It employs 50,000 people.")
    qa = tmp_path / "qa.jsonl"
    rows = [{"id": f"q{i}", "question": f"Does Lakshmi Mittal run LNM Holdings ({i})?", "answer": "Lakshmi Mittal",
             "doc_id": "steel", "evidence": "Lakshmi Mittal runs LNM Holdings."} for i in range(3)]
    qa.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rec = tmp_path / "r.jsonl"
    code, _, err = run_cli("eval", "qa", "--corpus", corpus, "--queries", qa, "-m", "fake", "--no-verify",
                           "--records", rec, "--limit", "2")
    assert code == 0, err
    first = rec.read_text().splitlines()
    assert [json.loads(x)["id"] for x in first] == ["q0", "q1"]
    code, out, err = run_cli("eval", "qa", "--corpus", corpus, "--queries", qa, "-m", "fake", "--no-verify",
                             "--records", rec, "--resume", "--json")
    assert code == 0, err
    assert "2 questions kept from" in err and "1 answered now" in err and "[1/1]" in err
    lines = rec.read_text().splitlines()
    assert lines[:2] == first and [json.loads(x)["id"] for x in lines] == ["q0", "q1", "q2"]
    assert json.loads(out)["n"] == 3
    code, _, err = run_cli("eval", "qa", "--corpus", corpus, "--queries", qa, "-m", "fake", "--resume")
    assert code == 2 and "--resume needs --records FILE" in err


def test_with_recite_both_citation_precisions_are_reported():
    """The model cites [2] for a fact of passage [1]: ``recite`` moves the marker, and the report gives the
    precision of the final markers (1.0) next to the model's own (0.0), on the same answers."""
    import pilotfish
    from pilotfish.evaluation.qa import evaluate_qa
    from pilotfish.verifiers.recite import Recite

    docs = [pilotfish.Document("steel#0", "Lakshmi Mittal runs LNM Holdings.", doc_id="steel"),
            pilotfish.Document("tea#0", "Tea prices rose in India.", doc_id="tea")]

    class Passages:
        name = "passages"

        @pilotfish.hookimpl
        def retrieve(self, request, k):
            return docs[:k]

    pilot = pilotfish.Pilot(model=pilotfish.FakeModel(["LNM Holdings [2]"]), plugins=[Passages(), Recite()],
                            use_entrypoints=False)
    rows = [{"id": "q1", "question": "Which company does Lakshmi Mittal run?", "answer": "LNM Holdings",
             "doc_id": "steel", "evidence": "Lakshmi Mittal runs LNM Holdings."}]
    report, records = evaluate_qa(pilot, rows)
    assert records[0]["text"] == "LNM Holdings [1]" and records[0]["citations_ok_unrecited"] == [False]
    assert report["citation_precision"] == 1.0 and report["citation_precision_unrecited"] == 0.0

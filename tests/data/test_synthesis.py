"""Synthesis: label-only, from scratch, paraphrase; black-box (fake) and white-box (SmolLM2); the hook."""

from __future__ import annotations

import math

import pytest

import pilotfish
from pilotfish import FakeModel, InputError
from pilotfish.data import (
    SynthesisReport,
    SynthesisResult,
    data_pilot,
    make_record,
    provenance,
    run_synthesis,
)
from pilotfish.data.plugins import Synthesis
from pilotfish.data.synthesis import generate_examples, label_texts, paraphrase, parse_label

LABELS = ["sports", "politics", "tech"]


def test_parse_label():
    assert parse_label("Sports.", LABELS) == "sports"
    assert parse_label("The label is tech", LABELS) == "tech"
    assert parse_label("sports or politics", LABELS) == "sports"  # starts with a label
    assert parse_label("maybe politics, maybe tech", LABELS) is None
    assert parse_label("no idea", LABELS) is None


def test_black_box_labels_and_unparseable_are_counted():
    teacher = FakeModel(responses=["sports", "I am not sure", "Tech", "politics!"])
    res = label_texts(["goal", "vote?", "new phone", "parliament"], LABELS, teacher)
    assert [r["label"] for r in res.records] == ["sports", "tech", "politics"]
    assert res.report.unparseable == 1 and res.report.unparseable_samples == ["I am not sure"]
    assert res.report.outputs == 3 and "1 unparseable" in res.report.summary()
    r = res.records[0]
    assert r["provenance"]["plugin"] == "synthesis" and r["provenance"]["model"] == "fake"
    assert r["provenance"]["source"] and 0 < r["confidence"] <= 1


def test_white_box_label_confidence_from_logprobs(hf_smollm2):
    texts = ["The striker scored twice as the team won the cup final.",
             "The prime minister called an election after the vote in parliament."]
    res = label_texts(texts, ["sport", "politics"], hf_smollm2, instruction="What is the topic?", calibrate=True)
    assert res.report.method == "label (logprobs)" and res.report.unparseable == 0
    for r in res.records:
        assert math.isclose(sum(r["label_probs"].values()), 1.0, rel_tol=1e-6)
        assert r["confidence"] == max(r["label_probs"].values())
        assert r["label"] == max(r["label_probs"], key=r["label_probs"].get)
        assert "calibrated" in r["provenance"]["rule"]
    # a 135M model is a weak labeller, but its scores move the right way
    assert res.records[0]["label_probs"]["sport"] > res.records[1]["label_probs"]["sport"]


def test_scratch_counts_unusable_and_dedups():
    replies = ["Example: The match ended two nil after a late goal.", "ok",
               "The match ended two nil after a late goal.", "Parliament passed the new budget law today."]
    res = generate_examples("news topic classification", ["sports", "politics"], FakeModel(responses=replies),
                            n_per_label=2)
    assert res.report.unparseable == 1  # "ok" is too short
    assert res.report.duplicates_removed == 1
    assert [r["label"] for r in res.records] == ["sports", "politics"]
    assert res.records[0]["text"] == "The match ended two nil after a late goal."
    assert "task=" in res.records[0]["provenance"]["rule"]
    with pytest.raises(InputError, match="at least two labels"):
        generate_examples("t", ["one"], FakeModel())
    with pytest.raises(InputError, match="task description is empty"):
        generate_examples(" ", LABELS, FakeModel())


def test_paraphrase_keeps_fields_and_points_back():
    src = [{"id": "a", "text": "the cat sat on the mat today", "label": "pets"}]
    teacher = FakeModel(responses=["a cat was sitting on the mat this day", "the cat sat on the mat today", ""])
    res = paraphrase(src, teacher, n=3)
    assert len(res.records) == 1 and res.report.unparseable == 2
    r = res.records[0]
    assert r["label"] == "pets" and r["provenance"]["source"] == "a" and r["id"] == "a:para0"


def test_paraphrase_real_model(hf_smollm2):
    res = paraphrase(["The company reported record profits this year."], hf_smollm2, max_tokens=24)
    assert res.report.inputs == 1 and res.report.outputs + res.report.unparseable + res.report.duplicates_removed == 1


def test_synthesize_hook_third_party_method_and_builtin():
    class Upper:
        name = "upper"

        @pilotfish.hookimpl
        def synthesize(self, method, records):
            if method != "upper":
                return None
            out = [make_record(r["text"].upper(), prov=provenance("upper", rule="str.upper", source=r["id"]))
                   for r in records]
            return SynthesisResult(out, SynthesisReport("upper", "-", inputs=len(records), outputs=len(out)))

    pilot = data_pilot([Synthesis, Upper()], use_entrypoints=False)
    res = run_synthesis("upper", ["abc"], pilot=pilot)
    assert res.records[0]["text"] == "ABC"
    res = run_synthesis("label", ["goal!"], model=FakeModel(responses=["sports"]), params={"labels": LABELS}, pilot=pilot)
    assert res.records[0]["label"] == "sports"
    with pytest.raises(InputError, match="no installed plugin synthesizes with method 'nope'"):
        run_synthesis("nope", ["x"], pilot=pilot)
    with pytest.raises(InputError, match="unknown parameter"):
        run_synthesis("label", ["x"], params={"labels": LABELS, "bogus": 1}, pilot=pilot)
    with pytest.raises(InputError, match="empty"):
        run_synthesis("label", [], params={"labels": LABELS}, pilot=pilot)


def test_cli_label_errors_and_output(run_cli, write_lines, tmp_path):
    code, _, err = run_cli("synthesize", "label", write_lines("bad.jsonl", [{"text": "a"}, {"body": "b"}]),
                           "--labels", "a,b", "-m", "fake", "-o", tmp_path / "o.jsonl")
    assert code == 1 and "line 2" in err and "'text'" in err
    code, _, err = run_cli("synthesize", "label", write_lines("empty.jsonl", []), "--labels", "a,b", "-o",
                           tmp_path / "o.jsonl")
    assert code == 1 and "empty" in err
    code, _, err = run_cli("synthesize", "label", write_lines("ok.jsonl", [{"text": "hello"}]), "--labels", "a,b",
                           "-m", "fake", "-o", tmp_path / "o.jsonl")
    assert code == 0 and "1 unparseable" in err  # the echo model names both labels
    code, _, err = run_cli("synthesize", "dedup", write_lines("d.jsonl", [{"text": "same words here"}] * 3),
                           "-o", tmp_path / "d-out.jsonl")
    assert code == 0 and "2 near-duplicates removed" in err

"""The teacher's relevance judgements: the candidates (the question's own passage first, its article's
others after; no dev article), a real run on Qwen, bad files, and the committed data."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from pilotfish.core.errors import InputError
from pilotfish.data.teacher_judgements import judgement_inputs, read_judgements

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "datasets" / "teacher-questions" / "state" / "shard-00000.jsonl"
STATE = ROOT / "datasets" / "teacher-judgements" / "state"


def _inputs(**kw):  # noqa: ANN003, ANN202
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sports/199.txt in the package is not UTF-8
        return judgement_inputs([QUESTIONS], "bbc", **kw)


def test_candidates_are_the_own_passage_then_its_article(tmp_path):
    from pilotfish.data.teacher import read_teacher_records

    asked = [r for r in read_teacher_records([QUESTIONS]) if r["kind"] == "answerable"]
    recs = _inputs(candidates=3)
    assert len(recs) == len(asked) > 5
    for r, q in zip(recs, asked, strict=True):
        ids = [c["id"] for c in r["candidates"]]
        assert r["question"] == q["question"] and ids[0] == q["passage_id"] == r["passage_id"]
        assert 1 <= len(ids) <= 3 and len(set(ids)) == len(ids)
        assert all(i.split("#")[0] == q["doc_id"] for i in ids)
        assert r["candidates"][0]["text"] == q["passage"]
    banned = tmp_path / "dev.jsonl"
    banned.write_text(json.dumps({"doc_id": asked[0]["doc_id"]}) + "\n")
    assert all(r["doc_id"] != asked[0]["doc_id"] for r in _inputs(exclude=[banned]))
    assert len(_inputs(sample=3)) == 3
    with pytest.raises(InputError, match="candidates must be >= 1"):
        _inputs(candidates=0)
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "notes.txt").write_text("Our team meets on Mondays. The budget review is in March.")
    with pytest.raises(InputError, match="names a passage of"):
        judgement_inputs([QUESTIONS], str(tmp_path / "corpus"))


def test_bad_judgement_files_are_named(tmp_path):
    with pytest.raises(InputError, match="do not exist"):
        read_judgements([tmp_path / "none.jsonl"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "Who?", "passage_id": "a#0", "candidates": [{"id": "a#0", "p_yes": 2}]}) + "\n")
    with pytest.raises(InputError, match=r"bad.jsonl: line 1.*p_yes in \[0, 1\]"):
        read_judgements([bad])


@pytest.mark.real
def test_the_teacher_judges_its_passage_above_another_articles():
    import pilotfish
    from pilotfish.data.teacher_judgements import teacher_judgements

    recs = _inputs(candidates=1)
    one, other = recs[0], next(r for r in recs if r["doc_id"] != recs[0]["doc_id"])
    one = {**one, "candidates": one["candidates"] + other["candidates"]}
    res = teacher_judgements([one], "qwen2.5-1.5b", seed=0)
    (out,) = res.records
    own, foreign = (c["p_yes"] for c in out["candidates"])
    assert own > foreign + 0.3, (one["question"], own, foreign)
    assert out["provenance"]["model"] == "qwen2.5-1.5b" and out["provenance"]["prompt"] == "teacher-relevance-v1"
    assert out["passage_id"] == one["passage_id"] and out["provenance"]["source"] == one["id"]
    with pytest.raises(InputError, match="needs a question and candidates"):
        teacher_judgements([{**one, "candidates": []}], "qwen2.5-1.5b")
    # a black-box model cannot judge by log-probs: a clear error before any work
    with pytest.raises(pilotfish.WhiteBoxRequiredError):
        teacher_judgements([one], pilotfish.FakeModel(["yes"]))


def test_committed_judgements_are_clean_and_rank_the_own_passage_first(dev_doc_ids):
    """The product data: provenance on every record, no dev article, and the teacher's P(yes) higher on the
    passage a question was written from than on the other passages of its article."""
    assert sorted(STATE.glob("shard-*.jsonl")), f"no committed shards under {STATE}"
    rows = read_judgements([STATE])
    assert len(rows) >= 50
    own, others = [], []
    for r in rows:
        assert r["doc_id"] not in dev_doc_ids and r["candidates"][0]["id"] == r["passage_id"]
        assert {"model", "prompt", "source"} <= set(r["provenance"])
        own.append(r["candidates"][0]["p_yes"])
        others += [c["p_yes"] for c in r["candidates"][1:]]
    assert sum(own) / len(own) - sum(others) / len(others) > 0.15, (len(own), len(others))

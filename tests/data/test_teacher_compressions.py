"""Compressions judged by the teacher (the labels of `train lingua`): the candidate masks, a real run on
SmolLM2 + Qwen, bad input, and the committed data."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from pilotfish.core.errors import InputError
from pilotfish.data.teacher_compressions import (
    apply_mask,
    candidate_masks,
    compression_inputs,
    read_compressions,
)

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "datasets" / "teacher-questions" / "state" / "shard-00000.jsonl"
STATE = ROOT / "datasets" / "teacher-compressions" / "state"


def test_the_first_candidate_is_the_log_prob_method_the_others_differ():
    scores = [float((i * 7) % 30) for i in range(30)]  # 0..29, shuffled
    masks = candidate_masks(scores, 3.0, 4, 0.5, random.Random(0))
    assert masks[0] == "".join("1" if s >= 20 else "0" for s in scores)  # the 10 best words
    assert len(masks) > 1 and len(set(masks)) == len(masks)
    assert all(m.count("1") == 10 and len(m) == 30 for m in masks)
    assert candidate_masks(scores, 3.0, 4, 0.0, random.Random(0)) == masks[:1]  # no noise: one candidate
    assert apply_mask(["a", "b", "c"], "101") == "a c"


def test_inputs_are_answerable_teacher_questions_with_their_passage(tmp_path):
    from pilotfish.data.teacher import read_teacher_records

    asked = [r for r in read_teacher_records([QUESTIONS]) if r["kind"] == "answerable"]
    recs = compression_inputs([QUESTIONS])
    assert [r["question"] for r in recs] == [r["question"] for r in asked]
    assert all(r["passage"] == q["passage"] and r["question_id"] == q["id"] for r, q in zip(recs, asked, strict=True))
    banned = tmp_path / "dev.jsonl"
    banned.write_text(json.dumps({"doc_id": asked[0]["doc_id"]}) + "\n")
    assert all(r["doc_id"] != asked[0]["doc_id"] for r in compression_inputs([QUESTIONS], exclude=[banned]))
    assert len(compression_inputs([QUESTIONS], sample=3)) == 3


def test_bad_compression_files_are_named(tmp_path):
    with pytest.raises(InputError, match="do not exist"):
        read_compressions([tmp_path / "none.jsonl"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "Who?", "words": ["a", "b"], "p_full": 0.9,
                               "candidates": [{"keep": "1", "p_yes": 0.5}]}) + "\n")
    with pytest.raises(InputError, match=r"bad.jsonl: line 1.*as long as words"):
        read_compressions([bad])


@pytest.mark.real
def test_the_teacher_judges_a_compression_without_the_answer_below_the_passage():
    import pilotfish
    from pilotfish.data.teacher_compressions import teacher_compressions

    rec = next(r for r in compression_inputs([QUESTIONS]) if r["answer"] == "Virginia Plain")  # Roxy Music's first hit
    res = teacher_compressions([rec], "qwen2.5-1.5b", ratio=3.0, k=3, seed=0)
    (out,) = res.records
    words = out["words"]
    assert words == rec["passage"].split() and 1 <= len(out["candidates"]) <= 3
    assert all(c["keep"].count("1") == -(-len(words) // 3) for c in out["candidates"])
    assert out["provenance"]["model"] == "qwen2.5-1.5b" and out["provenance"]["drafter"] == "smollm2-135m"
    # a third of the words states the answer less surely than the whole passage (measured 0.90 against 0.36-0.52)
    assert out["p_full"] > max(c["p_yes"] for c in out["candidates"]) + 0.1, out
    with pytest.raises(InputError, match="ratio must be > 1"):
        teacher_compressions([rec], "qwen2.5-1.5b", ratio=1.0)
    with pytest.raises(InputError, match="needs a question and a passage"):
        teacher_compressions([{**rec, "passage": ""}], "qwen2.5-1.5b")
    with pytest.raises(InputError, match="not a white-box model"):
        teacher_compressions([rec], "qwen2.5-1.5b", drafter="minilm")
    with pytest.raises(pilotfish.WhiteBoxRequiredError):
        teacher_compressions([rec], pilotfish.FakeModel(["yes"]))


def test_committed_compressions_are_clean(dev_doc_ids):
    """The product data: provenance, no dev article, masks that keep a third of the words, and the teacher's
    P(yes) for the whole passage above its P(yes) for the compressions (compressing loses information)."""
    assert sorted(STATE.glob("shard-*.jsonl")), f"no committed shards under {STATE}"
    rows = read_compressions([STATE])
    assert len(rows) >= 64
    full, best = [], []
    for r in rows:
        assert r["doc_id"] not in dev_doc_ids and {"model", "prompt", "source", "drafter"} <= set(r["provenance"])
        assert all(c["keep"].count("1") == -(-len(r["words"]) // 3) for c in r["candidates"])
        full.append(r["p_full"])
        best.append(max(c["p_yes"] for c in r["candidates"]))
    assert sum(full) / len(full) > sum(best) / len(best) + 0.05

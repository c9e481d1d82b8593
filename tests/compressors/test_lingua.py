"""The keep classifier (``lingua``, LLMLingua-2-style): its soft labels, a real training on the shipped
judged compressions with a held-out score, the ``compress`` plugin's fine step on it, and its errors."""

from __future__ import annotations

import pytest

import pilotfish
from pilotfish import Document, Pilot
from pilotfish.compressors.train import answer_recall, soft_labels, top_mask
from pilotfish.core.errors import InputError, ModelError
from pilotfish.plugins.compress import Compress

PASSAGES = [
    Document("steel#0", "Lakshmi Mittal is the chairman of LNM Holdings, the world's largest steel maker. "
             "The company was founded in Calcutta. Its shares rose on Monday after the merger news.",
             "business/027", "Steel firm"),
    Document("rain#0", "Heavy rain fell across the north of England on Sunday. Forecasters expect more showers "
             "this week.", "news/001", "Rain"),
]
QUESTION = "Which company does Lakshmi Mittal chair?"


def test_soft_labels_weigh_candidates_by_judgement_and_answer_kept():
    rec = {"words": ["Roxy", "hit", "was", "Virginia", "Plain"], "answer": "Virginia Plain", "candidates": [
        {"keep": "11000", "p_yes": 0.9},   # no answer word: weight 0, whatever the judge says
        {"keep": "10011", "p_yes": 0.5},   # the whole answer: weight 0.5
        {"keep": "01010", "p_yes": 0.5},   # half of it: weight 0.25
    ]}
    soft = soft_labels(rec)
    assert soft == pytest.approx([0.5 / 0.75, 0.25 / 0.75, 0.0, 1.0, 0.5 / 0.75])
    assert top_mask(soft, 2.5) == "10010"  # the best two words; ties keep the earlier word
    assert answer_recall("Virginia Plain", "plain") == 0.5
    assert soft_labels({**rec, "candidates": rec["candidates"][:1]}) is None  # no answer kept: teaches nothing


@pytest.mark.real
def test_a_trained_classifier_agrees_with_the_teachers_labels_on_held_out_articles(small_lingua):
    _, meta = small_lingua
    # random masks keep a third of the words and agree with a third: F1 ~0.33; 12 steps on 96 examples reach
    # ~0.5, and a collapsed or inverted head falls below 0.33
    assert meta["val_label_f1"] > 0.4, meta
    assert meta["val_questions"] >= 5 and meta["train_examples"] >= 64
    assert meta["loss_last"] < meta["loss_first"], meta


@pytest.mark.real
def test_the_fine_step_with_lingua_meets_the_budget_and_keeps_every_passage_number(small_lingua, smollm2, minilm):
    out, _ = small_lingua
    pilot = Pilot(model=smollm2, use_entrypoints=False)
    kept = Compress(ratio=3.0, coarse="", fine=f"lingua:{out}").compress(
        pilotfish.Request(question=QUESTION), PASSAGES, pilot)
    assert [d.id for d in kept] == [d.id for d in PASSAGES]  # citations resolve to the originals
    before = sum(d.metadata["compression"]["tokens_before"] for d in kept)
    after = sum(d.metadata["compression"]["tokens_after"] for d in kept)
    assert after <= before / 2, (before, after)  # the budget counts the passages; their titles stay
    for d, orig in zip(kept, PASSAGES, strict=True):  # words are dropped, never changed or reordered
        words, it = d.text.split(), iter(orig.text.split())
        assert all(w in it for w in words)
    scores = pilot.get_model(f"lingua:{out}").keep_scores(QUESTION, [PASSAGES[0].text, ""])
    assert len(scores[0]) == len(PASSAGES[0].text.split()) and scores[1] == []
    assert all(0.0 <= s <= 1.0 for _, s in scores[0])


@pytest.mark.real
def test_lingua_errors_are_clear(small_lingua, tmp_path, smollm2):
    out, _ = small_lingua
    pilot = Pilot(model=smollm2, use_entrypoints=False)
    with pytest.raises(InputError, match="non-empty question"):
        pilot.get_model(f"lingua:{out}").keep_scores(" ", ["some words"])
    with pytest.raises(ModelError, match="no trained keep classifier"):
        pilot.get_model(f"lingua:{tmp_path}")
    with pytest.raises(pilotfish.ConfigError, match="neither a white-box model .* nor a keep classifier"):
        Compress(ratio=3.0, coarse="", fine="minilm").compress(pilotfish.Request(question=QUESTION), PASSAGES, pilot)
    from pilotfish.compressors.train import train_lingua

    empty = tmp_path / "none.jsonl"
    empty.write_text('{"question": "Who?", "words": ["a"], "p_full": 0.9, "answer": "b", '
                     '"candidates": [{"keep": "1", "p_yes": 0.9}]}\n')
    with pytest.raises(InputError, match="kept any of the teacher's answer"):
        train_lingua(tmp_path / "out", data=[empty], val_share=0.0, progress=lambda m: None)


def test_the_commands_say_what_is_wrong(run_cli, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "Who?", "words": ["a", "b"], "p_full": 0.9, "candidates": [{"keep": "1", "p_yes": 0.5}]}\n')
    code, _, err = run_cli("train", "lingua", "--data", bad, "--out", tmp_path / "l")
    assert code != 0 and "bad.jsonl: line 1" in err and "Traceback" not in err
    code, _, err = run_cli("synthesize", "compressions", "--questions", bad, "--ratio", "1", "-o", tmp_path / "c.jsonl")
    assert code != 0 and "--ratio" in err
    code, _, err = run_cli("synthesize", "compressions", "--questions", bad, "-o", tmp_path / "c.jsonl")
    assert code != 0 and "bad.jsonl: line 1: a teacher record needs 'question' and 'passage'" in err, err
    none = tmp_path / "none.jsonl"
    none.write_text('{"question": "Who?", "passage": "Nobody is named.", "kind": "unanswerable"}\n')
    code, _, err = run_cli("synthesize", "compressions", "--questions", none, "-o", tmp_path / "c.jsonl")
    assert code != 0 and "no answerable teacher question" in err, err

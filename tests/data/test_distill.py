"""Distillation: classification (SmolLM2 teacher -> MiniLM student), white-box KL, generation SFT."""

from __future__ import annotations

import json

import pytest

from pilotfish import FakeModel, InputError, WhiteBoxRequiredError
from pilotfish.data import TextClassifier, data_pilot, run_distill
from pilotfish.data.distill import check_same_tokenizer, distill_generation, truncated_copy
from pilotfish.data.plugins import Distillers


def test_classification_distill_smollm2_to_minilm(bbc_small, tmp_path):
    train = [dict(r, text=r["text"][:150]) for i, r in enumerate(bbc_small) if i % 8 == 0]  # 1 per topic
    held = [r for i, r in enumerate(bbc_small) if i % 8 == 7][:3]
    labels = sorted({r["label"] for r in bbc_small})
    pilot = data_pilot([Distillers], use_entrypoints=False)
    res = pilot.hooks.distill("classification", train, "hf:smollm2-135m", "minilm",
                              {"labels": labels, "heldout": held, "instruction": "What is the topic of this news article?",
                               "label_words": {"sports": "sport"}, "max_chars": 150, "eval_teacher": False, "calibrate": False,
                               "out": str(tmp_path / "student")}, pilot)
    assert res.metrics["train_examples"] == 5 and res.metrics["teacher_unparseable"] == 0
    s = res.metrics["student"]
    assert 0 <= s["accuracy"] <= 1 and s["examples_per_s"] > 0 and s["n"] == 3
    assert all(r["provenance"]["model"] == "hf:smollm2-135m" and r["gold_label"] for r in res.records)
    loaded = TextClassifier.load(tmp_path / "student")
    assert loaded.predict([held[0]["text"]]) == res.student.predict([held[0]["text"]])
    assert json.loads((tmp_path / "student" / "metrics.json").read_text())["train_examples"] == 5


def test_student_learns_gold_labels(bbc_small):
    """The student itself works: trained on gold labels it separates BBC topics."""
    train = [r for i, r in enumerate(bbc_small) if i % 8 < 6]
    test = [r for i, r in enumerate(bbc_small) if i % 8 >= 6]
    clf = TextClassifier(sorted({r["label"] for r in bbc_small})).fit([r["text"] for r in train],
                                                                      [r["label"] for r in train])
    assert clf.evaluate([r["text"] for r in test], [r["label"] for r in test], fresh=False)["accuracy"] >= 0.7
    with pytest.raises(InputError, match="not one of"):
        TextClassifier(["a", "b"]).fit(["x"], ["c"])


def test_whitebox_kl_distillation_truncated_student(hf_smollm2, bbc_small, tmp_path):
    texts = [r["text"][:120] for r in bbc_small[:2]]
    res = run_distill("whitebox", texts, teacher="hf:smollm2-135m", student="truncate:2",
                      params={"steps": 4, "lr": 1e-3, "max_tokens": 24, "out": str(tmp_path / "wb")},
                      pilot=data_pilot([Distillers], use_entrypoints=False))
    m = res.metrics
    assert m["after"]["kl"] < m["before"]["kl"]
    assert len(res.student.model.model.layers) == 2 and len(hf_smollm2.model.model.layers) == 30  # teacher untouched
    assert (tmp_path / "wb" / "config.json").is_file()


def test_whitebox_errors(hf_smollm2):
    class Other:
        vocab_size = 10
        model_id = "other"

        def encode(self, text):
            return [1]

    with pytest.raises(InputError, match="same tokenizer"):
        check_same_tokenizer(hf_smollm2, Other())
    with pytest.raises(InputError, match="out of range"):
        truncated_copy(hf_smollm2, 99)
    with pytest.raises(WhiteBoxRequiredError):
        run_distill("whitebox", ["some text"], teacher=FakeModel(), student="truncate:2",
                    pilot=data_pilot([Distillers], use_entrypoints=False))
    with pytest.raises(InputError, match="no installed plugin distills task 'nope'"):
        run_distill("nope", ["x"], pilot=data_pilot([Distillers], use_entrypoints=False))


def test_generation_distill_black_box_teacher(hf_smollm2):
    teacher = FakeModel(responses=lambda msgs: "Paris." if "France" in msgs[-1]["content"] else "Berlin.")
    student = truncated_copy(hf_smollm2, 2)
    res = distill_generation(["What is the capital of France?", "What is the capital of Germany?"], teacher, student,
                             steps=4, lr=1e-3)
    m = res.metrics
    assert m["heldout_mean_logprob_after"] > m["heldout_mean_logprob_before"]
    assert [r["response"] for r in res.records] == ["Paris.", "Berlin."]
    assert res.records[0]["provenance"]["model"] == "fake"


def test_finetune_student_trains_saves_and_loads(bbc_small, tmp_path):
    recs = [r for i, r in enumerate(bbc_small) if i % 8 == 0]
    clf = TextClassifier(sorted({r["label"] for r in recs}), mode="finetune", max_length=32)
    clf.fit([r["text"] for r in recs], [r["label"] for r in recs], epochs=1, batch_size=5)
    probs = clf.predict_proba([recs[0]["text"]])
    assert probs.shape == (1, 5) and abs(float(probs.sum()) - 1) < 1e-5
    clf.save(tmp_path / "ft")
    again = TextClassifier.load(tmp_path / "ft")
    assert again.mode == "finetune" and abs(float(again.predict_proba([recs[0]["text"]])[0, 0] - probs[0, 0])) < 1e-5

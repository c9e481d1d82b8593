"""`pilotfish train verifier` writes a standard checkpoint; `pilotfish eval verify` reports on it."""

import json
import random

from pilotfish.data.articles import load_articles
from pilotfish.data.claims import synthesize


def test_checkpoint_is_standard(tiny_verifier):
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config = AutoConfig.from_pretrained(tiny_verifier)
    assert config.id2label == {0: "entailment", 1: "neutral", 2: "contradiction"}
    AutoModelForSequenceClassification.from_pretrained(tiny_verifier)
    stats = json.loads((tiny_verifier / "pilotfish_verifier.json").read_text())
    assert stats["steps"] >= 1 and stats["train_examples"] >= 12


def test_synthesis_covers_the_error_kinds(tiny_corpus):
    data = synthesize(load_articles(tiny_corpus), 300, seed=3)
    labels = {e.label for e in data}
    kinds = {e.kind for e in data}
    assert labels == {"supported", "contradicted", "unsupported"}
    assert {"number", "entity", "negation", "cause", "added-detail", "joined"} <= kinds
    for e in data:
        if e.label != "supported":
            assert e.claim.lower() not in e.context.lower()


def _claims_file(tmp_path, tiny_corpus):
    # a small labelled file made from the tiny corpus (never the dev set)
    rows = [{"context": e.context, "claim": e.claim, "label": e.label}
            for e in synthesize(load_articles(tiny_corpus), 9, seed=7)]
    random.Random(0).shuffle(rows)
    path = tmp_path / "claims.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return path


def test_eval_verify_json(cli_runner, tiny_verifier, tiny_corpus, tmp_path):
    path = _claims_file(tmp_path, tiny_corpus)
    result = cli_runner("eval", "verify", "--claims", str(path), "--model", str(tiny_verifier), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"auroc", "balanced_accuracy", "macro_f1", "per_label", "claims_per_s"}
    assert set(report["per_label"]) == {"supported", "contradicted", "unsupported"}
    assert {"precision", "recall"} <= set(report["per_label"]["supported"])
    assert 0 <= report["auroc"] <= 1 and report["claims_per_s"] > 0
    text = cli_runner("eval", "verify", "--claims", str(path), "--model", str(tiny_verifier), "--threshold", "0.4")
    assert "fixed at 0.4" in text.output and "AUROC" in text.output


def test_eval_and_train_bad_input(cli_runner, tmp_path, tiny_verifier):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"context": "a", "claim": "b", "label": "maybe"}\n')
    result = cli_runner("eval", "verify", "--claims", str(bad), "--model", str(tiny_verifier))
    assert result.exit_code == 1 and "label 'maybe'" in result.output
    result = cli_runner("eval", "verify", "--claims", str(tmp_path / "none.jsonl"), "--model", str(tiny_verifier))
    assert result.exit_code == 1 and "does not exist" in result.output
    result = cli_runner("train", "verifier", "--corpus", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1 and "does not exist" in result.output


def test_cross_fitted_threshold_is_averaged_over_repeated_halvings():
    import numpy as np
    import pytest

    from pilotfish.core.errors import InputError
    from pilotfish.verifiers.evaluate import metrics

    rng = random.Random(0)
    gold = [rng.choice(["supported", "contradicted", "unsupported"]) for _ in range(60)]
    p_sup = [min(1.0, max(0.0, (0.6 if g == "supported" else 0.3) + rng.gauss(0, 0.25))) for g in gold]
    p_con = [rng.random() * (1 - p) for p in p_sup]
    singles = [metrics(gold, p_sup, p_con, 1.0, seed=s, repeats=1) for s in range(10)]
    assert len({r["balanced_accuracy"] for r in singles}) > 1  # one halving alone is noisy
    mean = metrics(gold, p_sup, p_con, 1.0)
    assert mean["balanced_accuracy"] == pytest.approx(np.mean([r["balanced_accuracy"] for r in singles]), abs=1e-3)
    assert mean["macro_f1"] == pytest.approx(np.mean([r["macro_f1"] for r in singles]), abs=1e-3)
    lo, hi = mean["_spread"]["balanced_accuracy"]
    assert lo == min(r["balanced_accuracy"] for r in singles) and hi == max(r["balanced_accuracy"] for r in singles)
    assert "mean of 10 random halvings" in mean["_threshold"]
    fixed = metrics(gold, p_sup, p_con, 1.0, threshold=0.45)
    assert fixed["_threshold"] == "fixed at 0.45" and fixed["_spread"]["balanced_accuracy"][0] == fixed["balanced_accuracy"]
    with pytest.raises(InputError, match="repeats"):
        metrics(gold, p_sup, p_con, 1.0, repeats=0)


def test_auroc_by_error_compares_the_supported_claims_with_each_kind():
    from pilotfish.verifiers.evaluate import metrics

    gold = ["supported"] * 3 + ["contradicted"] * 2 + ["unsupported"] * 2
    errors = [None] * 3 + ["number"] * 2 + ["fabricated-detail"] * 2
    # the number errors score below every supported claim; the fabricated details above them
    p_sup = [0.6, 0.7, 0.8, 0.1, 0.2, 0.9, 0.95]
    report = metrics(gold, p_sup, [0.0] * 7, 1.0, errors=errors)
    assert report["auroc_by_error"] == {"fabricated-detail": 0.0, "number": 1.0}
    assert "auroc_by_error" not in metrics(gold, p_sup, [0.0] * 7, 1.0)

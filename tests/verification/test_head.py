"""The calibrated head: alignment and fact-check features on the real MiniLM, fit, storage, use."""

import json

import numpy as np
import pytest

from pilotfish.core.errors import ModelError
from pilotfish.data.articles import load_articles
from pilotfish.data.claims import synthesize
from pilotfish.verifiers.head import FEATURES, HEAD_FILE, Featurizer, VerifierHead

PREMISE = ("Spokesman Alan Jones said he expected 150,000 shoppers to have visited by the end of Saturday. "
           "Our sales so far have been 2% up on the same time last year, he said.")


def _f(claim, premise=PREMISE):
    row = Featurizer()([premise], [claim], np.array([[0.4, 0.3, 0.3]]))[0]
    return dict(zip(FEATURES, row, strict=True))


def test_features_see_swapped_numbers_added_clauses_and_negation():
    plain = _f("Alan Jones said sales had been 2% up on the same time last year.")
    number = _f("Alan Jones said sales had been 5% up on the same time last year.")
    added = _f("Alan Jones said sales had been 2% up on the same time last year, thanks to a boom in toy "
               "sales in Scotland.")
    negated = _f("Alan Jones said sales had not been up on the same time last year.")
    assert plain["novel_numbers"] == 0 and plain["number_swapped"] == 0
    assert number["novel_numbers"] == 1 and number["number_swapped"] == 1
    assert added["run_below_0.7"] > plain["run_below_0.7"]
    assert added["sim_min3"] < plain["sim_min3"]
    assert negated["negation_mismatch"] == 1 and plain["negation_mismatch"] == 0
    assert plain["log_p_entailment"] == pytest.approx(np.log(0.4), abs=1e-5)


def test_features_read_aliases_number_words_and_negation_on_both_sides():
    premise = ("The Tories say six government units would be scrapped. Ministers would not normally "
               "approve the leave, the Scottish Executive said.")
    alias = _f("The Conservatives say six government units would be scrapped.", premise)
    digits = _f("The Tories say 6 government units would be scrapped.", premise)
    swapped = _f("The Tories say eight government units would be scrapped.", premise)
    negated = _f("Ministers would not normally approve the leave.", premise)
    assert alias["novel_names"] == 0 and alias["name_swapped"] == 0  # an alias, not a new name
    assert _f("The Liberal Democrats say six government units would be scrapped.", premise)["novel_names"] >= 2
    assert digits["novel_numbers"] == 0 and digits["shared_numbers"] == 1  # "6" = "six"
    assert swapped["novel_numbers"] == 1 and swapped["number_swapped"] == 1
    # a negation the premise also has is no mismatch (and its mere presence is not a feature)
    assert negated["negation_mismatch"] == 0 and "has_negation" not in FEATURES


def test_head_learns_synthetic_claims_and_round_trips(tiny_corpus, tiny_verifier, tmp_path):
    from pilotfish.verifiers.nli import NLIModel

    nli = NLIModel(tiny_verifier, head=False)
    data = synthesize(load_articles(tiny_corpus), 240, seed=11)
    prem, claims = [e.context for e in data], [e.claim for e in data]
    x = nli.features(prem, claims, nli.predict(prem, claims))
    y = np.array([{"supported": 0, "unsupported": 1, "contradicted": 2}[e.label] for e in data])
    head = VerifierHead.fit(x[:180], y[:180], l2=3.0)
    acc = float((head.predict_proba(x[180:]).argmax(1) == y[180:]).mean())
    assert acc > 0.55, acc  # chance is 1/3; the tiny cross-encoder alone is near chance
    head.save(tmp_path)
    again = VerifierHead.load(tmp_path)
    assert np.allclose(again.predict_proba(x[180:]), head.predict_proba(x[180:]), atol=1e-6)
    assert VerifierHead.load(tmp_path / "nowhere") is None
    data = json.loads((tmp_path / HEAD_FILE).read_text())
    data["features"] = data["features"][:-1]
    (tmp_path / HEAD_FILE).write_text(json.dumps(data))
    with pytest.raises(ModelError, match="other features.*--head-only --out"):
        VerifierHead.load(tmp_path)
    with pytest.raises(ValueError, match="shape"):
        VerifierHead.fit(x[:, :3], y)


def test_trained_verifier_carries_a_head_that_changes_the_scores(tiny_verifier):
    from pilotfish.verifiers.nli import NLIModel

    assert (tiny_verifier / HEAD_FILE).is_file()
    stats = json.loads((tiny_verifier / "pilotfish_verifier.json").read_text())
    assert stats["head"]["examples"] == 60
    with_head, without = NLIModel(tiny_verifier), NLIModel(tiny_verifier, head=False)
    assert with_head.head is not None and without.head is None
    prem = [PREMISE] * 2
    claims = ["Alan Jones said sales were 2% up.", "Alan Jones said sales were 9% down."]
    p_head, p_raw = with_head.predict(prem, claims), without.predict(prem, claims)
    assert p_head.shape == (2, 3) and np.allclose(p_head.sum(1), 1, atol=1e-5)
    assert not np.allclose(p_head, p_raw)
    assert np.allclose(with_head.predict(prem, claims, raw=True), p_raw, atol=1e-6)


def test_head_only_refits_and_bad_input(cli_runner, tiny_corpus, tiny_verifier, tmp_path):
    import shutil

    copy = tmp_path / "v"
    shutil.copytree(tiny_verifier, copy)
    (copy / HEAD_FILE).unlink()
    result = cli_runner("train", "verifier", "--corpus", str(tiny_corpus), "--out", str(copy), "--head-only",
                        "--head-examples", "45", "--quiet")
    assert result.exit_code == 0, result.output
    assert "head written to" in result.output and (copy / HEAD_FILE).is_file()
    result = cli_runner("train", "verifier", "--corpus", str(tiny_corpus), "--out", str(tmp_path / "empty"),
                        "--head-only", "--quiet")
    assert result.exit_code == 1 and "needs a checkpoint" in result.output

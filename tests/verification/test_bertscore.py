import pytest

import pilotfish
from pilotfish.eval import bertscore
from pilotfish.verifiers.bertscore import BERTScoreVerifier

CANDS = ["Profits rose 76% to $1.13bn.", "He resigned on Friday after the vote.", "The cat sat on the mat."]
REFS = ["Quarterly profits jumped 76% to $1.13bn in the three months to December.", "The minister quit.",
        "A cat was sitting on the mat."]


@pytest.mark.parametrize("idf", [False, True])
def test_matches_bert_score_package(idf):
    bert_score = pytest.importorskip("bert_score")
    from pilotfish.models.packaged import minilm_path

    ours = bertscore(CANDS, REFS, model="minilm", idf=idf)
    P, R, F = bert_score.score(CANDS, REFS, model_type=str(minilm_path()), num_layers=6, idf=idf)
    for a, b in zip(ours.precision + ours.recall + ours.f1, list(P) + list(R) + list(F), strict=True):
        assert abs(a - float(b)) < 0.01


def test_rescale_and_bad_input():
    raw = bertscore(CANDS[:1], REFS[:1])
    scaled = bertscore(CANDS[:1], REFS[:1], rescale_with_baseline=True, baseline=(0.5, 0.5, 0.5))
    assert scaled.f1[0] == pytest.approx((raw.f1[0] - 0.5) / 0.5)
    with pytest.raises(pilotfish.InputError, match="2 candidates but 1"):
        bertscore(CANDS[:2], REFS[:1])
    with pytest.raises(pilotfish.InputError, match="lists"):
        bertscore("a", "b")


def test_verifier_plugin():
    v = BERTScoreVerifier(threshold=0.7)
    req = pilotfish.Request("q", metadata={"reference": "A cat was sitting on the mat."})
    (good,) = v.verify(req, "The cat sat on the mat [1].")
    (bad,) = v.verify(req, "Stock markets fell sharply in Tokyo.")
    assert good.passed and not bad.passed and good.score > bad.score
    assert v.verify(pilotfish.Request("q"), "anything") is None

"""The entailment verifier on a tiny verifier trained here: mechanics, windowing, bad input."""

import pytest

import pilotfish
from pilotfish.verifiers.entailment import EntailmentVerifier
from pilotfish.verifiers.nli import load_nli
from pilotfish.verifiers.scoring import make_windows

LABELS = {"supported", "contradicted", "unsupported"}


def test_claim_verdicts_with_evidence(tiny_verifier, bbc_passages):
    docs = bbc_passages[:3]
    first = docs[1].text.split(". ")[0] + "."
    v = EntailmentVerifier(model=str(tiny_verifier))
    verdicts = v.check(f"{first} [2] The moon is made of cheese [1].", docs)
    assert len(verdicts) == 2
    assert verdicts[0].claim == first and verdicts[1].claim == "The moon is made of cheese."
    for verdict in verdicts:
        assert verdict.verifier == "entailment" and verdict.label in LABELS
        assert 0.0 <= verdict.score <= 1.0
        assert verdict.passed == (verdict.label == "supported")
        assert verdict.document_id in {d.id for d in docs}
        assert verdict.evidence and verdict.evidence in " ".join(d.text for d in docs)


def test_no_context_every_claim_unsupported(tiny_verifier):
    verdicts = EntailmentVerifier(model=str(tiny_verifier)).check("Sales rose 5%. Profits fell.", [])
    assert [(x.label, x.passed) for x in verdicts] == [("unsupported", False)] * 2
    assert "no retrieved context" in verdicts[0].message


def test_empty_answer(tiny_verifier):
    verdicts = EntailmentVerifier(model=str(tiny_verifier)).check("   ", [pilotfish.Document("a", "Sales rose.")])
    assert len(verdicts) == 1 and not verdicts[0].passed and "empty" in verdicts[0].message


def test_long_passage_is_windowed(tiny_verifier, bbc_passages):
    nli = load_nli(str(tiny_verifier), max_length=64)
    long_doc = pilotfish.Document("long", " ".join(d.text for d in bbc_passages[:6]))
    windows = make_windows([long_doc], nli)
    assert len(windows) > 2
    assert all(nli.count_tokens(w.text) <= 64 or len(w.sentences) == 1 for w in windows)
    # one window per claim: the most overlapping one, so the evidence is the claim's own sentence
    v = EntailmentVerifier(model=str(tiny_verifier), max_length=64, max_windows=1)
    target = bbc_passages[5].text.split(". ")[0] + "."
    (verdict,) = v.check(target, [long_doc])
    assert verdict.document_id == "long"
    assert verdict.evidence and verdict.evidence.rstrip(".") in bbc_passages[5].text


def test_through_pilot_and_config_errors(tiny_verifier, make_pilot, bbc_passages):
    class Docs:
        @pilotfish.hookimpl
        def retrieve(self, request, k):
            return bbc_passages[:2]

    pilot = make_pilot(Docs(), EntailmentVerifier(model=str(tiny_verifier)),
                       model=pilotfish.FakeModel(["Sales rose [1]. Costs fell [2]."]), max_repair_rounds=0)
    answer = pilot.run("what happened?")
    assert [v.claim for v in answer.verdicts] == ["Sales rose.", "Costs fell."]
    with pytest.raises(pilotfish.ConfigError, match="threshold"):
        EntailmentVerifier(threshold=2)


def test_missing_or_undertrained_verifier_says_how_to_train(tmp_path, monkeypatch):
    import json

    from pilotfish.models.cache import default_verifier_path

    monkeypatch.setenv("PILOTFISH_CACHE", str(tmp_path))
    with pytest.raises(pilotfish.ModelError, match="pilotfish train verifier --corpus"):
        EntailmentVerifier(model="").check("Sales rose.", [pilotfish.Document("a", "Sales rose.")])
    # a verifier whose run was cut short (it recorded 0.46) is refused, never used silently
    path = default_verifier_path()
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / "pilotfish_verifier.json").write_text(json.dumps({"synthetic_val_accuracy": 0.46}))
    with pytest.raises(pilotfish.ModelError, match=r"held-out accuracy of 0.46 \(quality floor 0.7\).*pilotfish train "
                                                   r"verifier --corpus bbc"):
        EntailmentVerifier(model="").check("Sales rose.", [pilotfish.Document("a", "Sales rose.")])
    # auto: the large model judges instead
    assert EntailmentVerifier().judge_model() == "qwen2.5-1.5b"

"""Repair plugins: host logic with a fake model, then end to end with real models."""

import random

import pytest

import pilotfish
from pilotfish.data.contradictions import change_number
from pilotfish.plugins.repair import REFUSAL, DropUnsupported, Refuse, Regenerate, drop_failed_sentences
from pilotfish.verifiers.entailment import EntailmentVerifier
from pilotfish.verifiers.validators import CitationsValidator

from .conftest import MiniLMRetriever


class KeywordVerifier:
    """Host-logic stand-in: a claim passes when it contains no word from ``bad``."""

    name = "keyword"

    def __init__(self, bad):
        self.bad = bad

    @pilotfish.hookimpl
    def verify(self, text):
        from pilotfish.verifiers.claims import split_claims

        return [pilotfish.Verdict("keyword", not any(b in c.text for b in self.bad), claim=c.text, span=c.span,
                                  label="supported" if not any(b in c.text for b in self.bad) else "unsupported",
                                  evidence="Sales rose 2%.")
                for c in split_claims(text)]


def test_drop_keeps_the_rest_and_citations(make_pilot):
    pilot = make_pilot(KeywordVerifier(["5%"]), DropUnsupported(),
                       model=pilotfish.FakeModel(["Sales rose 5% [1]. Costs fell [2]."]))
    answer = pilot.run("q")
    assert answer.text == "Costs fell [2]."
    assert answer.passed and len(answer.repairs) == 1
    r = answer.repairs[0]
    assert r.plugin == "drop-unsupported" and r.action == "drop" and r.failed[0].claim == "Sales rose 5%."
    assert r.before == "Sales rose 5% [1]. Costs fell [2]."


def test_drop_everything_refuses(make_pilot):
    pilot = make_pilot(KeywordVerifier(["Sales"]), DropUnsupported(), model=pilotfish.FakeModel(["Sales rose 5%."]))
    answer = pilot.run("q")
    assert answer.text == REFUSAL and answer.repairs[0].action == "refuse"


def test_drop_leaving_only_a_citation_refuses(make_pilot):
    # a marker after the last full stop is not part of the sentence's span: dropping the sentence leaves "[2]"
    model = pilotfish.FakeModel(["Sales rose 5%, however. [2]"])
    answer = make_pilot(KeywordVerifier(["5%"]), DropUnsupported(), model=model).run("q")
    assert answer.text == REFUSAL and answer.repairs[0].action == "refuse" and answer.refused


def test_regenerate_names_claims_and_quotes_evidence(make_pilot):
    model = pilotfish.FakeModel(["Sales rose 5%.", "Sales rose 2%."])
    pilot = make_pilot(KeywordVerifier(["5%"]), Regenerate(), model=model)
    answer = pilot.run("how did sales do?")
    assert answer.text == "Sales rose 2%." and answer.passed
    assert answer.repairs[0].action == "regenerate"
    feedback = model.calls[1][-1]["content"]
    assert "Sales rose 5%." in feedback and '"Sales rose 2%."' in feedback
    assert model.calls[1][-2] == {"role": "assistant", "content": "Sales rose 5%."}


def test_regenerate_falls_back_to_refusal_on_the_last_round(make_pilot):
    model = pilotfish.FakeModel(["Sales rose 5%."])
    answer = make_pilot(KeywordVerifier(["5%"]), Regenerate(), model=model, max_repair_rounds=2).run("q")
    assert [r.action for r in answer.repairs] == ["regenerate", "refuse"]
    assert answer.text == REFUSAL


def test_refuse_and_validator_failures_without_spans(make_pilot):
    answer = make_pilot(CitationsValidator(), Refuse(), model=pilotfish.FakeModel(["No sources here."])).run("q")
    assert answer.text == REFUSAL and answer.repairs[0].plugin == "refuse"
    assert drop_failed_sentences("A. B.", [pilotfish.Verdict("x", False, message="bad json")]) == ("A. B.", [])


class InjectError:
    """Generates with the real routed model, then adds one sentence of the top passage with a
    number changed: a known factual error in an otherwise real answer."""

    name = "inject-error"

    def __init__(self):
        self.injected = None
        self.correct = None

    @pilotfish.hookimpl
    def generate(self, request, messages, model, pilot):
        gen = model.generate(messages, max_tokens=8, temperature=0.0)
        docs = pilot.retrieve(request)
        for sentence in docs[0].text.split(". "):
            wrong = change_number(sentence.rstrip(".") + ".", random.Random(0))
            if wrong:
                self.correct, self.injected = sentence.rstrip(".") + ".", wrong
                break
        assert self.injected, "the top passage has no number"
        gen.text = f"{self.injected} [1]"
        return gen


def _pilot(docs, verifier_path, repair):
    injector = InjectError()
    pilot = pilotfish.Pilot(model="smollm2-135m", plugins=[MiniLMRetriever(docs), injector,
                            EntailmentVerifier(model=str(verifier_path)), repair],
                            use_entrypoints=False, top_k=2, max_repair_rounds=1)
    return pilot, injector


@pytest.mark.real
def test_injected_error_is_flagged_and_dropped_or_refused(tiny_verifier, bbc_passages):
    # real model, real retrieval, real (tiny) verifier: the injected claim must fail and be repaired
    pilot, injector = _pilot(bbc_passages, tiny_verifier, DropUnsupported())
    question = "How much did quarterly profits at Time Warner rise?"
    answer = pilot.run(question)
    flagged = [v for v in answer.repairs[0].failed if v.claim == injector.injected] if answer.repairs else []
    first = pilot.hooks.verify(answer.request, injector.injected, answer.documents, pilot)
    if all(v.passed for v in first):
        pytest.fail(f"the tiny verifier passed the injected error {injector.injected!r}")
    assert flagged, answer.repairs
    assert injector.injected not in answer.text
    assert answer.repairs[0].action in ("drop", "refuse")


@pytest.fixture(scope="module")
def small_verifier(tiny_corpus, tmp_path_factory, cli_runner):
    """A verifier trained here for the quality check: more claims than ``tiny_verifier`` (which only
    checks the mechanics) and a calibrated head, still under a minute on one CPU core."""
    out = tmp_path_factory.mktemp("verifier") / "small"
    result = cli_runner("train", "verifier", "--corpus", str(tiny_corpus), "--out", str(out), "--examples", "320",
                        "--batch-size", "16", "--head-examples", "400", "--seed", "0", "--quiet")
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.real
def test_trained_verifier_tells_the_error_from_the_fact(small_verifier, bbc_passages):
    # quality on a verifier this test trains (never skipped: a low score is a failure)
    pilot, injector = _pilot(bbc_passages, small_verifier, Refuse())
    answer = pilot.run("How much did quarterly profits at Time Warner rise?")
    assert answer.repairs and answer.repairs[0].failed[0].claim == injector.injected
    assert answer.text == REFUSAL
    ok = EntailmentVerifier(model=str(small_verifier)).check(injector.correct, answer.documents)
    assert ok[0].passed, ok[0]
    assert ok[0].score > answer.repairs[0].failed[0].score

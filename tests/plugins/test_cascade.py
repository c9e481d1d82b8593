"""The cascade generate strategy: small model first, escalation on low confidence."""

from __future__ import annotations

import pytest

import pilotfish
from pilotfish import FakeModel, Pilot, Verdict, hookimpl
from pilotfish.plugins.cascade import Cascade


def pilots(threshold, small_logprob, **opts):
    small = FakeModel(["small answer"], model_id="small", logprob=small_logprob)
    large = FakeModel(["large answer"], model_id="large")
    plugin = Cascade(small="small-model", threshold=threshold, **opts)
    pilot = Pilot(model=large, plugins=[plugin], use_entrypoints=False)
    pilot._cache["model:small"] = small
    # the plugin resolves models through the pilot: make the small id resolve to our fake
    pilot.get_model = lambda m=None: {"small-model": small, None: large}.get(m, large)
    return pilot


def test_confident_small_answer_is_kept():
    answer = pilots(threshold=-1.0, small_logprob=-0.2).run("q")
    assert answer.text == "small answer"
    meta = answer.generation.metadata["cascade"]
    assert meta["escalated"] is False and meta["confidence"] == pytest.approx(-0.2)
    assert set(answer.usage.models) == {"small"}


def test_low_confidence_escalates_to_the_large_model():
    answer = pilots(threshold=-1.0, small_logprob=-2.5).run("q")
    assert answer.text == "large answer"
    meta = answer.generation.metadata["cascade"]
    assert meta["escalated"] and "mean_logprob -2.500 < -1.0" in meta["reason"]
    assert set(answer.usage.models) == {"small", "large"}


def test_verifiers_as_confidence_signal():
    class RejectSmall:
        @hookimpl
        def verify(self, text):
            return [Verdict("reject-small", passed="small" not in text)]

    pilot = pilots(threshold=-5.0, small_logprob=-0.1, use_verifiers=True)
    pilot.pm.register(RejectSmall(), name="reject-small")
    answer = pilot.run("q")
    assert answer.text == "large answer"
    assert answer.generation.metadata["cascade"]["reason"] == "1 verdict(s) failed"


def test_bad_option():
    with pytest.raises(pilotfish.ConfigError, match="option 'signal'"):
        Cascade(signal="median")


@pytest.mark.real
def test_cascade_on_real_models(smollm2, gemma3):
    keep = Pilot(model="gemma3-270m", plugins=[Cascade(small="smollm2-135m", threshold=-100.0)])
    answer = keep.run("What is the capital of France?", max_tokens=8)
    assert answer.generation.model == "smollm2-135m" and not answer.generation.metadata["cascade"]["escalated"]
    up = Pilot(model="gemma3-270m", plugins=[Cascade(small="smollm2-135m", threshold=0.0)])
    answer = up.run("The Eiffel Tower is in the city of", max_tokens=4)
    assert answer.generation.model == "gemma3-270m" and answer.generation.metadata["cascade"]["escalated"]
    assert answer.usage.models["smollm2-135m"].calls == 1 and answer.usage.models["gemma3-270m"].calls == 1


def test_verifiers_judge_the_small_answer_against_the_retrieved_passages():
    passage = pilotfish.Document("p1", "Lakshmi Mittal runs LNM Holdings.", "business/027", "Steel")
    seen = []

    class Retriever:
        @hookimpl
        def retrieve(self, request, k):
            return [passage]

    class Grounded:
        @hookimpl
        def verify(self, text, documents):
            seen.append(list(documents))
            return [Verdict("grounded", passed=any(text.split()[0] in d.text for d in documents))]

    pilot = pilots(threshold=-5.0, small_logprob=-0.1, use_verifiers=True)
    pilot.pm.register(Retriever(), name="retriever")
    pilot.pm.register(Grounded(), name="grounded")
    answer = pilot.run("Who runs LNM?")
    assert seen[0] == [passage]  # not an empty list: the cascade used to pass none
    assert answer.text == "large answer"  # "small" is not in the passage


def test_a_small_refusal_escalates():
    small = FakeModel(["I cannot answer this from the sources."], model_id="small", logprob=-0.01)
    large = FakeModel(["large answer"], model_id="large")
    pilot = Pilot(model=large, plugins=[Cascade(small="small-model", threshold=-5.0)], use_entrypoints=False)
    pilot.get_model = lambda m=None: {"small-model": small, None: large}.get(m, large)
    answer = pilot.run("q")
    assert answer.text == "large answer"
    assert answer.generation.metadata["cascade"]["reason"] == "the small model refused"

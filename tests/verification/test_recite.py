"""``recite``: cited sentences re-pointed at the passage that holds their answer words (the function, the host
wrapper with a fake model, then a real model's answer)."""

from __future__ import annotations

import re

import pytest

import pilotfish
from pilotfish.core.errors import ConfigError
from pilotfish.verifiers.recite import Recite, recite
from pilotfish.verifiers.validators import CitationsValidator

from .conftest import MiniLMRetriever

DOCS = [pilotfish.Document("a", "Casino Royale was adapted for television in 1954."),
        pilotfish.Document("b", "The actor Barry Nelson played an Americanised Jimmy Bond."),
        pilotfish.Document("c", "Barry Nelson was born in San Francisco.")]
QUESTION = "Which actor played Bond when Casino Royale was adapted for television?"


@pytest.mark.parametrize("text, expected", [
    ("Barry Nelson [1]", "Barry Nelson [2]"),                      # the name is in [2] (and [3]); [2] ranks first
    ("Barry Nelson [2]", "Barry Nelson [2]"),                      # already right
    ("Barry Nelson [3]", "Barry Nelson [3]"),                      # a tie keeps the cited passage
    ("It was Barry Nelson. [1] He was born in San Francisco. [2]",
     "It was Barry Nelson. [2] He was born in San Francisco. [3]"),
    ("Barry Nelson [1, 3].", "Barry Nelson [3]."),                  # [1] holds none of its words: dropped
    ("Barry Nelson was born in San Francisco [2][3].", "Barry Nelson was born in San Francisco [2][3]."),
    ("It was Barry Nelson. See [1], [3].", "It was Barry Nelson. See [3]."),  # stands for the sentence before
    ("It was Barry Nelson. This is stated in [1] and [2].", "It was Barry Nelson. This is stated in [2]."),
    ("Barry Nelson.\n[1]", "Barry Nelson.\n[2]"),                  # a marker on its own line belongs to the sentence
    ("According to [1], Barry Nelson played him [1].", "According to [2], Barry Nelson played him."),
    ("According to [3], Barry Nelson played him [1].", "According to [3], Barry Nelson played him."),
    ("Casino Royale was adapted for television [2].", "Casino Royale was adapted for television [2]."),  # nothing new
    ("Barry Nelson [9]", "Barry Nelson [9]"),                      # no such passage: left to the citations validator
    ("Barry Nelson", "Barry Nelson"),                              # no citation: none is added
    ("The sources do not say.", "The sources do not say."),
])
def test_recite_moves_markers_only(text, expected):
    out, changes = recite(text, QUESTION, DOCS)
    assert out == expected
    assert bool(changes) == (out != text)
    strip = re.compile(r"(\s*(,|and)?\s*\[[\d,\s]+\])+")
    assert strip.sub("", out) == strip.sub("", text)


def test_recite_reports_each_change_and_numbers_compare_by_value():
    docs = [pilotfish.Document("a", "Mittal's firm employs 50000 people in Kazakhstan."),
            pilotfish.Document("b", "The steel company is based in London.")]
    out, changes = recite("It employs 50,000 people [2].", "How many does the steel company employ?", docs)
    assert out == "It employs 50,000 people [1]."
    assert changes == [{"sentence": 0, "from": [2], "to": [1]}]
    assert recite("x [1]", "q", []) == ("x [1]", [])


class KeepRaw:
    """A ``generate`` wrapper listed before ``recite``, so inside it: it sees the model's own text."""

    name = "keep-raw"

    def __init__(self):
        self.texts: list[str] = []

    @pilotfish.hookimpl(wrapper=True)
    def generate(self, request, messages, model, on_token, pilot):
        gen = yield
        self.texts.append(gen.text)
        return gen


class Passages:
    name = "passages"

    @pilotfish.hookimpl
    def retrieve(self, request, k):
        return DOCS[:k]


def test_the_wrapper_fixes_first_answers_and_regenerations_before_verification(make_pilot):
    model = pilotfish.FakeModel(["Barry Nelson [1]"])
    keep = KeepRaw()
    pilot = make_pilot(Passages(), keep, Recite(), CitationsValidator(), model=model)
    answer = pilot.run(QUESTION)
    assert keep.texts == ["Barry Nelson [1]"]
    assert answer.text == "Barry Nelson [2]"
    assert answer.generation.metadata["recite"] == {"before": "Barry Nelson [1]",
                                                     "changes": [{"sentence": 0, "from": [1], "to": [2]}]}
    assert answer.passed
    # without passages (no retriever) the answer is left alone
    bare = make_pilot(Recite(), model=pilotfish.FakeModel(["Barry Nelson [1]"])).run(QUESTION)
    assert bare.text == "Barry Nelson [1]" and "recite" not in bare.generation.metadata


def test_recite_takes_no_options():
    with pytest.raises(ConfigError, match="unknown option"):
        Recite({"threshold": 0.5})


@pytest.mark.real
def test_a_real_models_answer_keeps_its_words_and_cites_the_passage_with_its_answer(bbc_passages):
    """Qwen2.5-1.5B (the default large model, which cites; SmolLM2 does not) answers from real retrieval. After
    ``recite`` the text differs from the model's at most in its markers, and every sentence's citation points at
    a passage holding at least as many of its answer words as the model's own choice."""
    from pilotfish.verifiers.claims import split_claims
    from pilotfish.verifiers.scoring import content_words

    keep = KeepRaw()
    question = "How much did quarterly profits at Time Warner rise?"
    pilot = pilotfish.Pilot(model="qwen2.5-1.5b", plugins=[MiniLMRetriever(bbc_passages), keep, Recite()],
                            use_entrypoints=False, top_k=3)
    answer = pilot.run(question, max_tokens=96, temperature=0.0)
    raw = keep.texts
    assert raw, "the model was not called"
    assert re.search(r"\[\d", raw[0]), f"the model cited nothing: {raw[0]!r}"
    strip = re.compile(r"(\s*(,|and)?\s*\[[\d,;\s-]+\])+")
    assert strip.sub("", answer.text) == strip.sub("", raw[0])
    docs = [content_words(d.text) for d in answer.documents]
    asked = content_words(question)
    for before, after in zip(split_claims(raw[0]), split_claims(answer.text), strict=True):
        own = content_words(after.text) - asked
        valid = [n for n in before.citations if 1 <= n <= len(docs)]
        if not own or not valid:
            continue
        held = max(len(own & docs[n - 1]) for n in valid)
        assert max(len(own & docs[n - 1]) for n in after.citations) >= held

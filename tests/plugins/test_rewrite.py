"""Query rewriting: the ``rewrite`` plugin writes search queries with a real small model; the host fuses
the searches; the question the large model sees stays the user's."""

from __future__ import annotations

import pytest

import pilotfish
from pilotfish import Document, FakeModel, Pilot, Request, hookimpl
from pilotfish.plugins.rewrite import Rewrite

HISTORY = [{"role": "user", "content": "Which company did Lakshmi Mittal run?"},
           {"role": "assistant", "content": "He ran LNM Holdings [1]."}]


class Searches:
    """A retriever that records every query it was asked and finds one passage per query."""

    def __init__(self):
        self.queries = []

    @hookimpl
    def retrieve(self, request, k):
        self.queries.append(request.search_query)
        n = len(self.queries)
        return [Document(f"p{n}", f"passage for {request.search_query}", f"doc/{n}")]


def test_host_searches_every_query_and_fuses():
    searches = Searches()
    model = FakeModel(["ok"])
    pilot = Pilot(model=model, plugins=[searches], use_entrypoints=False)
    request = pilot.make_request("original question").replace(queries=("second query", "third query"))
    answer = pilot.run(request)
    assert searches.queries == ["original question", "second query", "third query"]
    assert {d.id for d in answer.documents} == {"p1", "p2", "p3"}
    assert model.calls[-1][-1]["content"] == "original question"  # the model sees the user's question


@pytest.mark.real
def test_standalone_rewrite_names_what_the_follow_up_refers_to(smollm2):
    pilot = Pilot(model=FakeModel(["ok"]), use_entrypoints=False)
    request = pilot.make_request([*HISTORY, {"role": "user", "content": "How many jobs did it plan to cut?"}])
    out = Rewrite(model="smollm2-135m").before_prompt(request, pilot)
    assert out is not None and out.question == "How many jobs did it plan to cut?"
    assert "LNM" in out.query or "Mittal" in out.query, out.query
    assert out.metadata["rewrite"]["written"] == [out.query]
    assert out.queries == ("Which company did Lakshmi Mittal run? How many jobs did it plan to cut?",)
    # a first turn has nothing to resolve: standalone mode leaves it alone
    assert Rewrite(model="smollm2-135m").before_prompt(pilot.make_request("Who runs LNM?"), pilot) is None


@pytest.mark.real
def test_multi_and_hyde_add_searches(smollm2):
    pilot = Pilot(model=FakeModel(["ok"]), use_entrypoints=False)
    request = pilot.make_request("Which steel company did Lakshmi Mittal run?")
    for mode in ("multi", "hyde"):
        out = Rewrite(model="smollm2-135m", mode=mode).before_prompt(request, pilot)
        assert out is not None and out.queries and all(q.strip() for q in out.queries), mode
        assert out.query is None  # the question's own search stays (keep_question)


def test_bad_input_is_clear():
    with pytest.raises(pilotfish.ConfigError, match="mode"):
        Rewrite(mode="paraphrase")
    with pytest.raises(pilotfish.ConfigError, match="n"):
        Rewrite(n=0)
    pilot = Pilot(model=FakeModel(["ok"]), use_entrypoints=False)
    with pytest.raises(pilotfish.PilotfishError, match="question is empty"):
        Rewrite().before_prompt(Request(question="  "), pilot)

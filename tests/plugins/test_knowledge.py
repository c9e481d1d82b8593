"""``knowledge`` (issue 15, item 5): a small domain model's card, with its source, in the prompt of a model
that has no retrieval of its own. Real index (bm25 + dense MiniLM), real SmolLM2 on llama.cpp as the domain
model; the large model is a recording fake (what it is shown is under test). The reader as the domain model is
tested in tests/readers/test_reader.py."""

from __future__ import annotations

from pathlib import Path

import pytest

ARTICLES = {
    "steel.txt": "Steel giant merges\n\nLakshmi Mittal, who runs LNM Holdings, agreed to buy International Steel "
                 "Group. The deal creates the world's largest steel maker.",
    "film.txt": "Aviator wins at Baftas\n\nThe Aviator won best film at the Bafta awards in London on Saturday. "
                "Martin Scorsese directed the film about Howard Hughes.",
    "rail.txt": "Rail fares rise\n\nRail fares in Britain will rise by an average of 4.4% in January, the train "
                "companies said on Tuesday.",
}


@pytest.fixture(scope="module")
def domain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("domain")
    for name, text in ARTICLES.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_a_card_from_the_domain_reaches_a_model_without_retrieval(domain: Path) -> None:
    from pilotfish import Pilot
    from pilotfish.models.fake import FakeModel
    from pilotfish.plugins.knowledge import Knowledge

    large = FakeModel(["Scorsese."], model_id="remote-large")
    plugin = Knowledge(corpus=str(domain), model="smollm2-135m", k=2, min_confidence=0.0)
    pilot = Pilot(model=large, plugins=[plugin], use_entrypoints=False)
    answer = pilot.run("Who directed The Aviator?")
    info = answer.request.metadata["knowledge"]
    assert info["model"] == "smollm2-135m" and info["card"], info
    assert info["doc_id"] in {"film", "steel", "rail"} and info["passage"].startswith(info["doc_id"] + "#")
    system = large.calls[-1][0]
    assert system["role"] == "system" and "Background knowledge:" in system["content"]
    assert info["card"] in system["content"] and f"({info['doc_id']})" in info["card"]
    assert "smollm2-135m" in answer.usage.models  # the domain model's call is accounted to the answer


def test_no_card_below_the_confidence_floor(domain: Path) -> None:
    from pilotfish import Pilot
    from pilotfish.models.fake import FakeModel
    from pilotfish.plugins.knowledge import Knowledge

    large = FakeModel(["ok"], model_id="remote-large")
    pilot = Pilot(model=large, plugins=[Knowledge(corpus=str(domain), model="smollm2-135m", min_confidence=1.0)],
                  use_entrypoints=False)
    answer = pilot.run("Who directed The Aviator?")
    info = answer.request.metadata["knowledge"]
    assert info["card"] is None and "confidence" in info["reason"]
    assert not any("Background knowledge" in m["content"] for m in large.calls[-1] if m["role"] == "system")


def test_knowledge_needs_exactly_one_domain(domain: Path) -> None:
    from pilotfish import Pilot
    from pilotfish.core.errors import PilotfishError

    with pytest.raises(PilotfishError, match="exactly one"):
        Pilot(model="fake", plugins=["knowledge"], options={"knowledge": {}})
    with pytest.raises(PilotfishError, match="exactly one"):
        Pilot(model="fake", plugins=["knowledge"], options={"knowledge": {"corpus": str(domain), "index": str(domain)}})
    pilot = Pilot(model="fake", plugins=["knowledge"], options={"knowledge": {"corpus": str(domain / "missing")}})
    with pytest.raises(PilotfishError, match="is not a folder"):
        pilot.run("Who directed The Aviator?")

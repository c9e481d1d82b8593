"""specialist:bbc-topic: a MiniLM topic classifier that explains itself (issue 16, item 4)."""

from __future__ import annotations

import numpy as np
import pytest

from pilotfish.core.errors import InputError
from pilotfish.core.types import Request
from pilotfish.specialists.topic import bbc_topic_split


def test_the_split_keeps_excluded_articles_and_their_copies_out() -> None:
    from pilotfish.data.corpora import bbc_records

    by_text: dict[str, list[str]] = {}
    for r in bbc_records():
        by_text.setdefault(" ".join(r["text"].split()), []).append(r["id"])
    copies = next(ids for ids in by_text.values() if len(ids) == 2)
    parts = bbc_topic_split({copies[0], "tech/001"})
    seen = [r["id"] for part in parts.values() for r in part]
    assert copies[0] not in seen and copies[1] not in seen and "tech/001" not in seen
    assert len(seen) == len(set(seen)) < len(by_text) - 2
    # no headline or opening on two sides of the split (the corpus re-publishes some articles with changes)
    for key in (lambda r: r["title"].lower(), lambda r: r["text"][:200]):
        sides = {name: {key(r) for r in part} for name, part in parts.items()}
        assert not (sides["train"] & sides["test"]) and not (sides["train"] & sides["val"])
        assert not (sides["val"] & sides["test"])


def test_topic_specialist_classifies_held_out_articles_and_shows_its_evidence(small_topic, dev_doc_ids) -> None:
    test = bbc_topic_split(dev_doc_ids)["test"][::12][:25]
    preds = small_topic.predict_batch([r["text"] for r in test])
    accuracy = np.mean([p.label == r["label"] for p, r in zip(preds, test, strict=True)])
    assert accuracy >= 0.8, accuracy  # 16 articles per topic: 0.88-0.96 measured
    assert small_topic.measured_accuracy is not None and small_topic.measured_accuracy >= 0.7
    for p, r in zip(preds, test, strict=True):
        assert abs(sum(p.probabilities.values()) - 1) < 1e-4 and p.confidence == max(p.probabilities.values())
        ex = p.explanation
        assert ex["tokens"] and ex["sentences"]
        assert all(t["token"] in r["text"] for t in ex["tokens"])
        assert all(s["sentence"] in r["text"] for s in ex["sentences"])
        assert p.text.splitlines()[0].startswith(p.label)
    # the same labels and probabilities as the plain (unexplained) pass
    plain = small_topic.predict_batch([r["text"] for r in test], explain=False)
    assert [p.label for p in plain] == [p.label for p in preds]
    assert max(abs(a.confidence - b.confidence) for a, b in zip(plain, preds, strict=True)) < 1e-4


def test_the_token_shares_add_up_to_the_logits(small_topic) -> None:
    import torch

    text = "Shares in the steel firm fell 5% after profits dropped. The chief executive resigned."
    probs, [(offsets, shares)] = small_topic._linear_pass([text])
    logits = shares.sum(axis=0) + small_topic.clf.net.bias.detach().numpy()
    expected = torch.softmax(torch.tensor(logits), dim=-1).numpy()
    assert np.allclose(probs[0], expected, atol=1e-5)
    plain = small_topic.predict_batch([text], explain=False)[0]
    assert np.allclose(probs[0], list(plain.probabilities.values()), atol=1e-4)


def test_the_specialist_is_a_model_and_says_what_it_is_for(small_topic, make_pilot) -> None:
    answer = make_pilot(model=small_topic).run("Arsenal beat Chelsea 2-1 in the Premiership on Saturday.")
    meta = answer.generation.metadata["specialist"]
    assert answer.text.startswith("sports") and meta["label"] == "sports"
    assert meta["explanation"]["tokens"] and meta["measured_accuracy"] == small_topic.measured_accuracy
    assert answer.usage.models[small_topic.model_id].calls == 1
    assert small_topic.accepts(Request("x", metadata={"task": "bbc-topic"}))
    assert not small_topic.accepts(Request("x", metadata={"task": "tabular:iris"}))


@pytest.mark.parametrize("bad", ["", "   ", None, 3])
def test_bad_topic_input_is_a_clear_error(small_topic, bad) -> None:
    with pytest.raises(InputError, match=r"specialist:bbc-topic: input 0 must be a non-empty text"):
        small_topic.predict_batch([bad])

"""Prompt compression: the ``compress`` hook and the LongLLMLingua-style plugin on real small models."""

from __future__ import annotations

import pytest

import pilotfish
from pilotfish import Document, FakeModel, Pilot, Verdict, hookimpl
from pilotfish.plugins.compress import Compress

PASSAGES = [
    Document("steel#0", "Lakshmi Mittal is the chairman of LNM Holdings, the world's largest steel maker. "
             "The company was founded in Calcutta. Its shares rose on Monday after the merger news. "
             "Analysts said the deal would take months to close.", "business/027", "Steel firm"),
    Document("weather#0", "Heavy rain fell across the north of England on Sunday. Forecasters expect "
             "more showers this week. Farmers said the fields were flooded.", "news/001", "Rain"),
    Document("film#0", "The film won three awards at the festival in Berlin. Its director thanked the cast. "
             "The lead actor was born in Leeds and studied drama in London.", "film/002", "Awards"),
]
QUESTION = "Which company does Lakshmi Mittal chair?"


class FixedRetriever:
    """Returns the same passages for any question (the host logic is under test, not retrieval)."""

    @hookimpl
    def retrieve(self, request, k):
        return list(PASSAGES)


class SeenBy:
    """Records what the prompt and the verifiers were given."""

    def __init__(self):
        self.verified = None

    @hookimpl
    def verify(self, text, documents):
        self.verified = documents
        return [Verdict("seen", passed=True)]


def test_host_keeps_numbers_and_originals():
    class DropSecond:
        @hookimpl
        def compress(self, documents):
            out = [pilotfish.Document(d.id, "" if i == 1 else d.text[:40], d.doc_id, d.title, d.score,
                                      metadata={"compression": {"plugin": "drop", "tokens_before": 40,
                                                                "tokens_after": 0 if i == 1 else 10}})
                   for i, d in enumerate(documents)]
            return out

    model = FakeModel(["Mittal chairs LNM Holdings. [3]"])
    seen = SeenBy()
    pilot = Pilot(model=model, plugins=[FixedRetriever(), DropSecond(), seen], use_entrypoints=False)
    answer = pilot.run(QUESTION)
    prompt = model.calls[-1]
    sources = next(m["content"] for m in prompt if "<sources>" in m["content"])
    assert "[1] (business/027)" in sources and "[3] (film/002)" in sources
    assert "[2]" not in sources  # emptied: left out, but [3] keeps its number
    assert [d.text for d in answer.documents] == [d.text for d in PASSAGES]  # citations resolve to originals
    assert [len(d.text) for d in seen.verified] == [40, 0, 40]  # verifiers check what the model saw
    assert answer.metadata["compression"] == {"plugin": "drop", "tokens_before": 120, "tokens_after": 20, "ratio": 6.0}


def test_compress_must_keep_one_document_per_passage():
    class Bad:
        @hookimpl
        def compress(self, documents):
            return documents[:1]

    pilot = Pilot(model=FakeModel(["x"]), plugins=[FixedRetriever(), Bad()], use_entrypoints=False)
    with pytest.raises(pilotfish.PilotfishError, match="one Document per passage"):
        pilot.run(QUESTION)


@pytest.mark.real
def test_coarse_keeps_the_answer_sentence(smollm2, minilm):
    model = FakeModel(["LNM Holdings. [1]"])
    pilot = Pilot(model=model, plugins=[FixedRetriever(), Compress(ratio=4.0)], use_entrypoints=False)
    pilot.model_for = lambda request: smollm2  # count tokens with a real tokenizer
    answer = pilot.run(QUESTION)
    stats = answer.metadata["compression"]
    assert stats["ratio"] >= 3.0, stats
    sources = next(m["content"] for m in model.calls[-1] if "<sources>" in m["content"])
    assert "LNM Holdings" in sources and "Heavy rain" not in sources
    assert answer.documents[0].text == PASSAGES[0].text


@pytest.mark.real
def test_fine_step_drops_predictable_words_keeps_names(smollm2, minilm):
    plugin = Compress(ratio=6.0, fine="smollm2-135m")
    pilot = Pilot(model=smollm2, plugins=[plugin], use_entrypoints=False)
    out = plugin.compress(pilotfish.Request(question=QUESTION), PASSAGES, pilot)
    kept = " ".join(d.text for d in out)
    assert "LNM Holdings" in kept  # the answer is surprising, so it stays
    before = sum(d.metadata["compression"]["tokens_before"] for d in out)
    after = sum(d.metadata["compression"]["tokens_after"] for d in out)
    assert after <= before / 4, (before, after, kept)
    assert len(kept.split()) < len(" ".join(d.text for d in PASSAGES).split()) / 3


def _guide_order(reader, docs):
    """The sentences of ``docs`` as ``(passage, text)``, best first by the reader's range scores."""
    from pilotfish.retrievers.documents import split_sentences

    sents = [[(s, e) for s, e in split_sentences(d.text)] for d in docs]
    shown = [f"{d.title}: {d.text}" for d in docs]
    shifts = [len(d.title) + 2 for d in docs]
    scores = reader.range_scores(QUESTION, shown, [[(s + k, e + k) for s, e in ss] for ss, k in zip(sents, shifts, strict=False)])
    flat = [(sc, p, d.text[s:e]) for p, (d, ss, scs) in enumerate(zip(docs, sents, scores, strict=False))
            for (s, e), sc in zip(ss, scs, strict=False)]
    return [(p, t) for _, p, t in sorted(flat, key=lambda x: -x[0])], [(p, d.text[s:e]) for p, (d, ss) in
                                                                       enumerate(zip(docs, sents, strict=False)) for s, e in ss]


@pytest.mark.real
def test_the_reader_guide_keeps_its_best_sentence_then_the_one_before(small_reader, smollm2, minilm):
    out, _ = small_reader
    guide = f"reader:{out}"
    pilot = Pilot(model=smollm2, use_entrypoints=False)
    best, in_order = _guide_order(pilot.get_model(guide), PASSAGES)
    request = pilotfish.Request(question=QUESTION)
    # a budget of 1 token keeps min_sentences (1): the guide's best, whatever MiniLM ranks first
    kept = Compress(budget=1, guide=guide).compress(request, PASSAGES, pilot)
    assert [(p, d.text) for p, d in enumerate(kept) if d.text] == [best[0]]
    # with previous = 1 and two sentences, the one before it in its passage comes along (when it has one)
    kept = Compress(budget=1, guide=guide, previous=1, min_sentences=2).compress(request, PASSAGES, pilot)
    k = in_order.index(best[0])
    partner = in_order[k - 1] if k > 0 and in_order[k - 1][0] == best[0][0] else best[1]
    texts = [d.text for d in kept if d.text]
    want = sorted([best[0], partner], key=in_order.index)
    assert texts == ([f"{want[0][1]} {want[1][1]}"] if want[0][0] == want[1][0] else [want[0][1], want[1][1]])


@pytest.mark.parametrize(
    "options, message",
    [
        ({"budget": 0}, "budget must be at least 1"),
        ({"ratio": 0.5}, "ratio"),
        ({"coarse": "", "fine": ""}, "set coarse"),
        ({"rati": 2}, "rati"),
        ({"coarse": "", "fine": "smollm2-135m", "guide": "reader"}, "set coarse too"),
        ({"previous": 1}, "set guide"),
    ],
)
def test_bad_options_are_clear(options, message):
    with pytest.raises(pilotfish.ConfigError, match=message):
        Compress(options)


@pytest.mark.real
def test_a_model_of_the_wrong_kind_is_a_clear_error(smollm2):
    pilot = Pilot(model=smollm2, use_entrypoints=False)
    with pytest.raises(pilotfish.ConfigError, match="not an embedder"):
        Compress(coarse="smollm2-135m").compress(pilotfish.Request(question=QUESTION), PASSAGES, pilot)
    with pytest.raises(pilotfish.ConfigError, match="not a span reader"):
        Compress(ratio=4.0, guide="minilm").compress(pilotfish.Request(question=QUESTION), PASSAGES, pilot)
    with pytest.raises(pilotfish.PilotfishError, match="question is empty"):
        Compress().compress(pilotfish.Request(question=" "), PASSAGES, pilot)

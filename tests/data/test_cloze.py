"""The cloze queries of pilotfish.data.cloze (training data of `train colbert` and `train reranker`):
pure functions of (passages, random generator)."""

import random

from pilotfish.data.cloze import cloze_pairs, cloze_question, inverse_cloze_pairs
from pilotfish.retrievers.documents import Passage

SENTENCE = "Sales at Nissan rose by 12% to 4.5 million cars in 2004, the Japanese carmaker said on Monday."
LEAD = "Car sales climb in Japan"


def _passages() -> list[Passage]:
    texts = {
        "business/001": [SENTENCE + " Its chief executive Carlos Ghosn praised the staff in Tokyo.",
                         "The firm plans to open a new plant in Brazil next year, costing $300m in total.",
                         "Analysts expect the rival Toyota to report similar figures for its own year."],
        "tech/002": ["Apple sold 10 million iPods over the Christmas quarter, beating every forecast by analysts.",
                     "The company said demand for the music player in Europe had doubled since the summer."],
    }
    return [Passage(f"{doc}#{i}", doc, text, LEAD if doc.startswith("business") else "iPod sales", 0, len(text))
            for doc, parts in texts.items() for i, text in enumerate(parts)]


def test_a_cloze_question_asks_for_the_removed_answer():
    questions = {cloze_question(SENTENCE, LEAD, random.Random(seed)) for seed in range(30)}
    assert None not in questions
    for q in questions:
        assert q.endswith("?") and q.split()[0] in {"What", "How", "When", "Who", "Which"}
    # some questions ask for the percentage, and then the percentage is gone
    percent = [q for q in questions if q.startswith("What percentage")]
    assert percent and all("12%" not in q for q in percent)


def test_cloze_pairs_bring_a_negative_from_the_same_article_and_are_reproducible():
    passages = _passages()
    pairs = cloze_pairs(passages, 12, random.Random(0))
    assert len(pairs) == 12
    assert pairs == cloze_pairs(passages, 12, random.Random(0))
    for q, positive, negative in pairs:
        assert q.endswith("?")
        assert negative is not None and negative.doc_id == positive.doc_id and negative.id != positive.id


def test_inverse_cloze_takes_the_sentence_out_of_its_passage():
    passages = _passages()
    pairs = inverse_cloze_pairs(passages, 10, random.Random(0))
    assert pairs and all(doc in {"business/001", "tech/002"} for _, _, doc in pairs)
    for sentence, context, doc in pairs:
        source = next(p for p in passages if sentence in p.text)
        assert source.doc_id == doc and context.startswith(f"{source.title}. ")

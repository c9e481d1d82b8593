"""FactCC-style training claims for the verifier, synthesized from a corpus of articles.

For a context (2-4 consecutive sentences of an article) we make claims of three kinds:

- ``supported``: a sentence of the context, as written or paraphrased (rule-based rewrites:
  attribution dropped, clause kept, discourse marker dropped, synonyms; optionally by the small
  LM, filtered so that every number and name survives), or two context facts joined.
- ``contradicted``: a supported claim with one fact changed: a number, a date, a named entity
  swapped with another from the same article (or the corpus), a negation flipped or an antonym
  ("rose" -> "fell"), a cause changed.
- ``unsupported``: a supported claim with a detail added that the context does not give (a
  clause from elsewhere in the article or another article, a qualifier such as "unanimously"),
  or a sentence from elsewhere in the article or from a related article.

Every transformation is a pure function of (sentence, random generator): the data set is
reproducible from the seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .articles import Article
from .contradictions import CONTRADICT
from .facts import as_clause, end_sentence, entities, numbers
from .rewrites import add_detail, paraphrase_rules

LABELS = ("supported", "unsupported", "contradicted")
"""Training label order; the checkpoint's id2label follows the NLI convention (see train.py)."""


JOINERS = [", and ", "; ", ", and ", " and ", ", while "]


@dataclass
class Example:
    context: str
    claim: str
    label: str
    kind: str
    doc_id: str


def synthesize(
    articles: list[Article],
    n: int,
    *,
    seed: int = 0,
    paraphrase: Callable[[str], str | None] | None = None,
    paraphrase_budget: int = 0,
    progress: Callable[[int], None] | None = None,
    in_context: float = 0.0,
) -> list[Example]:
    """``n`` examples, balanced over the three labels (a third each).

    ``in_context``: share of the number and entity changes that take the new value from the
    context itself, as an LLM does when it mixes up two figures or two names of one passage
    (every value of such a claim appears in the passage, so no novelty check catches it).
    ``pilotfish train verifier`` uses 0 for the cross-encoder's data (0.4 measured worse, one
    seed) and 0.4 for the calibrated head's (see docs/verification.md).
    """
    rng = random.Random(seed)
    by_topic: dict[str, list[Article]] = {}
    for a in articles:
        by_topic.setdefault(a.doc_id.split("/")[0], []).append(a)
    corpus_entities = [e for a in rng.sample(articles, min(len(articles), 300)) for s in a.sentences[:6] for e in entities(s)]
    out: list[Example] = []
    llm_left = paraphrase_budget
    quota = {label: n // 3 + (1 if i < n % 3 else 0) for i, label in enumerate(LABELS)}
    for example in _stream(articles, by_topic, corpus_entities, rng, in_context):
        if quota[example.label] <= 0:
            continue
        quota[example.label] -= 1
        if example.label == "supported" and paraphrase is not None and llm_left > 0 and example.kind == "sentence":
            llm_left -= 1
            para = paraphrase(example.claim)
            if para:
                example = Example(example.context, para, "supported", "llm-paraphrase", example.doc_id)
        out.append(example)
        if progress:
            progress(1)
        if len(out) >= n:
            break
    rng.shuffle(out)
    return out


def _stream(articles: list[Article], by_topic: dict[str, list[Article]], corpus_entities: list[str],
            rng: random.Random, in_context: float = 0.0) -> Iterator[Example]:
    while True:
        art = rng.choice(articles)
        sents = art.sentences
        if len(sents) < 4:
            continue
        size = rng.choice([2, 3, 3, 3, 4])
        start = rng.randrange(0, max(1, len(sents) - size))
        window = sents[start:start + size]
        context = " ".join(window)
        outside = sents[:start] + sents[start + size:]
        topic = by_topic.get(art.doc_id.split("/")[0], articles)
        neighbour = rng.choice(topic)
        other = [s for s in outside if len(s.split()) >= 6] + [s for s in neighbour.sentences if len(s.split()) >= 6][:6]
        same = [e for s in sents for e in entities(s) if e not in context]
        rng.shuffle(same)
        pool = same + rng.sample(corpus_entities, min(40, len(corpus_entities)))
        plain = [s for s in window if '"' not in s]
        source = rng.choice(plain if plain and rng.random() < 0.8 else window)

        def supported_claim(source: str = source, window: list[str] = window) -> tuple[str, str]:
            r = rng.random()
            if r < 0.25:
                return source, "sentence"
            if r < 0.75:
                return paraphrase_rules(source, rng), "rule-paraphrase"
            for _ in range(3):  # two facts in one sentence, as LLM answers write them (vs a false causal link)
                if len(window) < 2:
                    break
                i = rng.randrange(len(window) - 1)
                a, b = window[i].strip().rstrip(".!?"), as_clause(window[i + 1])
                if b and '"' not in a and len(a.split()) + len(b.split()) < 50:
                    return end_sentence(f"{a}{rng.choice(JOINERS)}{b}"), "joined"
            return paraphrase_rules(source, rng), "rule-paraphrase"

        label = rng.choice(LABELS)
        claim, kind = supported_claim()
        if label == "supported":
            yield Example(context, claim, label, kind, art.doc_id)
        elif label == "contradicted":
            weights = {"entity": 3.0, "number": 4.0, "negation": 1.5, "date": 3.0, "cause": 3.0}
            order = sorted(CONTRADICT, key=lambda kv: -rng.random() ** (1.0 / weights[kv[0]]))
            for name, fn in order:
                new = fn(claim, rng, pool=pool, context=context, other=other, window=window, in_context=in_context)
                if new and new != claim and new.lower() not in context.lower():
                    yield Example(context, new, label, name, art.doc_id)
                    break
        else:
            r = rng.random()
            if r < 0.65:
                new = add_detail(claim, rng, other=other, context=context)
                if new and new != claim:
                    yield Example(context, new, label, "added-detail", art.doc_id)
            elif r < 0.85 and outside:
                s = rng.choice(outside)
                yield Example(context, paraphrase_rules(s, rng), label, "same-article", art.doc_id)
            else:
                s = rng.choice(neighbour.sentences)
                if neighbour is not art:
                    yield Example(context, paraphrase_rules(s, rng), label, "other-article", art.doc_id)


def llm_paraphraser(model: object, max_tokens: int = 60) -> Callable[[str], str | None]:
    """Paraphrase with a chat LM; keep a result only when every number and name survives."""

    def run(sentence: str) -> str | None:
        gen = model.generate(  # type: ignore[attr-defined]
            [{"role": "system", "content": "You rewrite sentences in different words. Keep every fact, name and number exactly."},
             {"role": "user", "content": f"Rewrite this sentence in different words:\n{sentence}"}],
            max_tokens=max_tokens, temperature=0.0,
        )
        text = " ".join(gen.text.strip().strip('"').split())
        if not text or text == sentence or gen.finish_reason == "length":
            return None
        if sorted(numbers(text)) != sorted(numbers(sentence)):
            return None
        src = {w for e in entities(sentence) for w in e.split()}
        new = {w for e in entities(text) for w in e.split()}
        if not new <= src | {"The"} or (src and len(src & new) / len(src) < 0.8):
            return None
        if not 0.6 <= len(text.split()) / max(1, len(sentence.split())) <= 1.4:
            return None
        return text

    return run

"""Relevance judged by the large model: the soft labels of ``pilotfish train reranker --judgements``.

For each answerable teacher question (``pilotfish synthesize questions``), the teacher reads passages of
the question's article, its own passage first, and is asked whether the passage answers the question. The
soft label of a passage is P(yes) / (P(yes) + P(no)) of the first answer token (:class:`LLMJudge`).

Why these candidates: first-stage retrieval finds the right article and misses the passage (14 of 15 dev
R@1 misses), so the reranker's hard negatives are the other passages of the same article, and those are
where a hard label is most often wrong: a neighbour passage that repeats the answer is a false negative.
The teacher's judgement says so, and a reranker trained on it learns "answers the question", not "is the
passage the question was written from".

The prompt puts the passage first and the question after it (the teacher questions' own layout), and
the pairs of one shard are judged passage by passage, so the questions asked of one passage share its
prefix in llama.cpp's cache: a passage costs its prompt once, each further question its own few tokens.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pilotfish.core.errors import InputError
from pilotfish.core.judge import LLMJudge
from pilotfish.core.models import get_model

from .records import Record, derive, iter_job_records, make_record, provenance
from .synthesis import SynthesisReport, SynthesisResult
from .teacher import passage_message, read_teacher_records

PROMPT_VERSION = "teacher-relevance-v1"
ASK = ("Question: {question}\nDoes this passage state the answer to the question? Answer yes only if the answer is "
       "written in the passage; otherwise answer no.")


def judgement_inputs(questions: Sequence[str | Path], corpus: str, *, exclude: Sequence[str | Path] = (),
                     sample: int | None = None, seed: int = 0, candidates: int = 4) -> list[Record]:
    """One record per answerable teacher question whose passage is in ``corpus`` (cut as ``pilotfish index``
    cuts it): the question and up to ``candidates`` passages of its article, its own first, then the others
    in article order (repeats of the same text skipped). Questions on articles named in the ``exclude``
    files are left out; ``sample`` keeps a seeded sample, in question order (so one article's questions
    stay together)."""
    from pilotfish.retrievers.documents import chunk_documents, load_directory

    from .corpora import resolve_corpus
    from .records import read_doc_ids

    if candidates < 1:
        raise InputError(f"candidates must be >= 1 (the question's own passage), got {candidates}")
    banned: set[str] = set()
    for f in exclude:
        banned |= read_doc_ids(f)
    root = resolve_corpus(corpus)
    by_doc: dict[str, list[Any]] = {}
    for p in chunk_documents(load_directory(root).documents):
        by_doc.setdefault(p.doc_id, []).append(p)
    by_id = {p.id: p for ps in by_doc.values() for p in ps}
    asked = [r for r in read_teacher_records(questions) if r.get("kind", "answerable") == "answerable"
             and str(r.get("doc_id", "")) not in banned]
    known = [r for r in asked if str(r.get("passage_id")) in by_id]
    if asked and not known:
        raise InputError(f"none of the {len(asked)} teacher questions names a passage of {root} (passage ids as "
                         "`pilotfish index` cuts it, 100 words); were they written about another corpus?")
    if sample is not None and sample < len(known):
        pick = set(random.Random(seed).sample(range(len(known)), sample))
        known = [r for i, r in enumerate(known) if i in pick]
    prov = provenance("judgement-inputs", rule=f"teacher questions with passages of their article from {corpus}",
                      source=str(root))
    out = []
    for r in known:
        own = by_id[str(r["passage_id"])]
        cands, seen = [own], {own.text}
        for p in by_doc[own.doc_id]:
            if len(cands) >= candidates:
                break
            if p.text not in seen:
                seen.add(p.text)
                cands.append(p)
        out.append(make_record(str(r["question"]), id=f"{r.get('id')}:rel", prov=prov, question=str(r["question"]),
                               answer=r.get("answer"), doc_id=own.doc_id, passage_id=own.id, question_id=r.get("id"),
                               candidates=[{"id": p.id, "title": p.title, "text": p.text} for p in cands]))
    return out


def teacher_judgements(records: Sequence[Record], model: Any = "qwen2.5-1.5b", *, seed: int = 0) -> SynthesisResult:
    """The teacher's P(yes) for every (question, candidate passage) of each record
    (:func:`judgement_inputs`); one output record per question, its ``candidates`` as ``{id, p_yes}``."""
    recs = list(records)
    for r in recs:
        cands = r.get("candidates")
        if not str(r.get("question", "")).strip() or not isinstance(cands, list) or not cands or not all(
                isinstance(c, dict) and str(c.get("id", "")) and str(c.get("text", "")).strip() for c in cands):
            raise InputError(f"record {r.get('id')!r} needs a question and candidates with id and text "
                             "(made by judgement_inputs)")
    lm = get_model(model)
    judge = LLMJudge(lm)
    model_id = getattr(lm, "model_id", str(model))
    start = time.perf_counter()
    report = SynthesisReport("judgements", model_id, inputs=len(recs))
    # passage by passage, so the questions asked of one passage reuse its cached prefix
    pairs = sorted(((c["id"], i, j) for i, r in enumerate(recs) for j, c in enumerate(r["candidates"])))
    p_yes: dict[tuple[int, int], float] = {}
    for _, i, j in pairs:
        c = recs[i]["candidates"][j]
        p_yes[i, j] = judge.p_yes(passage_message(c["text"], c.get("title"), ASK.format(question=recs[i]["question"])))
    prov = provenance("teacher-judgements", model=model_id, prompt=PROMPT_VERSION, seed=seed,
                      rule="P(yes) / (P(yes) + P(no)) for: does this passage answer the question?")
    out = [derive(r, r["question"], prov=prov, suffix="j", question=r["question"], answer=r.get("answer"),
                  doc_id=r.get("doc_id"), passage_id=r.get("passage_id"), question_id=r.get("question_id"),
                  candidates=[{"id": c["id"], "p_yes": round(p_yes[i, j], 5)} for j, c in enumerate(r["candidates"])])
           for i, r in enumerate(recs)]
    report.outputs = len(out)
    report.seconds = time.perf_counter() - start
    return SynthesisResult(out, report)


def read_judgements(paths: Sequence[str | Path]) -> list[Record]:
    """Judged questions from ``synthesize judgements`` outputs (JSONL files or ``--state-dir`` folders of
    shards). Each needs ``question``, ``passage_id`` and ``candidates`` of ``{id, p_yes}`` with p_yes in [0, 1]."""
    out: list[Record] = []
    for where, r in iter_job_records(paths, "teacher judgements", "teacher judgements {} do not exist",
                                     "no teacher judgement files in {}"):
        cands = r.get("candidates") if isinstance(r, dict) else None
        ok = isinstance(cands, list) and bool(cands) and str(r.get("question", "")).strip() and all(
            isinstance(c, dict) and str(c.get("id", "")) and isinstance(c.get("p_yes"), (int, float))
            and 0.0 <= float(c["p_yes"]) <= 1.0 for c in cands)
        if not ok or not str(r.get("passage_id", "")):
            raise InputError(f"{where}: a judged question needs question, passage_id and candidates of "
                             "{id, p_yes in [0, 1]} (made by `pilotfish synthesize judgements`)")
        out.append(r)
    return out

"""Compressions the large model judged answer-preserving: the labels of ``pilotfish train lingua``.

LLMLingua-2 distils a large model's compressions into a small token classifier (keep or drop each word).
Here the large model does not write compressions (Qwen2.5-1.5B, asked to shorten a passage by deleting
words, rewrites it into a one-line answer instead); it *chooses* among them:

1. for each answerable teacher question, the small LM (``drafter``, SmolLM2 by default) scores every word
   of the question's own passage by its self-information given the question (the ``compress`` plugin's
   fine step);
2. ``k`` candidate compressions keep ``1/ratio`` of the words: the first keeps the most informative ones
   (exactly what the log-prob method keeps), the others add Gumbel noise of ``noise`` times the scores'
   standard deviation, so they keep other words;
3. the large model judges the whole passage and every candidate: P(yes) that it states the answer to the
   question (the relevance prompt of ``synthesize judgements``).

A record keeps the passage's words, each candidate's kept words (a ``"0101..."`` mask) and every P(yes).
The classifier learns the candidates' masks weighted by the teacher's P(yes) and by how much of the
teacher's answer each keeps (``pilotfish.compressors.train.soft_labels``).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pilotfish.core.errors import InputError
from pilotfish.core.judge import LLMJudge
from pilotfish.core.models import get_model

from .records import Record, derive, iter_job_records, make_record, provenance, read_doc_ids
from .synthesis import SynthesisReport, SynthesisResult
from .teacher import passage_message, read_teacher_records
from .teacher_judgements import ASK, PROMPT_VERSION


def compression_inputs(questions: Sequence[str | Path], *, exclude: Sequence[str | Path] = (),
                       sample: int | None = None, seed: int = 0) -> list[Record]:
    """One record per answerable teacher question (its question, answer and own passage); questions on
    articles named in the ``exclude`` files are left out; ``sample`` keeps a seeded sample, in order."""
    banned: set[str] = set()
    for f in exclude:
        banned |= read_doc_ids(f)
    known = [r for r in read_teacher_records(questions) if r.get("kind", "answerable") == "answerable"
             and str(r.get("doc_id", "")) not in banned and str(r.get("passage", "")).strip()
             and str(r.get("question", "")).strip()]
    if sample is not None and sample < len(known):
        pick = set(random.Random(seed).sample(range(len(known)), sample))
        known = [r for i, r in enumerate(known) if i in pick]
    prov = provenance("compression-inputs", rule="answerable teacher questions with their own passage")
    return [make_record(str(r["question"]), id=f"{r.get('id')}:cmp", prov=prov, question=str(r["question"]),
                        answer=r.get("answer"), passage=str(r["passage"]), title=r.get("title"),
                        doc_id=r.get("doc_id"), passage_id=r.get("passage_id"), question_id=r.get("id"))
            for r in known]


def candidate_masks(scores: Sequence[float], ratio: float, k: int, noise: float, rng: random.Random) -> list[str]:
    """``k`` keep-masks over the words, each keeping ``ceil(len / ratio)`` of them: the highest scores first
    (no noise), then with Gumbel noise of ``noise`` x the scores' standard deviation. Repeats are dropped."""
    n = len(scores)
    keep_n = max(1, math.ceil(n / ratio))
    mean = sum(scores) / max(1, n)
    std = math.sqrt(sum((s - mean) ** 2 for s in scores) / max(1, n)) or 1.0
    out: list[str] = []
    for c in range(k):
        if c == 0:
            noisy = list(scores)
        else:
            noisy = [s - noise * std * math.log(-math.log(max(rng.random(), 1e-12))) for s in scores]
        top = set(sorted(range(n), key=lambda i: -noisy[i])[:keep_n])
        mask = "".join("1" if i in top else "0" for i in range(n))
        if mask not in out:
            out.append(mask)
    return out


def apply_mask(words: Sequence[str], mask: str) -> str:
    return " ".join(w for w, m in zip(words, mask, strict=True) if m == "1")


def teacher_compressions(records: Sequence[Record], model: Any = "qwen2.5-1.5b", *, drafter: str = "smollm2-135m",
                         ratio: float = 3.0, k: int = 4, noise: float = 0.5, seed: int = 0) -> SynthesisResult:
    """Candidate compressions of each record's passage (:func:`compression_inputs`) and the teacher's
    P(yes) for the whole passage and for each candidate."""
    from pilotfish.core.surprisal import word_surprisal

    if ratio <= 1.0:
        raise InputError(f"ratio must be > 1 (the passage's words divided by it are kept), got {ratio}")
    if k < 1:
        raise InputError(f"k must be >= 1 candidate compressions, got {k}")
    recs = list(records)
    for r in recs:
        if not str(r.get("question", "")).strip() or not str(r.get("passage", "")).strip():
            raise InputError(f"record {r.get('id')!r} needs a question and a passage (made by compression_inputs)")
    small = get_model(drafter)
    if not hasattr(small, "token_logprobs"):
        raise InputError(f"drafter {drafter!r} is not a white-box model (its per-token log-probs score the words)")
    lm = get_model(model)
    judge = LLMJudge(lm)
    model_id = getattr(lm, "model_id", str(model))
    start = time.perf_counter()
    report = SynthesisReport("compressions", model_id, inputs=len(recs))
    prov = provenance("teacher-compressions", model=model_id, prompt=PROMPT_VERSION, seed=seed,
                      rule=f"{k} keep-masks at ratio {ratio} from {drafter} self-information (noise {noise}); "
                           "P(yes) / (P(yes) + P(no)) for: does this passage answer the question?",
                      drafter=getattr(small, "model_id", drafter))
    out = []
    for r in recs:
        rng = random.Random(f"{seed}:{r.get('id')}")
        scored = word_surprisal(small, str(r["question"]), str(r["passage"]))
        words = [w for w, _ in scored]
        masks = candidate_masks([s for _, s in scored], ratio, k, noise, rng)

        def p_yes(text: str, r: Record = r) -> float:
            return round(judge.p_yes(passage_message(text, r.get("title"), ASK.format(question=r["question"]))), 5)

        full = p_yes(str(r["passage"]))
        cands = [{"keep": m, "p_yes": p_yes(apply_mask(words, m))} for m in masks]
        out.append(derive(r, r["question"], prov=prov, suffix="c", question=r["question"], answer=r.get("answer"),
                          title=r.get("title"), doc_id=r.get("doc_id"), passage_id=r.get("passage_id"),
                          question_id=r.get("question_id"), words=words, p_full=full, ratio=ratio, candidates=cands))
    report.outputs = len(out)
    report.seconds = time.perf_counter() - start
    return SynthesisResult(out, report)


def read_compressions(paths: Sequence[str | Path]) -> list[Record]:
    """Judged compressions from ``synthesize compressions`` outputs (JSONL files or ``--state-dir`` folders)."""
    out: list[Record] = []
    for where, r in iter_job_records(paths, "teacher compressions", "teacher compressions {} do not exist",
                                     "no teacher compression files in {}"):
        words = r.get("words") if isinstance(r, dict) else None
        cands = r.get("candidates") if isinstance(r, dict) else None
        ok = (isinstance(words, list) and bool(words) and all(isinstance(w, str) for w in words)
              and isinstance(cands, list) and bool(cands) and isinstance(r.get("p_full"), (int, float))
              and str(r.get("question", "")).strip() and all(
                  isinstance(c, dict) and isinstance(c.get("keep"), str) and len(c["keep"]) == len(words)
                  and set(c["keep"]) <= {"0", "1"} and isinstance(c.get("p_yes"), (int, float)) for c in cands))
        if not ok:
            raise InputError(f"{where}: a judged compression needs question, words, p_full and candidates of "
                             "{keep: a 0/1 mask as long as words, p_yes} (made by `pilotfish synthesize compressions`)")
        out.append(r)
    return out

"""Questions written by the large model (InPars / Promptagator): the teacher reads a passage and writes
questions a reader would ask, each with its short answer copied from the passage, and optionally a
question the article does not answer. It then filters its own output by a round trip: asked the question
with the passage in front of it, it must give the same span (or say the passage does not answer an
unanswerable one).

Every kept record carries provenance: teacher model, prompt version, seed, the passage it came from,
and the round-trip answer. Prompts put the passage first and the task after it, so the question-writing
call and the round-trip calls share their prefix and llama.cpp's prefix cache computes the passage once.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pilotfish.core.errors import InputError
from pilotfish.core.models import get_model

from .records import Record, derive, iter_job_records, provenance
from .synthesis import SynthesisReport, SynthesisResult

PROMPT_VERSION = "teacher-questions-v1"
SYSTEM = "You read passages from BBC news articles and work only from what the passage says."
WRITE = (
    "Write {n} different questions that a curious reader could ask and that this passage answers. "
    "Use your own words, not the passage's phrasing: paraphrase, use synonyms, and do not copy whole "
    "phrases. Each answer must be a short span (1 to 6 words) copied exactly from the passage.\n"
    'Reply with one JSON object per line: {{"question": "...", "answer": "..."}}'
)
WRITE_UNANSWERABLE = (
    "Write one question about the same people or topic that a reader might ask but that this passage "
    'does NOT answer. Reply with one JSON object: {"question": "..."}'
)
ANSWER = (
    "Question: {question}\n"
    "Answer with the shortest span copied exactly from the passage, nothing else. If the passage does "
    "not answer the question, reply exactly: unanswerable"
)
_OBJ = re.compile(r"\{[^{}]*\}")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = re.compile(r"[^\w\s]")


def passage_message(passage: str, title: str | None, task: str) -> list[dict[str, str]]:
    head = f"Article: {title}\n" if title else ""
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"{head}Passage:\n{passage}\n\n{task}"}]


def normalize_answer(text: str) -> str:
    text = _PUNCT.sub(" ", text.lower())
    return " ".join(_ARTICLES.sub(" ", text).split())


def answers_agree(a: str, b: str) -> bool:
    """Same span after normalisation, or token F1 >= 0.6 (the teacher trims or extends a span a little)."""
    na, nb = normalize_answer(a), normalize_answer(b)
    if not na or not nb:
        return False
    if na == nb or (len(na) > 3 and na in nb and len(nb.split()) <= len(na.split()) + 3):
        return True
    ta, tb = na.split(), nb.split()
    common = sum(min(ta.count(w), tb.count(w)) for w in set(ta))
    if not common:
        return False
    p, r = common / len(tb), common / len(ta)
    return 2 * p * r / (p + r) >= 0.6


def parse_questions(raw: str, limit: int) -> list[dict[str, str]]:
    out = []
    for m in _OBJ.finditer(raw):
        try:
            obj = json.loads(m.group(0))
        except json.JSONDecodeError:
            continue
        q = str(obj.get("question", "")).strip()
        if q and q.endswith("?") and len(q.split()) >= 4:
            out.append({"question": q, "answer": str(obj.get("answer", "")).strip()})
    return out[:limit]


def span_in(answer: str, passage: str) -> bool:
    return bool(answer) and normalize_answer(answer) in normalize_answer(passage)


def is_refusal(text: str) -> bool:
    t = text.strip().lower()
    return t.startswith("unanswerable") or "not answer" in t or "does not mention" in t or "not mentioned" in t


def teacher_questions(records: Sequence[Record], model: Any = "qwen2.5-1.5b", *, n: int = 2,
                      unanswerable_every: int = 0, seed: int = 0, max_tokens: int = 160) -> SynthesisResult:
    """Questions for each passage record (``text``; optional ``title``, ``doc_id``, ``id``).

    ``unanswerable_every = k`` also asks for one unanswerable question on every k-th passage (0: never).
    Dropped candidates are counted in the report: unparseable output, an answer that is not a span of the
    passage, and a round trip that disagrees.
    """
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    lm = get_model(model)
    start = time.perf_counter()
    report = SynthesisReport("questions", getattr(lm, "model_id", str(model)))
    report.inputs = len(records)
    kept: list[Record] = []
    recs = list(records)
    writes = [passage_message(r["text"], r.get("title"), WRITE.format(n=n)) for r in recs]
    gens = _generate(lm, writes, max_tokens=max_tokens, seed=seed)
    candidates: list[tuple[int, dict[str, str], str]] = []
    for i, gen in enumerate(gens):
        qs = parse_questions(gen.text, n)
        if not qs:
            report.note_unparseable(gen.text)
        candidates += [(i, q, "answerable") for q in qs]
    if unanswerable_every:
        picks = [i for i in range(len(recs)) if (i + seed) % unanswerable_every == 0]
        ugens = _generate(lm, [passage_message(recs[i]["text"], recs[i].get("title"), WRITE_UNANSWERABLE) for i in picks],
                          max_tokens=60, seed=seed)
        for i, gen in zip(picks, ugens, strict=True):
            qs = parse_questions(gen.text, 1)
            if qs:
                candidates.append((i, {"question": qs[0]["question"], "answer": ""}, "unanswerable"))
            else:
                report.note_unparseable(gen.text)
    checks = _generate(lm, [passage_message(recs[i]["text"], recs[i].get("title"), ANSWER.format(question=q["question"]))
                            for i, q, _ in candidates], max_tokens=24, seed=seed)
    for (i, q, kind), check in zip(candidates, checks, strict=True):
        back = check.text.strip().strip('"').strip().rstrip(".")
        rec = recs[i]
        if kind == "unanswerable":
            ok, why = is_refusal(back), "round trip answered an unanswerable question"
        else:
            # the kept answer is a span of the passage: the teacher's own, else its round-trip answer
            span = q["answer"] if span_in(q["answer"], rec["text"]) else back
            ok = not is_refusal(back) and span_in(span, rec["text"]) and answers_agree(q["answer"], back)
            why = "round trip disagrees or no span of the passage"
            q = {**q, "answer": span}
        if not ok:
            report.dropped[why] = report.dropped.get(why, 0) + 1
            continue
        prov = provenance("teacher-questions", model=report.model, prompt=PROMPT_VERSION,
                          rule="kept when the teacher, asked again with the passage, gives the same span",
                          seed=seed, source=rec.get("id"))
        kept.append(derive(rec, q["question"], prov=prov, suffix=f"q{len(kept)}", question=q["question"],
                           answer=q["answer"], kind=kind, passage=rec["text"], passage_id=rec.get("id"),
                           doc_id=rec.get("doc_id"), title=rec.get("title"), roundtrip=back))
    report.outputs = len(kept)
    report.seconds = time.perf_counter() - start
    return SynthesisResult(kept, report)


def _generate(lm: Any, prompts: list[list[dict[str, str]]], *, max_tokens: int, seed: int) -> list[Any]:
    """Greedy generations for several prompts, decoded together where the model batches."""
    if not prompts:
        return []
    return list(lm.generate_batch(prompts, max_tokens=max_tokens, temperature=0.0, seed=seed))


def corpus_passages(corpus: str, *, exclude: Sequence[str] = (), sample: int | None = None, seed: int = 0,
                    max_words: int = 100) -> list[Record]:
    """The passages of a corpus folder (or ``bbc``), cut as ``pilotfish index`` cuts them (same ids),
    without the articles named in ``exclude`` files and without other copies of their text; a seeded
    random sample of ``sample`` of them (all, shuffled, when None)."""
    import random
    from pathlib import Path

    from pilotfish.retrievers.documents import chunk_documents, load_directory, normalize_ws

    from .corpora import bbc_dir
    from .records import make_record, read_doc_ids

    root = bbc_dir() if corpus == "bbc" else Path(corpus)
    docs = load_directory(root).documents
    banned: set[str] = set()
    for f in exclude:
        banned |= read_doc_ids(f)
    banned_text = {normalize_ws(d.text) for d in docs if d.doc_id in banned}
    keep = [d for d in docs if d.doc_id not in banned and normalize_ws(d.text) not in banned_text]
    passages = chunk_documents(keep, max_words=max_words)
    rng = random.Random(seed)
    rng.shuffle(passages)
    if sample is not None:
        passages = passages[:sample]
    prov = provenance("corpus", rule=f"passages of {corpus}, dev articles excluded", source=str(root))
    return [make_record(p.text, id=p.id, prov=prov, doc_id=p.doc_id, title=p.title) for p in passages]


def read_teacher_records(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Teacher question records from ``questions.jsonl`` files (one record a line) or the job's shard
    files / state folders (``{"records": [...]}`` a line)."""
    out: list[dict[str, Any]] = []
    for where, r in iter_job_records(paths, "teacher questions", "teacher data {} does not exist",
                                     "no teacher question files in {}"):
        if not isinstance(r, dict) or not str(r.get("question", "")).strip() or "passage" not in r:
            raise InputError(f"{where}: a teacher record needs 'question' and 'passage' "
                             "(made by `pilotfish synthesize questions`)")
        out.append(r)
    return out

"""Claims judged by the large model, the soft labels that distil it into the small verifier.

For each context (2-4 consecutive sentences of an article, drawn as ``pilotfish train verifier`` draws
them, :mod:`pilotfish.data.claims`) the teacher judges

- the record's rule-made claim (supported, contradicted or unsupported by construction), and
- claims it writes itself: a true statement in its own words, two facts joined in one sentence, a
  statement with one fact changed (a number, name, date, place or outcome), and one with a plausible
  detail the context does not give.

Each claim gets ``p_supported``: P(yes) / (P(yes) + P(no)) when the teacher is asked whether the claim is
fully supported by the context, with the prompt of the ``entailment`` verifier (``model =
"qwen2.5-1.5b"``, :mod:`pilotfish.core.judge`). That probability is the soft label; ``label`` is what the
claim was made to be. Records keep the ``context`` / ``claim`` / ``label`` fields of the dev claim files,
so ``pilotfish eval verify --claims`` reads them as they are.

The judge runs each claim as a one-step job in the sequence whose cache holds the context, so a context's
five or so claims cost its prompt once plus a few tokens each.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from typing import Any

from pilotfish.core.errors import InputError
from pilotfish.core.judge import LLMJudge
from pilotfish.core.models import get_model
from pilotfish.core.types import Document, Request

from .records import Record, derive, make_record, provenance
from .synthesis import SynthesisReport, SynthesisResult

PROMPT_VERSION = "teacher-claims-v1"
SYSTEM = (
    "You read passages from BBC news articles and write short statements about them for a fact-checking "
    "exercise. Each statement is one plain news sentence of at most 25 words, never \"The passage says\".\n\n"
    "Example passage:\nShares in Acme Foods rose 4% on Tuesday after the firm reported profits of £120m for "
    "2004. Chief executive Jane Hill said sales in Asia had doubled. The company plans to open 30 new stores "
    "next year.\n"
    "Example reply:\n"
    '{"type": "true", "statement": "Acme Foods doubled its sales in Asia, according to its boss."}\n'
    '{"type": "combined", "statement": "Acme Foods made £120m profit in 2004 and will open 30 stores next year."}\n'
    '{"type": "changed", "statement": "Acme Foods shares fell 4% after the firm reported £120m profits."}\n'
    '{"type": "added", "statement": "Acme Foods will open 30 new stores next year, most of them in Asia."}'
)
WRITE = (
    "Passage:\n{context}\n\n"
    "Write four statements about this passage:\n"
    "- true: one fact the passage states, in your own words;\n"
    "- combined: two facts the passage states, in one sentence;\n"
    "- changed: a fact of the passage with one detail changed (a number, name, date, place or outcome), "
    "so that the passage contradicts it;\n"
    "- added: a fact of the passage with a plausible detail added that the passage does not give.\n"
    'Reply with one JSON object per line: {{"type": ..., "statement": ...}}'
)
MAX_WORDS = 40
KINDS = {
    "true": ("supported", "teacher-paraphrase"),
    "combined": ("supported", "teacher-joined"),
    "changed": ("contradicted", "teacher-changed"),
    "added": ("unsupported", "teacher-added"),
}
KIND_LABELS = ("supported", "unsupported", "contradicted")
_OBJ = re.compile(r"\{[^{}]*\}")


def parse_statements(raw: str) -> list[tuple[str, str]]:
    """(type, statement) pairs from the teacher's JSON lines; unknown types and fragments are dropped."""
    out, seen = [], set()
    for m in _OBJ.finditer(raw):
        try:
            obj = json.loads(m.group(0))
        except json.JSONDecodeError:
            continue
        kind = str(obj.get("type", "")).strip().lower()
        text = " ".join(str(obj.get("statement", "")).split())
        if kind in KINDS and 5 <= len(text.split()) <= MAX_WORDS and text.lower() not in seen:
            seen.add(text.lower())
            out.append((kind, text))
    return out


def claim_contexts(corpus: str, n: int, *, exclude: Sequence[str] = (), seed: int = 0) -> list[Record]:
    """``n`` contexts with one rule-made claim each (a third per label), from a corpus folder or ``bbc``,
    without the articles named in the ``exclude`` files (JSONL with ``doc_id``) or copies of their text."""
    from .articles import load_articles
    from .claims import synthesize
    from .corpora import resolve_corpus
    from .records import read_doc_ids

    if n < 1:
        raise InputError(f"the number of contexts must be >= 1, got {n}")
    root = resolve_corpus(corpus)
    banned: set[str] = set()
    for f in exclude:
        banned |= read_doc_ids(f)
    articles = load_articles(root)

    def body(a: Any) -> str:
        return " ".join(a.sentences)

    banned_text = {body(a) for a in articles if a.doc_id in banned}
    keep = [a for a in articles if a.doc_id not in banned and body(a) not in banned_text]
    prov = provenance("claims", rule="FactCC-style rule-made claim (pilotfish.data.claims)", seed=seed,
                      source=str(root))
    return [make_record(e.claim, id=f"ctx-{seed}-{i:05d}", prov=prov, context=e.context, claim=e.claim,
                        label=e.label, kind=e.kind, doc_id=e.doc_id)
            for i, e in enumerate(synthesize(keep, n, seed=seed))]


def teacher_claims(records: Sequence[Record], model: Any = "qwen2.5-1.5b", *, seed: int = 0, write: bool = True,
                   max_tokens: int = 200) -> SynthesisResult:
    """Judge each record's claim (``context``, ``claim``, ``label``) and, with ``write``, the claims the
    teacher writes for its context; one output record per judged claim, with ``p_supported``."""
    recs = list(records)
    for r in recs:
        missing = [k for k in ("context", "claim", "label") if not str(r.get(k, "")).strip()]
        if missing:
            raise InputError(f"record {r.get('id')!r} has no {', '.join(missing)} (made by claim_contexts)")
    lm = get_model(model)
    judge = LLMJudge(lm)
    model_id = getattr(lm, "model_id", str(model))
    start = time.perf_counter()
    report = SynthesisReport("claims", model_id, inputs=len(recs))
    written: list[list[tuple[str, str]]] = [[] for _ in recs]
    if write and recs:
        prompts = [[{"role": "system", "content": SYSTEM},
                    {"role": "user", "content": WRITE.format(context=r["context"])}] for r in recs]
        for i, gen in enumerate(lm.generate_batch(prompts, max_tokens=max_tokens, temperature=0.0, seed=seed)):
            written[i] = parse_statements(gen.text)
            if not written[i]:
                report.note_unparseable(gen.text)
    rule_prov = provenance("teacher-claims", model=model_id, prompt="judge", rule="rule-made claim judged by the teacher")
    write_prov = provenance("teacher-claims", model=model_id, prompt=PROMPT_VERSION, seed=seed,
                            rule="claim written by the teacher, then judged by it")
    out: list[Record] = []
    for rec, mine in zip(recs, written, strict=True):
        claims = [(rec["claim"], rec["label"], rec.get("kind", "rule"), "rules", rule_prov)]
        claims += [(text, *KINDS[kind], "teacher", write_prov) for kind, text in mine if text != rec["claim"]]
        probs = judge.p_supported(Request(question=""), [Document(id="context:0", text=rec["context"])],
                                  [c[0] for c in claims])
        for j, ((text, label, kind, origin, prov), p) in enumerate(zip(claims, probs, strict=True)):
            out.append(derive(rec, text, prov=prov, suffix=f"c{j}", context=rec["context"], claim=text, label=label,
                              kind=kind, origin=origin, p_supported=round(float(p), 5), doc_id=rec.get("doc_id")))
    report.outputs = len(out)
    report.seconds = time.perf_counter() - start
    return SynthesisResult(out, report)


def read_teacher_claims(paths: Sequence[Any]) -> list[Record]:
    """Judged claims from ``synthesize claims`` outputs: JSONL files (one record a line) or the job's
    ``--state-dir`` folders of shards (``{"records": [...]}`` a line). Each needs ``context``, ``claim``,
    ``label`` and ``p_supported`` in [0, 1]."""
    from .records import iter_job_records

    out: list[Record] = []
    for where, r in iter_job_records(paths, "teacher claims", "teacher claims {} do not exist",
                                     "no teacher claim files in {}"):
        p = r.get("p_supported") if isinstance(r, dict) else None
        ok = isinstance(r, dict) and all(str(r.get(k, "")).strip() for k in ("context", "claim", "label"))
        if not ok or not isinstance(p, (int, float)) or not 0.0 <= float(p) <= 1.0:
            raise InputError(f"{where}: a judged claim needs context, claim, label and p_supported in [0, 1] "
                             "(made by `pilotfish synthesize claims`)")
        if r["label"] not in KIND_LABELS:
            raise InputError(f"{where}: label {r['label']!r} is not one of {', '.join(KIND_LABELS)}")
        out.append(r)
    return out

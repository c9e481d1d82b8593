"""``pilotfish train colbert``: a ColBERT model trained from the packaged MiniLM on the user's corpus.

Training pairs are synthesized from the corpus itself (no labelled data, never the dev sets):

- headline -> first passage of the article (titles are a free, human-written query);
- questions written by a small LM about a passage (black-box distillation, bounded: ``questions``);
- **teacher questions** (``teacher_questions``: ``pilotfish synthesize questions`` output, the large
  model's questions in a reader's words), each with a second negative from the **same article**; with the
  teacher's relevance ``judgements`` (``pilotfish synthesize judgements``) that negative is the neighbour
  it judged least likely to answer, and none when it judged every neighbour to state the answer (a false
  negative would teach the model to push the answer away);
- inverse cloze (:mod:`pilotfish.data.cloze`): a sentence of a passage -> the passage without that
  sentence (cheap, teaches the model to match a paraphrased fact to its context);
- cloze questions (:mod:`pilotfish.data.cloze`): a sentence with one answer (number or name) removed,
  a wh-word for its kind, some words paraphrased, often a span of the headline or lead appended -> the
  passage holding the sentence, with a second negative from the **same article** (where retrieval
  misses are: the right article, the wrong passage).

Hard negatives are mined with BM25 (a top passage of another document) for the headline and
question pairs. Inverse-cloze pairs get a random passage of another document instead: their
positive lacks the query sentence, so a BM25 negative (which shares the sentence's words) would
teach a MaxSim model to score exact token matches *down*; measured here, a 159-step run with BM25
negatives on every pair fell from R@1 0.66 (untrained) to 0.24 as the reranker of bm25+dense on the
BBC dev set, a 73-step run with this fix reached 0.60 (docs/retrieval.md). The loss is cross-entropy
over MaxSim scores against the positive, every other in-batch passage and the hard negatives.
Training starts from MiniLM with the same fixed random projection as the ``minilm-untrained``
baseline, and stops after ``steps`` or when the whole run (questions included) reaches
``max_minutes``; the LM's questions get at most ``question_share`` of that budget (generation is
~1-2 s per question on an idle 2-core CPU, several times that on a busy one).
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pilotfish.core.errors import InputError
from pilotfish.data.cloze import cloze_pairs, inverse_cloze_pairs

from .colbert_model import ColbertEncoder, default_model_path
from .documents import Passage, chunk_documents, load_directory


@dataclass
class TrainConfig:
    questions: int = 300
    teacher: str = "smollm2-135m"
    steps: int = 400
    batch_size: int = 16
    lr: float = 3e-5
    linear_lr: float = 1e-3
    max_minutes: float = 25.0
    question_share: float = 0.3
    doc_maxlen: int = 128
    ict: int = 4000
    cloze: int = 6000
    seed: int = 0
    temperature: float = 1.0
    exclude_docs: frozenset[str] = frozenset()
    markers: bool = False
    teacher_questions: tuple[str, ...] = ()
    judgements: tuple[str, ...] = ()


QUESTION_PROMPT = (
    "Read the news passage and write one specific question that it answers. "
    "Use different words from the passage. Reply with the question only.\n\nPassage: {text}"
)


def write_questions(passages: list[Passage], n: int, teacher: str, rng: random.Random,
                    progress: bool = False, deadline: float | None = None) -> list[tuple[str, Passage]]:
    """Questions by the small LM about ``n`` random passages (black-box distillation); stops early
    at ``deadline`` (a ``time.monotonic()`` value)."""
    if n <= 0 or (deadline is not None and time.monotonic() > deadline):
        return []
    from pilotfish.core.models import get_model

    lm = get_model(teacher)
    chosen = rng.sample(passages, min(n, len(passages)))
    bar = _bar(len(chosen), "questions", progress)
    out = []
    for p in chosen:
        if deadline is not None and time.monotonic() > deadline:
            bar.write(f"questions: time budget reached after {bar.n} of {len(chosen)}")
            break
        text = " ".join(p.text.split()[:90])
        gen = lm.generate([{"role": "user", "content": QUESTION_PROMPT.format(text=text)}], max_tokens=40,
                          temperature=0.0, stop=["\n"])
        q = gen.text.strip().strip('"').strip()
        q = re.sub(r"^(question|q)\s*[:\-]\s*", "", q, flags=re.I)
        if len(q.split()) >= 4 and q.endswith("?"):
            out.append((q, p))
        bar.update(1)
    bar.close()
    return out


def _bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, dynamic_ncols=True)


def make_pairs(passages: list[Passage], cfg: TrainConfig, rng: random.Random, progress: bool,
               deadline: float | None = None) -> tuple[list[tuple[str, str, str, str]], dict[int, str]]:
    """(query, positive text, document id, kind) from headlines, the LM's questions, cloze questions and
    inverse cloze; and, by pair position, a negative from the same article (cloze questions)."""
    pairs: list[tuple[str, str, str, str]] = []
    negatives: list[str | None] = []  # a same-article negative per cloze pair, None for the rest
    first: dict[str, Passage] = {}
    for p in passages:
        first.setdefault(p.doc_id, p)
    for p in first.values():
        if p.title:
            pairs.append((p.title, p.text, p.doc_id, "headline"))
    for q, p in write_questions(passages, cfg.questions, cfg.teacher, rng, progress, deadline):
        pairs.append((q, p.index_text(), p.doc_id, "question"))
    for query, context, doc_id in inverse_cloze_pairs(passages, cfg.ict, rng):
        pairs.append((query, context, doc_id, "ict"))
    negatives += [None] * len(pairs)
    for q, p, neg in teacher_question_pairs(passages, cfg, rng):
        pairs.append((q, p.index_text(), p.doc_id, "teacher"))
        negatives.append(neg.index_text() if neg is not None else None)
    for q, p, neg in cloze_pairs(passages, cfg.cloze, rng):
        pairs.append((q, p.index_text(), p.doc_id, "cloze"))
        negatives.append(neg.index_text() if neg is not None else None)
    order = list(range(len(pairs)))
    rng.shuffle(order)
    same_doc = {n: neg for n, neg in enumerate(negatives[i] for i in order) if neg is not None}
    return [pairs[i] for i in order], same_doc


def teacher_question_pairs(passages: list[Passage], cfg: TrainConfig,
                           rng: random.Random) -> list[tuple[str, Passage, Passage | None]]:
    """(question, its passage, a same-article negative or None) for the teacher's answerable questions;
    with judgements, the negative is the neighbour with the lowest P(yes), if that is under 0.5."""
    if not cfg.teacher_questions:
        if cfg.judgements:
            raise InputError("train colbert: --judgements label the teacher's questions; give them too "
                             "(--teacher-questions)")
        return []
    from .reranker_train import judgement_map, teacher_pairs

    judged = judgement_map(cfg.judgements) if cfg.judgements else {}
    by_doc: dict[str, list[Passage]] = {}
    for p in passages:
        by_doc.setdefault(p.doc_id, []).append(p)
    out: list[tuple[str, Passage, Passage | None]] = []
    used = 0
    for q, p in teacher_pairs(passages, cfg.teacher_questions, cfg.exclude_docs):
        same = [o for o in by_doc[p.doc_id] if o.id != p.id and o.text != p.text]
        verdict = judged.get((q, p.id))
        if verdict is not None:
            used += 1
            scored = sorted((verdict[o.id], o.id, o) for o in same if o.id in verdict)
            neg = scored[0][2] if scored and scored[0][0] < 0.5 else None
        else:
            neg = rng.choice(same) if same else None
        out.append((q, p, neg))
    if cfg.judgements and not used:
        raise InputError(f"train colbert: no judgement in {', '.join(cfg.judgements)} is of a --teacher-questions "
                         "question on this corpus (were they made from other questions?)")
    return out


def mine_negatives(passages: list[Passage], pairs: list[tuple[str, str, str, str]], rng: random.Random) -> list[str]:
    """A negative per pair: a top BM25 passage from another document (headline and question pairs), a
    random passage of another document (inverse-cloze pairs; see the module docstring)."""
    import bm25s

    try:
        import Stemmer

        stem = Stemmer.Stemmer("english")
    except ImportError:  # pragma: no cover
        stem = None
    texts = [p.index_text() for p in passages]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stem, show_progress=False), show_progress=False)
    vocab = retriever.vocab_dict
    negs = []
    for q, _, doc_id, kind in pairs:
        if kind == "ict":
            j = rng.randrange(len(texts))
            for _ in range(20):  # another document's passage (a one-document corpus keeps the last draw)
                if passages[j].doc_id != doc_id:
                    break
                j = rng.randrange(len(texts))
            negs.append(texts[j])
            continue
        toks = [t for t in bm25s.tokenize([q], stopwords="en", stemmer=stem, show_progress=False,
                                          return_ids=False)[0] if t in vocab]
        cands: list[int] = []
        if toks:
            docs, _ = retriever.retrieve([toks], k=min(10, len(texts)), show_progress=False)
            cands = [int(d) for d in docs[0] if passages[int(d)].doc_id != doc_id]
        negs.append(texts[cands[0]] if cands else texts[rng.randrange(len(texts))])
    return negs


def train(corpus: str | Path, out: str | Path | None = None, cfg: TrainConfig | None = None,
          progress: bool = False, force: bool = False) -> Path:
    """Train and save a checkpoint; returns its directory (default: the model cache).

    A non-empty ``out`` that pilotfish did not write is refused before training unless ``force``.
    """
    import torch

    from pilotfish.core.outputs import check_output_dir, replace_dir

    dest = check_output_dir(Path(out) if out else default_model_path(), force)
    cfg = cfg or TrainConfig()
    start = time.monotonic()
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    docs = [d for d in load_directory(corpus).documents if d.doc_id not in cfg.exclude_docs]
    passages = chunk_documents(docs)
    if len(passages) < 2:
        raise InputError("the corpus needs at least two passages to train a ColBERT model")
    pairs, same_doc = make_pairs(passages, cfg, rng, progress, start + cfg.question_share * cfg.max_minutes * 60)
    negs = mine_negatives(passages, pairs, rng)
    if progress:
        kinds = dict(Counter(pair[3] for pair in pairs))
        print(f"training pairs: {kinds}; same-article negatives: {len(same_doc)}")

    enc = ColbertEncoder.untrained()
    # markers and [MASK] query augmentation (ColBERTv2's) change the input the untrained MiniLM
    # saw; off by default, so training starts from the untrained model's ranking and improves it
    enc.markers = enc.augment = cfg.markers
    enc.meta.update({"query_augment": cfg.markers, "markers": cfg.markers, "trained": True,
                     "base": "all-MiniLM-L6-v2"})
    enc.doc_maxlen = cfg.doc_maxlen
    enc.bert.train()
    enc.linear.train()
    opt = torch.optim.AdamW([{"params": enc.bert.parameters(), "lr": cfg.lr},
                             {"params": enc.linear.parameters(), "lr": cfg.linear_lr}], weight_decay=0.01)
    bs = min(cfg.batch_size, len(pairs))
    bar = _bar(cfg.steps, "train colbert", progress)
    step, order = 0, list(range(len(pairs)))
    pos = 0
    losses: list[float] = []
    while step < cfg.steps and time.monotonic() - start < cfg.max_minutes * 60:
        if pos + bs > len(order):
            rng.shuffle(order)
            pos = 0
        batch = order[pos:pos + bs]
        pos += bs
        with torch.autocast("cpu", torch.bfloat16, enabled=enc.bf16):
            loss = _step(enc, [pairs[i][0] for i in batch], [pairs[i][1] for i in batch], [negs[i] for i in batch],
                         cfg.temperature, [same_doc[i] for i in batch if i in same_doc])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(enc.bert.parameters()) + list(enc.linear.parameters()), 1.0)
        opt.step()
        step += 1
        losses.append(float(loss.item()))
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if progress and step % 25 == 0:
            bar.write(f"step {step}: mean loss of the last 25 steps {sum(losses[-25:]) / 25:.3f}")
    bar.close()
    enc.bert.eval()
    enc.linear.eval()
    enc.doc_maxlen = 180
    enc.meta["steps"] = step
    enc.meta["pairs"] = len(pairs)
    enc.meta["teacher_questions"] = sum(1 for pair in pairs if pair[3] == "teacher")
    enc.meta["judgements"] = list(cfg.judgements)
    window = max(1, min(25, len(losses) // 4))
    if losses:
        enc.meta["loss_first"] = round(sum(losses[:window]) / window, 4)
        enc.meta["loss_last"] = round(sum(losses[-window:]) / window, 4)
    return replace_dir(dest, enc.save, kind="colbert-checkpoint", force=force)


def _step(enc: ColbertEncoder, queries: list[str], positives: list[str], negatives: list[str], temp: float,
          extra: Sequence[str] = ()) -> Any:
    """Cross-entropy of each query's MaxSim scores over every passage of the batch (its positive, the
    other positives, the mined negatives and the same-article ``extra`` negatives)."""
    torch = enc.torch
    qi, qm = enc._tokenize(queries, enc.query_maxlen, enc.q_marker, enc.augment)
    q = enc.forward(qi, qm) * qm.unsqueeze(-1)
    di, dm = enc._tokenize(positives + negatives + list(extra), enc.doc_maxlen, enc.d_marker, False)
    d = enc.forward(di, dm)
    keep = enc.doc_mask(di, dm).unsqueeze(-1)
    d = d * keep
    sim = torch.einsum("qtd,nsd->qnts", q, d)  # [B, 2B, qlen, dlen]
    sim = sim.masked_fill(~keep.squeeze(-1)[None, :, None, :], -1e4)
    scores = sim.max(-1).values.float().sum(-1)  # MaxSim
    labels = torch.arange(len(queries))
    return torch.nn.functional.cross_entropy(scores / temp, labels)

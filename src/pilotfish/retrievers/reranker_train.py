"""``pilotfish train reranker``: a cross-encoder reranker trained from a packaged MiniLM on the user's corpus.

No pretrained reranker can be downloaded offline (``cross-encoder/ms-marco-MiniLM-L-6-v2`` needs the
hub), so pilotfish trains one from what it has, on queries synthesized from the corpus itself (never
the dev sets):

- **cloze questions** (:func:`pilotfish.data.cloze.cloze_question`): a sentence with one answer (a
  number or a name) removed, a wh-word for its kind, some words paraphrased, often a span of the
  headline or lead appended;
- **teacher questions** (``teacher``: files or state folders of ``pilotfish synthesize questions``): the
  large model's questions about a passage, in a reader's words rather than the passage's (InPars,
  Promptagator); each is matched to its passage by id (the index's 100-word chunks), and an unanswerable
  one is skipped;
- each query is scored against a **group** of passages: the one holding the sentence, up to
  ``group - 2`` other passages of the **same article** (where first-stage misses are: the right
  article, the wrong passage) and one passage of another article; the loss is cross-entropy over
  the group (listwise, the positive first);
- **soft labels** (``judgements``: ``pilotfish synthesize judgements`` output): for a teacher question the
  large model judged, the same-article negatives are taken among the judged passages, and the target over
  the group is ``(1 - soft_weight)`` on the positive plus ``soft_weight`` times the teacher's softmax over
  the group (its log-odds of "yes, this passage states the answer" as logits; a passage of another
  article counts as p = 0.01). A neighbour passage that repeats the answer then stops being a hard negative.
  ``judgement_use = "filter"`` keeps hard targets and only leaves out of the negatives every neighbour
  the teacher judged to state the answer (P(yes) >= 0.5).

The cross-encoder starts from ``init``: ``minilm`` (the default: the packaged sentence embedder with
a new one-logit head), ``verifier`` (the entailment cross-encoder ``pilotfish train verifier`` wrote,
its 3-class head replaced; equal within one dev question, docs/retrieval.md) or a checkpoint
directory. It is saved as a Hugging Face sequence-classification model (one logit), so
``[pilotfish.plugin.cross-encoder-reranker] model = "pilotfish"`` (the cache) or a directory loads
it like any hub cross-encoder.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pilotfish.core.errors import InputError, ModelError
from pilotfish.data.cloze import cloze_pairs

from .documents import Passage, chunk_documents, load_directory

RERANKER_NAME = "reranker-minilm"


def default_reranker_path() -> Path:
    """Where ``pilotfish train reranker`` writes by default: ``<cache>/models/reranker-minilm``."""
    from pilotfish.models.cache import cache_dir

    return cache_dir() / "models" / RERANKER_NAME


@dataclass
class RerankerTrainConfig:
    queries: int = 1600
    group: int = 4
    batch_size: int = 8
    steps: int = 200
    lr: float = 3e-5
    head_lr: float = 1e-3
    max_length: int = 192
    max_minutes: float = 15.0
    init: str = "minilm"
    seed: int = 0
    exclude_docs: frozenset[str] = field(default_factory=frozenset)
    teacher: tuple[str, ...] = ()
    """Teacher question files or folders: each answerable question adds a group to the ``queries`` cloze ones."""
    judgements: tuple[str, ...] = ()
    """The teacher's relevance judgements of those questions' article passages: soft targets for their groups."""
    soft_weight: float = 0.5
    """Share of a judged group's target that is the teacher's distribution (the rest: the positive)."""
    judgement_use: str = "soft"
    """``soft``: soft targets; ``filter``: hard targets, a neighbour the teacher judged to state the answer
    (P(yes) >= 0.5) is never a negative."""

Group = tuple[str, list[str], list[float]]
"""(query, [positive, negatives...] as the index sees them, target distribution over them)."""


def _init_path(init: str) -> tuple[Path, str]:
    if init == "minilm":
        from pilotfish.models.packaged import minilm_path

        return Path(minilm_path()), "all-MiniLM-L6-v2"
    if init == "verifier":
        from pilotfish.models.cache import default_verifier_path

        path = default_verifier_path()
        if not (path / "config.json").is_file():
            raise ModelError(f"train reranker: --init verifier needs a trained verifier in {path}: run "
                             "`pilotfish train verifier --corpus DIR` first, or use --init minilm")
        return path, "verifier-minilm"
    path = Path(init).expanduser()
    if not (path / "config.json").is_file():
        raise InputError(f"train reranker: --init {init!r} is not 'verifier', 'minilm' or a checkpoint directory")
    return path, str(path)


def make_groups(passages: list[Passage], cfg: RerankerTrainConfig, rng: random.Random) -> list[Group]:
    """(query, [positive, negatives...], target) groups of ``cfg.group`` passage texts (as the index sees
    them); the target is one-hot on the positive, or soft for a judged teacher question."""
    by_doc: dict[str, list[Passage]] = {}
    for p in passages:
        by_doc.setdefault(p.doc_id, []).append(p)
    docs = list(by_doc)
    if len(docs) < 2:
        raise InputError("train reranker: the corpus needs at least two documents")
    hard = [1.0] + [0.0] * (cfg.group - 1)

    def group(q: str, p: Passage, judged: dict[str, float] | None = None) -> Group:
        same = [o for o in by_doc[p.doc_id] if o.id != p.id and o.text != p.text]
        rng.shuffle(same)
        if judged and cfg.judgement_use == "filter":
            same = [o for o in same if judged.get(o.id, UNJUDGED) < 0.5]
        elif judged:
            same.sort(key=lambda o: o.id not in judged)  # the judged passages first (a stable sort keeps them shuffled)
        negs = same[:cfg.group - 2]
        while len(negs) < cfg.group - 1:
            other = rng.choice(docs)
            if other != p.doc_id:
                negs.append(rng.choice(by_doc[other]))
        texts = [p.index_text()] + [n.index_text() for n in negs]
        if not judged or p.id not in judged or cfg.judgement_use == "filter":
            return q, texts, list(hard)
        soft = soft_target([judged[p.id]] + [judged.get(n.id, UNJUDGED) for n in negs])
        return q, texts, [(1 - cfg.soft_weight) * h + cfg.soft_weight * t for h, t in zip(hard, soft, strict=True)]

    groups = [group(q, p) for q, p, _ in cloze_pairs(passages, cfg.queries, rng)]
    if cfg.teacher:
        judged = judgement_map(cfg.judgements) if cfg.judgements else {}
        groups += [group(q, p, judged.get((q, p.id))) for q, p in teacher_pairs(passages, cfg.teacher, cfg.exclude_docs)]
    return groups


UNJUDGED = 0.01
"""P(yes) assumed for a negative the teacher did not judge (another article's passage)."""


def soft_target(p_yes: list[float]) -> list[float]:
    """The teacher's distribution over a group: a softmax of its log-odds of "yes" (clipped to [0.01, 0.99])."""
    import math

    logits = [math.log(min(max(p, 0.01), 0.99) / (1 - min(max(p, 0.01), 0.99))) for p in p_yes]
    top = max(logits)
    exps = [math.exp(v - top) for v in logits]
    return [e / sum(exps) for e in exps]


def judgement_map(paths: tuple[str, ...]) -> dict[tuple[str, str], dict[str, float]]:
    """(question, its passage id) -> {judged passage id: the teacher's P(yes)}."""
    from pilotfish.data.teacher_judgements import read_judgements

    return {(str(r["question"]), str(r["passage_id"])): {str(c["id"]): float(c["p_yes"]) for c in r["candidates"]}
            for r in read_judgements(paths)}


def teacher_pairs(passages: list[Passage], paths: tuple[str, ...],
                  exclude_docs: frozenset[str] = frozenset()) -> list[tuple[str, Passage]]:
    """(question, passage) for each answerable teacher question whose passage is in ``passages`` (by id);
    none matching is an error (the questions were written about another corpus or chunking)."""
    from pilotfish.data.teacher import read_teacher_records

    by_id = {p.id: p for p in passages}
    records = [r for r in read_teacher_records(paths) if r.get("kind", "answerable") == "answerable"
               and str(r.get("doc_id", "")) not in exclude_docs]
    pairs = [(str(r["question"]), by_id[str(r.get("passage_id"))]) for r in records
             if str(r.get("passage_id")) in by_id]
    if records and not pairs:
        raise InputError(f"train reranker: none of the {len(records)} teacher questions names a passage of this "
                         "corpus (passage ids as `pilotfish index` chunks it, 100 words); were they written about "
                         "another corpus?")
    return pairs


def train_reranker(corpus: str | Path, out: str | Path | None = None, cfg: RerankerTrainConfig | None = None,
                   progress: bool = False, force: bool = False) -> Path:
    """Train and save a cross-encoder reranker; returns its directory (default: the model cache).

    A non-empty ``out`` that pilotfish did not write is refused before training unless ``force``.
    """
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from pilotfish.core.outputs import check_output_dir, replace_dir

    dest = check_output_dir(Path(out) if out else default_reranker_path(), force)
    cfg = cfg or RerankerTrainConfig()
    if cfg.group < 2:
        raise InputError("train reranker: --group must be at least 2 (a positive and a negative)")
    if cfg.judgements and not cfg.teacher:
        raise InputError("train reranker: --judgements are the teacher's labels of its questions' passages; "
                         "give the questions too (--teacher)")
    if cfg.judgement_use not in ("soft", "filter"):
        raise InputError(f"train reranker: --judgement-use must be 'soft' or 'filter', got {cfg.judgement_use!r}")
    if not 0.0 <= cfg.soft_weight <= 1.0:
        raise InputError(f"train reranker: --soft-weight must be in [0, 1], got {cfg.soft_weight}")
    start = time.monotonic()
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    init_path, base = _init_path(cfg.init)
    docs = [d for d in load_directory(corpus).documents if d.doc_id not in cfg.exclude_docs]
    passages = chunk_documents(docs)
    groups = make_groups(passages, cfg, rng)
    pairs = teacher_pairs(passages, cfg.teacher, cfg.exclude_docs) if cfg.teacher else []
    asked = {q for q, _ in pairs}
    n_teacher = sum(1 for q, _, _ in groups if q in asked)
    judged_pairs = judgement_map(cfg.judgements) if cfg.judgements else {}
    n_judged = sum(1 for q, p in pairs if (q, p.id) in judged_pairs)
    if cfg.judgements and not n_judged:
        raise InputError(f"train reranker: no judgement in {', '.join(cfg.judgements)} is of a --teacher question "
                         "on this corpus (were they made from other questions?)")
    if not groups:
        raise InputError("train reranker: no training query could be built from the corpus (cloze questions need "
                         "sentences of 8+ words with a number or a name in them)")
    tok = AutoTokenizer.from_pretrained(str(init_path))
    net = AutoModelForSequenceClassification.from_pretrained(str(init_path), num_labels=1,
                                                             ignore_mismatched_sizes=True)
    net.config.id2label = {0: "relevance"}
    net.config.label2id = {"relevance": 0}
    net.config.problem_type = None  # a verifier's "single_label_classification" is invalid with one label
    head = [p for n, p in net.named_parameters() if n.startswith(("classifier", "bert.pooler"))]
    body = [p for n, p in net.named_parameters() if not n.startswith(("classifier", "bert.pooler"))]
    opt = torch.optim.AdamW([{"params": body, "lr": cfg.lr}, {"params": head, "lr": cfg.head_lr}],
                            weight_decay=0.01)
    net.train()
    bs = min(cfg.batch_size, len(groups))
    order = list(range(len(groups)))
    rng.shuffle(order)
    pos, step, losses = 0, 0, []
    bar = tqdm(total=cfg.steps, desc="train reranker", disable=not progress, dynamic_ncols=True)
    while step < cfg.steps and time.monotonic() - start < cfg.max_minutes * 60:
        if pos + bs > len(order):
            rng.shuffle(order)
            pos = 0
        batch = [groups[i] for i in order[pos:pos + bs]]
        pos += bs
        enc = tok([q for q, ps, _ in batch for _ in ps], [t for _, ps, _ in batch for t in ps],
                  truncation="only_second", max_length=cfg.max_length, padding=True, return_tensors="pt")
        logits = net(**enc).logits.view(len(batch), cfg.group)
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor([t for _, _, t in batch]))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        losses.append(float(loss.item()))
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    net.eval()
    window = max(1, min(25, len(losses) // 4))
    meta: dict[str, Any] = {
        "kind": "pilotfish-reranker", "base": base, "queries": len(groups), "group": cfg.group, "steps": step,
        "teacher": list(cfg.teacher), "teacher_queries": n_teacher,
        "judgements": list(cfg.judgements), "judged_queries": n_judged, "soft_weight": cfg.soft_weight,
        "judgement_use": cfg.judgement_use,
        "batch_size": bs, "lr": cfg.lr, "max_length": cfg.max_length, "seed": cfg.seed,
        "excluded_docs": len(cfg.exclude_docs), "seconds": round(time.monotonic() - start, 1),
        "loss_first": round(sum(losses[:window]) / window, 4) if losses else None,
        "loss_last": round(sum(losses[-window:]) / window, 4) if losses else None,
    }

    def write(tmp: Path) -> None:
        net.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "pilotfish_reranker.json").write_text(json.dumps(meta, indent=1))

    return replace_dir(dest, write, kind="reranker-checkpoint", force=force)

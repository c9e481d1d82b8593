"""``pilotfish train reader``: MiniLM + a span head, trained on the teacher's questions (black-box
distillation: the teacher's question/answer-span pairs are the labels), its hard negatives, and cloze
questions.

The validation split is by article (teacher questions of articles never trained on). Recorded beside the
weights (``pilotfish_reader.json``):

- ``val_f1`` / ``val_exact``: span F1 / exact match on the held-out answerable teacher questions, read from
  their passage (the score the ``reader`` id's quality floor checks);
- ``val_pick_accuracy``: on held-out questions read with their passage and a hard negative of the same
  article, the share where the answer comes from the right passage;
- ``val_abstain_accuracy``: the share of held-out no-answer items (hard negatives, unanswerable) where the
  reader abstains.
"""

from __future__ import annotations

import datetime
import json
import random
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pilotfish.core.errors import InputError
from pilotfish.data.records import shipped_dir
from pilotfish.data.teacher import read_teacher_records

from .examples import VAL_SHARE, QAExample, cloze_examples, split_by_article, teacher_examples
from .model import MAX_LENGTH, META_FILE, SCORE_KEY, ExtractiveReader

DEFAULT_DATA = "datasets/teacher-questions/state"
"""The teacher questions the project ships (relative to the repository root)."""


def default_data() -> Path:
    """The shipped teacher questions: ``datasets/teacher-questions/state`` of the source checkout."""
    return shipped_dir(DEFAULT_DATA, f"no teacher questions found ({DEFAULT_DATA} of the source checkout); pass "
                       "--data FILE|DIR with questions made by `pilotfish synthesize questions`")


def _progress(message: str) -> None:
    print(f"pilotfish: {message}", file=sys.stderr, flush=True)


def _features(tokenizer: Any, examples: Sequence[QAExample]) -> list[dict[str, Any]]:
    enc = tokenizer([x.question for x in examples], [x.context for x in examples], truncation="only_second",
                    max_length=MAX_LENGTH, return_offsets_mapping=True)
    feats = []
    for i, x in enumerate(examples):
        seq = enc.sequence_ids(i)
        offsets = enc["offset_mapping"][i]
        start_tok = end_tok = 0
        if x.start is not None:
            end_char = x.end or x.start
            toks = [t for t, s in enumerate(seq) if s == 1 and offsets[t][0] < end_char and offsets[t][1] > x.start]
            if toks:
                start_tok, end_tok = toks[0], toks[-1]
        feats.append({"input_ids": enc["input_ids"][i], "token_type_ids": enc["token_type_ids"][i],
                      "start": start_tok, "end": end_tok})
    return feats


def _batches(feats: list[dict[str, Any]], batch_size: int, rng: random.Random) -> list[list[dict[str, Any]]]:
    """Batches of similar length (little padding), in random order."""
    order = sorted(range(len(feats)), key=lambda i: (len(feats[i]["input_ids"]), rng.random()))
    batches = [[feats[i] for i in order[k:k + batch_size]] for k in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def _collate(batch: list[dict[str, Any]], pad_id: int) -> dict[str, Any]:
    import torch

    n = max(len(f["input_ids"]) for f in batch)
    ids = torch.full((len(batch), n), pad_id, dtype=torch.long)
    types = torch.zeros((len(batch), n), dtype=torch.long)
    mask = torch.zeros((len(batch), n), dtype=torch.long)
    for i, f in enumerate(batch):
        k = len(f["input_ids"])
        ids[i, :k] = torch.tensor(f["input_ids"])
        types[i, :k] = torch.tensor(f["token_type_ids"])
        mask[i, :k] = 1
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask,
            "start_positions": torch.tensor([f["start"] for f in batch]),
            "end_positions": torch.tensor([f["end"] for f in batch])}


def span_f1(prediction: str, gold: str) -> float:
    from pilotfish.data.teacher import normalize_answer

    p, g = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not p or not g:
        return float(p == g)
    common = sum(min(p.count(w), g.count(w)) for w in set(p))
    if not common:
        return 0.0
    prec, rec = common / len(p), common / len(g)
    return 2 * prec * rec / (prec + rec)


def evaluate_reader(reader: ExtractiveReader, val: Sequence[QAExample]) -> dict[str, Any]:
    """The held-out scores recorded with a reader (see the module doc)."""
    from pilotfish.data.teacher import normalize_answer

    answerable = [x for x in val if x.start is not None and x.source == "teacher"]
    negatives = {x.question: x for x in val if x.source == "teacher-negative"}
    nulls = [x for x in val if x.start is None]
    f1s, exact, picks = [], [], []
    for x in answerable:
        spans = reader.spans(x.question, [x.context])
        got = spans[0].text if spans[0] is not None else ""
        f1s.append(span_f1(got, x.answer))
        exact.append(normalize_answer(got) == normalize_answer(x.answer))
        neg = negatives.get(x.question)
        if neg is not None:
            best, _ = reader.read(x.question, [x.context, neg.context], null_margin=-1e9)
            picks.append(best is not None and best.passage == 0)
    abstain = []
    for x in nulls:
        best, _ = reader.read(x.question, [x.context])
        abstain.append(best is None)

    def mean(xs: list[Any]) -> float | None:
        return round(sum(xs) / len(xs), 4) if xs else None

    return {SCORE_KEY: mean(f1s), "val_exact": mean(exact), "val_pick_accuracy": mean(picks),
            "val_abstain_accuracy": mean(abstain), "val_answerable": len(answerable), "val_null": len(nulls)}


def build_examples(data: Sequence[str | Path], *, cloze: int, seed: int, val_share: float,
                   exclude_docs: set[str]) -> tuple[list[QAExample], list[QAExample], dict[str, Any]]:
    """Train and validation examples from the teacher files (plus cloze questions on the training
    articles), every excluded article left out."""
    from pilotfish.data.corpora import bbc_dir
    from pilotfish.retrievers.documents import chunk_documents, load_directory, normalize_ws

    records = [r for r in read_teacher_records(data) if str(r.get("doc_id", "")) not in exclude_docs]
    if not records:
        raise InputError("no teacher questions left to train on (all excluded?)")
    with warnings.catch_warnings():  # the corpus' one undecodable file: said once by `pilotfish index`
        warnings.simplefilter("ignore")
        docs = load_directory(bbc_dir()).documents
    banned_text = {normalize_ws(d.text) for d in docs if d.doc_id in exclude_docs}
    docs = [d for d in docs if d.doc_id not in exclude_docs and normalize_ws(d.text) not in banned_text]
    passages = chunk_documents(docs)
    by_doc: dict[str, list[Any]] = {}
    for p in passages:
        by_doc.setdefault(p.doc_id, []).append(p)
    teacher, missed = teacher_examples(records, by_doc, seed=seed)
    train, val = split_by_article(teacher, val_share)
    val_docs = {x.doc_id for x in val}
    cloze_pool = [p for p in passages if p.doc_id not in val_docs]
    extra = cloze_examples(cloze_pool, cloze, seed=seed) if cloze > 0 else []
    stats = {"teacher_records": len(records), "teacher_answers_not_found": missed,
             "train_by_source": _count(train + extra), "val_by_source": _count(val)}
    return train + extra, val, stats


def _count(xs: Sequence[QAExample]) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in xs:
        out[x.source] = out.get(x.source, 0) + 1
    return out


def _mean(xs: list[float]) -> float:
    return round(sum(xs) / max(1, len(xs)), 4)


def train_reader(out: str | Path, *, data: Sequence[str | Path] = (), cloze: int = 3000, epochs: float = 2.0,
                 batch_size: int = 16, lr: float = 1e-4, seed: int = 0, val_share: float = VAL_SHARE,
                 exclude_docs: Sequence[str] = (), max_minutes: float | None = None,
                 limit: int | None = None, progress: Callable[[str], None] = _progress) -> dict[str, Any]:
    """Train a reader into ``out`` and record its held-out scores; returns the metadata. ``limit`` caps the
    training examples (tests train a small one)."""
    from pilotfish.models.hf import require_torch, require_transformers
    from pilotfish.models.packaged import minilm_path

    torch = require_torch()
    transformers = require_transformers()
    if epochs <= 0 or batch_size < 1 or lr <= 0:
        raise InputError("epochs and lr must be positive and batch_size at least 1")
    data = list(data) or [default_data()]
    start = time.perf_counter()
    train, val, stats = build_examples(data, cloze=cloze, seed=seed, val_share=val_share,
                                       exclude_docs=set(exclude_docs))
    rng = random.Random(seed)
    rng.shuffle(train)
    if limit is not None:
        train = train[:limit]
        stats["train_by_source"] = _count(train)
    if not train or not any(x.start is not None for x in train):
        raise InputError("no answerable training examples (are the teacher files empty?)")
    torch.manual_seed(seed)
    base = minilm_path()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(base))
    model = transformers.AutoModelForQuestionAnswering.from_pretrained(str(base), dtype=torch.float32)
    feats = _features(tokenizer, train)
    steps_per_epoch = (len(feats) + batch_size - 1) // batch_size
    total = max(1, int(steps_per_epoch * epochs))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    progress(f"training the reader: {len(feats)} examples ({stats['train_by_source']}), {total} steps")
    model.train()
    step, losses, stopped = 0, [], None
    deadline = start + max_minutes * 60 if max_minutes else None
    while step < total and stopped is None:
        for batch in _batches(feats, batch_size, rng):
            loss = model(**_collate(batch, tokenizer.pad_token_id or 0)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            losses.append(float(loss.detach()))
            step += 1
            if step % 20 == 0 or step == total:
                rate = (time.perf_counter() - start) / step
                progress(f"reader step {step}/{total}, loss {sum(losses[-20:]) / len(losses[-20:]):.3f}, "
                         f"~{rate * (total - step) / 60:.1f} min left")
            if step >= total:
                break
            if deadline and time.perf_counter() > deadline:
                stopped = f"stopped at step {step} of {total} (--max-minutes {max_minutes})"
                progress(stopped)
                break
    model.eval()
    window = max(1, min(20, len(losses) // 4))  # first and last quarter (at most 20 steps): never overlapping
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    meta: dict[str, Any] = {"kind": "pilotfish-reader", "base": "minilm", "max_length": MAX_LENGTH,
                            "train_examples": len(feats), "steps": step, "planned_steps": total, "epochs": epochs,
                            "batch_size": batch_size, "lr": lr, "seed": seed, "cloze": cloze,
                            "data": [str(d) for d in data], "excluded_docs": len(set(exclude_docs)),
                            "loss_first": _mean(losses[:window]), "loss_last": _mean(losses[-window:]),
                            "loss_window": window,
                            "stopped_early": stopped, **stats}
    (out / META_FILE).write_text(json.dumps(meta), encoding="utf-8")  # unscored yet: the loader needs it
    reader = ExtractiveReader(out)
    meta.update(evaluate_reader(reader, val))
    meta["seconds"] = round(time.perf_counter() - start, 1)
    meta["trained"] = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    tmp = out / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out / META_FILE)
    return meta

"""``pilotfish train lingua``: the keep classifier, distilled from the compressions the large model judged.

Labels (one example per judged question, :func:`soft_labels`): a word's target P(keep) is the average of
the candidates' keep masks, each weighted by the teacher's P(yes) for it times the share of the teacher's
answer it still holds. Questions where no candidate keeps any word of the answer teach nothing and are
skipped.

Held-out by article (``val_share`` of the articles, never trained on), recorded beside the weights
(``pilotfish_lingua.json``):

- ``val_label_f1``: F1 of the words the classifier keeps (the top 1/ratio) against the top 1/ratio of the
  soft labels;
- ``val_answer_kept`` against ``val_answer_kept_logprob``: the share of held-out questions whose answer
  is still in the passage after keeping 1/ratio of its words, by the classifier and by the log-prob method
  (the drafter's self-information, the first candidate of every record): the comparison the issue asks for.
"""

from __future__ import annotations

import datetime
import json
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pilotfish.core.errors import InputError
from pilotfish.data.records import shipped_dir
from pilotfish.data.teacher import normalize_answer
from pilotfish.data.teacher_compressions import apply_mask, read_compressions

from .model import KIND, MAX_LENGTH, META_FILE, KeepClassifier, encode_words, first_tokens

DEFAULT_DATA = "datasets/teacher-compressions/state"


def default_data() -> Path:
    """The shipped judged compressions (``datasets/teacher-compressions/state`` of the source checkout)."""
    return shipped_dir(DEFAULT_DATA, f"no judged compressions found ({DEFAULT_DATA} of the source checkout); pass "
                       "--data FILE|DIR made by `pilotfish synthesize compressions`")


def _progress(message: str) -> None:
    print(f"pilotfish: {message}", file=sys.stderr, flush=True)


def answer_recall(answer: str, kept: str) -> float:
    """The share of the answer's words (normalised) that are among the kept words."""
    want = set(normalize_answer(answer).split())
    return len(want & set(normalize_answer(kept).split())) / len(want) if want else 1.0


def soft_labels(record: dict[str, Any]) -> list[float] | None:
    """Each word's target P(keep): the candidates' keep masks averaged with the weight the teacher gives each
    candidate, its P(yes) times the share of the teacher's answer it still holds. ``None`` when no candidate
    keeps any of the answer (the record teaches nothing).

    Why the answer term: the judge's P(yes) also rewards a compression that is on topic and reads well (on the
    Roxy Music passage it says 0.86 for the whole passage without "Virginia Plain"), and at a third of the
    words few candidates keep a whole multi-word answer (10 of the first 32 questions)."""
    words = list(record["words"])
    answer = str(record.get("answer") or "")
    total = [0.0] * len(words)
    weight_sum = 0.0
    for c in record["candidates"]:
        keep = str(c["keep"])
        w = float(c["p_yes"]) * answer_recall(answer, apply_mask(words, keep))
        weight_sum += w
        for i, m in enumerate(keep):
            if m == "1":
                total[i] += w
    return [t / weight_sum for t in total] if weight_sum > 0 else None


def split_by_article(records: Sequence[dict[str, Any]], val_share: float, seed: int) -> tuple[list, list]:
    docs = sorted({str(r.get("doc_id", r.get("id"))) for r in records})
    random.Random(seed).shuffle(docs)
    val_docs = set(docs[: max(1, int(round(len(docs) * val_share)))]) if val_share > 0 and len(docs) > 1 else set()
    return ([r for r in records if str(r.get("doc_id", r.get("id"))) not in val_docs],
            [r for r in records if str(r.get("doc_id", r.get("id"))) in val_docs])


def top_mask(scores: Sequence[float], ratio: float) -> str:
    keep_n = max(1, math.ceil(len(scores) / ratio))
    top = set(sorted(range(len(scores)), key=lambda i: -scores[i])[:keep_n])
    return "".join("1" if i in top else "0" for i in range(len(scores)))


def _f1(pred: str, gold: str) -> float:
    tp = sum(p == g == "1" for p, g in zip(pred, gold, strict=True))
    if not tp:
        return 0.0
    prec, rec = tp / pred.count("1"), tp / gold.count("1")
    return 2 * prec * rec / (prec + rec)


def evaluate(classifier: KeepClassifier, val: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The held-out scores recorded with a classifier (see the module doc)."""
    f1s, kept, kept_lp, n_answer = [], 0, 0, 0
    for r in val:
        words = list(r["words"])
        ratio = float(r.get("ratio", 3.0))
        scores = [s for _, s in classifier.keep_scores(str(r["question"]), [" ".join(words)])[0]]
        mask = top_mask(scores, ratio)
        soft = soft_labels(r)
        if soft is not None:
            f1s.append(_f1(mask, top_mask(soft, ratio)))
        answer = normalize_answer(str(r.get("answer") or ""))
        if answer and answer in normalize_answer(" ".join(words)):
            n_answer += 1
            kept += answer in normalize_answer(apply_mask(words, mask))
            kept_lp += answer in normalize_answer(apply_mask(words, str(r["candidates"][0]["keep"])))
    return {"val_label_f1": round(sum(f1s) / len(f1s), 4) if f1s else None, "val_labelled": len(f1s),
            "val_questions": len(val), "val_with_answer": n_answer,
            "val_answer_kept": round(kept / n_answer, 4) if n_answer else None,
            "val_answer_kept_logprob": round(kept_lp / n_answer, 4) if n_answer else None}


def train_lingua(out: str | Path, *, data: Sequence[str | Path] = (), epochs: float = 4.0, batch_size: int = 16,
                 lr: float = 5e-5, seed: int = 0, val_share: float = 0.15,
                 exclude_docs: Sequence[str] = (), limit: int | None = None,
                 progress: Callable[[str], None] = _progress) -> dict[str, Any]:
    """Train a keep classifier into ``out`` and record its held-out scores; returns the metadata. ``limit``
    caps the training examples (tests train a small one)."""
    from pilotfish.models.hf import require_torch, require_transformers
    from pilotfish.models.packaged import minilm_path

    torch = require_torch()
    transformers = require_transformers()
    if epochs <= 0 or batch_size < 1 or lr <= 0:
        raise InputError("epochs and lr must be positive and batch_size at least 1")
    data = list(data) or [default_data()]
    start = time.perf_counter()
    banned = set(exclude_docs)
    records = [r for r in read_compressions(data) if str(r.get("doc_id", "")) not in banned]
    train_recs, val = split_by_article(records, val_share, seed)
    examples = [(str(r["question"]), list(r["words"]), t) for r in train_recs if (t := soft_labels(r)) is not None]
    rng = random.Random(seed)
    rng.shuffle(examples)
    if limit is not None:
        examples = examples[:limit]
    if not examples:
        raise InputError(f"no training examples: no judged compression kept any of the teacher's answer "
                         f"({len(train_recs)} training questions)")
    torch.manual_seed(seed)
    base = minilm_path()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(base))
    model = transformers.AutoModelForTokenClassification.from_pretrained(
        str(base), num_labels=2, id2label={0: "drop", 1: "keep"}, label2id={"drop": 0, "keep": 1},
        dtype=torch.float32)
    steps_per_epoch = (len(examples) + batch_size - 1) // batch_size
    total = max(1, int(steps_per_epoch * epochs))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    progress(f"training the keep classifier: {len(examples)} examples ({len(val)} held-out questions), {total} steps")
    model.train()
    step, losses = 0, []
    while step < total:
        order = list(range(len(examples)))
        rng.shuffle(order)
        for k in range(0, len(order), batch_size):
            batch = [examples[i] for i in order[k:k + batch_size]]
            enc = encode_words(tokenizer, [q for q, _, _ in batch], [w for _, w, _ in batch])
            target = torch.zeros(enc["input_ids"].shape)
            counted = torch.zeros(enc["input_ids"].shape, dtype=torch.bool)
            for row, (_, _, soft) in enumerate(batch):
                for word, pos in first_tokens(enc, row).items():
                    target[row, pos] = soft[word]
                    counted[row, pos] = True
            logp = torch.log_softmax(model(**enc).logits, dim=-1)  # soft cross-entropy on each word's first token
            loss = -((target * logp[..., 1] + (1 - target) * logp[..., 0])[counted]).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            losses.append(float(loss.detach()))
            step += 1
            if step % 10 == 0 or step == total:
                progress(f"lingua step {step}/{total}, loss {sum(losses[-10:]) / len(losses[-10:]):.3f}")
            if step >= total:
                break
    model.eval()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    window = max(1, min(10, len(losses) // 4))
    meta: dict[str, Any] = {"kind": KIND, "base": "minilm", "max_length": MAX_LENGTH, "train_examples": len(examples),
                            "train_questions": len(train_recs), "steps": step, "epochs": epochs,
                            "batch_size": batch_size, "lr": lr, "seed": seed,
                            "data": [str(d) for d in data], "excluded_docs": len(banned),
                            "loss_first": round(sum(losses[:window]) / window, 4),
                            "loss_last": round(sum(losses[-window:]) / window, 4)}
    (out / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    meta.update(evaluate(KeepClassifier(out), val))
    meta["seconds"] = round(time.perf_counter() - start, 1)
    meta["trained"] = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    tmp = out / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out / META_FILE)
    return meta

"""Distillation: black-box (the teacher's labels or answers) and white-box (its token distributions).

- :func:`distill_classification`: the teacher labels texts (:func:`~pilotfish.data.synthesis.label_texts`,
  zero- or few-shot, confidence from log-probs), a MiniLM :class:`~pilotfish.data.classifier.TextClassifier`
  is trained on those labels; student and teacher are evaluated on held-out gold labels
  (accuracy, examples/s).
- :func:`distill_generation`: the teacher answers prompts (optionally with a rationale first, as
  in Distilling step-by-step), a causal-LM student is fine-tuned on the answers (loss on the
  answer tokens only).
- :func:`distill_whitebox`: a same-tokenizer student learns the teacher's next-token
  distributions: ``KL(p_teacher^T || p_student^T) * T^2`` on every position of the training texts.
  The student is any white-box model id, or ``truncate:K`` (the teacher's first ``K`` layers,
  e.g. a same-tokenizer draft for speculative decoding).
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pilotfish.core.errors import InputError, WhiteBoxRequiredError
from pilotfish.core.models import get_model

from .classifier import TextClassifier
from .records import Record, as_records, derive, provenance
from .synthesis import SynthesisReport, label_texts


@dataclass
class DistillResult:
    """A trained student, what it was trained on, and measured numbers."""

    task: str
    student: Any
    metrics: dict[str, Any] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    report: SynthesisReport | None = None
    path: Path | None = None


# --- classification --------------------------------------------------------------------------


def distill_classification(
    records: Sequence[str] | Sequence[Record],
    labels: Sequence[str],
    teacher: Any = "hf:smollm2-135m",
    *,
    heldout: Sequence[Record] = (),
    instruction: str = "Classify the text.",
    label_words: dict[str, str] | None = None,
    calibrate: bool = True,
    soft: bool = False,
    student_mode: str = "head",
    epochs: int | None = None,
    eval_teacher: bool = True,
    out: str | Path | None = None,
    max_chars: int = 600,
) -> DistillResult:
    """Teacher labels ``records``; a MiniLM student learns them; both are scored on ``heldout``."""
    train = as_records(records)
    labelled = label_texts(train, labels, teacher, instruction=instruction, label_words=label_words,
                           calibrate=calibrate, max_chars=max_chars)
    if not labelled.records:
        raise InputError(f"the teacher produced no usable label ({labelled.report.summary()})")
    targets = [r["label_probs"] if soft and "label_probs" in r else r["label"] for r in labelled.records]
    student = TextClassifier(list(labels), mode=student_mode)
    t0 = time.perf_counter()
    student.fit([r["text"] for r in labelled.records], targets, epochs=epochs)
    metrics: dict[str, Any] = {"train_examples": len(labelled.records), "train_seconds": time.perf_counter() - t0,
                               "teacher_unparseable": labelled.report.unparseable,
                               "teacher_label_seconds_per_example": labelled.report.seconds / max(1, len(train))}
    if heldout:
        gold = [r["label"] for r in heldout]
        texts = [r["text"] for r in heldout]
        metrics["student"] = student.evaluate(texts, gold)
        if eval_teacher:
            res = label_texts(list(heldout), labels, teacher, instruction=instruction, label_words=label_words,
                              calibrate=calibrate, max_chars=max_chars)
            by_id = {r["provenance"]["source"]: r["label"] for r in res.records}
            correct = sum(by_id.get(r["id"]) == r["label"] for r in heldout)
            metrics["teacher"] = {"accuracy": correct / len(heldout), "n": len(heldout),
                                  "examples_per_s": len(heldout) / max(res.report.seconds, 1e-9),
                                  "unparseable": res.report.unparseable}
        gold_in_train = [r.get("gold_label") for r in labelled.records]
        if all(gold_in_train):
            metrics["teacher_train_label_accuracy"] = sum(
                a == b for a, b in zip(gold_in_train, [r["label"] for r in labelled.records], strict=False)) / len(gold_in_train)
    path = None
    if out is not None:
        path = student.save(out)
        (path / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return DistillResult("classification", student, metrics, labelled.records, labelled.report, path)


# --- causal LM students --------------------------------------------------------------------------


def truncated_copy(model: Any, layers: int, model_id: str | None = None) -> Any:
    """A trainable copy of a Hugging Face causal LM keeping its first ``layers`` decoder layers."""
    from pilotfish.models.hf import HFCausalLM

    if not hasattr(model, "model") or not hasattr(model.model, "model") or not hasattr(model.model.model, "layers"):
        raise InputError(f"cannot truncate {getattr(model, 'model_id', model)!r}: not a decoder-only HF model")
    total = len(model.model.model.layers)
    if not 1 <= layers <= total:
        raise InputError(f"truncate:{layers} is out of range: the teacher has {total} layers")
    module = copy.deepcopy(model.model)
    module.model.layers = module.model.layers[:layers]
    module.config.num_hidden_layers = layers
    if getattr(module.config, "layer_types", None):
        module.config.layer_types = module.config.layer_types[:layers]
    return HFCausalLM(module, model.tokenizer, model_id or f"{model.model_id}-first{layers}")


def resolve_student(student: Any, teacher: Any) -> Any:
    """A student model: ``truncate:K`` of the teacher, or any white-box model id or object.

    The student is trained in place; a shared model from :func:`get_model` is copied first so
    other plugins keep the original weights.
    """
    if isinstance(student, str) and student.startswith("truncate:"):
        try:
            k = int(student.split(":", 1)[1])
        except ValueError:
            raise InputError(f"student {student!r}: write truncate:<number of layers>") from None
        return truncated_copy(teacher, k)
    lm = get_model(student)
    if not getattr(lm, "white_box", False) or not hasattr(lm, "model"):
        raise WhiteBoxRequiredError("distill (student)", lm)
    from pilotfish.models.hf import HFCausalLM

    return HFCausalLM(copy.deepcopy(lm.model), lm.tokenizer, f"{lm.model_id}-student")


def check_same_tokenizer(teacher: Any, student: Any) -> None:
    probe = "The quick brown fox, 42 times: naïve café."
    if teacher.vocab_size != student.vocab_size or teacher.encode(probe) != student.encode(probe):
        raise InputError(
            f"white-box distillation needs the same tokenizer: {teacher.model_id} (vocab {teacher.vocab_size}) and "
            f"{student.model_id} (vocab {student.vocab_size}) differ; use black-box distillation (task generation)")


def _token_batches(lm: Any, texts: Sequence[str], max_tokens: int) -> list[list[int]]:
    bos = [lm.tokenizer.bos_token_id] if lm.tokenizer.bos_token_id is not None else []
    out = []
    for t in texts:
        ids = (bos + lm.encode(t))[:max_tokens]
        if len(ids) >= 2:
            out.append(ids)
    if not out:
        raise InputError("no training text is long enough (at least two tokens)")
    return out


def _kl(teacher_logits: Any, student_logits: Any, temperature: float) -> Any:
    import torch.nn.functional as F

    t = F.log_softmax(teacher_logits / temperature, dim=-1)
    s = F.log_softmax(student_logits / temperature, dim=-1)
    return (t.exp() * (t - s)).sum(-1).mean() * temperature**2


def whitebox_eval(teacher: Any, student: Any, seqs: Sequence[list[int]]) -> dict[str, float]:
    """Mean per-token KL(teacher || student) and top-1 agreement on ``seqs``."""
    import torch

    kls, agree, n = 0.0, 0, 0
    with torch.inference_mode():
        for ids in seqs:
            x = torch.tensor([ids])
            tl = teacher.model(input_ids=x).logits[0].float()
            sl = student.model(input_ids=x).logits[0].float()
            kls += float(_kl(tl, sl, 1.0)) * len(ids)
            agree += int((tl.argmax(-1) == sl.argmax(-1)).sum())
            n += len(ids)
    return {"kl": kls / n, "top1_agreement": agree / n, "tokens": n}


def distill_whitebox(
    texts: Sequence[str] | Sequence[Record],
    teacher: Any = "hf:smollm2-135m",
    student: Any = "truncate:8",
    *,
    heldout: Sequence[str] = (),
    steps: int = 50,
    lr: float = 3e-4,
    temperature: float = 1.0,
    max_tokens: int = 128,
    seed: int = 0,
    out: str | Path | None = None,
) -> DistillResult:
    """Train ``student`` to match ``teacher``'s next-token distributions on ``texts``."""
    import torch

    train_texts = [r["text"] for r in as_records(texts)]
    t_lm = get_model(teacher)
    if not getattr(t_lm, "white_box", False) or not hasattr(t_lm, "model"):
        raise WhiteBoxRequiredError("distill (whitebox teacher)", t_lm)
    s_lm = resolve_student(student, t_lm)
    check_same_tokenizer(t_lm, s_lm)
    if steps < 1:
        raise InputError(f"steps must be >= 1, got {steps}")
    train = _token_batches(t_lm, train_texts, max_tokens)
    evalset = _token_batches(t_lm, list(heldout), max_tokens) if heldout else train[: min(8, len(train))]
    before = whitebox_eval(t_lm, s_lm, evalset)
    torch.manual_seed(seed)
    s_lm.model.train()
    opt = torch.optim.AdamW(s_lm.model.parameters(), lr=lr)
    losses = []
    start = time.perf_counter()
    for step in range(steps):
        ids = torch.tensor([train[step % len(train)]])
        with torch.no_grad():
            tl = t_lm.model(input_ids=ids).logits[0].float()
        sl = s_lm.model(input_ids=ids).logits[0].float()
        loss = _kl(tl, sl, temperature)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(s_lm.model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
    s_lm.model.eval()
    after = whitebox_eval(t_lm, s_lm, evalset)
    metrics = {"before": before, "after": after, "steps": steps, "train_seconds": time.perf_counter() - start,
               "first_losses": losses[:3], "last_losses": losses[-3:],
               "teacher": t_lm.model_id, "student": s_lm.model_id}
    path = _save_lm(s_lm, out, metrics) if out is not None else None
    return DistillResult("whitebox", s_lm, metrics, path=path)


def _save_lm(lm: Any, out: str | Path, metrics: dict[str, Any]) -> Path:
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    lm.model.save_pretrained(str(d))
    lm.tokenizer.save_pretrained(str(d))
    (d / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return d


# --- generation (black-box, SFT on teacher answers) -----------------------------------------------

RATIONALE_SUFFIX = "\n\nFirst explain your reasoning in one sentence, then give the answer."


def distill_generation(
    prompts: Sequence[str] | Sequence[Record],
    teacher: Any = "hf:smollm2-135m",
    student: Any = "truncate:8",
    *,
    heldout: Sequence[str] = (),
    rationale: bool = False,
    max_answer_tokens: int = 48,
    steps: int = 50,
    lr: float = 3e-4,
    seed: int = 0,
    out: str | Path | None = None,
) -> DistillResult:
    """The teacher (any model, black-box included) answers; the student is fine-tuned on the answers.

    Reports the student's mean token log-prob of the teacher's answers on held-out prompts
    before and after training (higher = closer to the teacher).
    """
    import torch

    records = as_records(prompts)
    t_lm = get_model(teacher)
    t_id = getattr(t_lm, "model_id", str(teacher))
    s_lm = resolve_student(student, t_lm) if (isinstance(student, str) and student.startswith("truncate:")
                                             and hasattr(t_lm, "model")) else None
    if s_lm is None:
        if isinstance(student, str) and student.startswith("truncate:"):
            raise WhiteBoxRequiredError("distill (truncate: needs a white-box teacher)", t_lm)
        s_lm = resolve_student(student, t_lm)
    report = SynthesisReport("teacher answers", t_id, inputs=len(records))
    start = time.perf_counter()

    def answer(text: str) -> str:
        return t_lm.generate(text + (RATIONALE_SUFFIX if rationale else ""), max_tokens=max_answer_tokens,
                             temperature=0.0).text.strip()

    data: list[Record] = []
    for rec in records:
        resp = answer(rec["text"])
        if not resp:
            report.note_unparseable(resp)
            continue
        data.append(derive(rec, rec["text"], prov=provenance("distill", model=t_id,
                                                             prompt="rationale" if rationale else "answer"),
                           suffix="teacher", response=resp))
    if not data:
        raise InputError(f"the teacher produced no answer ({report.summary()})")
    report.outputs = len(data)
    report.seconds = time.perf_counter() - start
    held = [(p, answer(p)) for p in heldout] if heldout else [(r["text"], r["response"]) for r in data[:4]]

    def pairs(prompt: str, resp: str) -> tuple[list[int], int]:
        p_ids = s_lm.prompt_ids(prompt + (RATIONALE_SUFFIX if rationale else ""))
        r_ids = s_lm.encode(resp) + list(s_lm.eos_token_ids[:1])
        return p_ids + r_ids, len(p_ids)

    def mean_logprob() -> float:
        tot, n = 0.0, 0
        with torch.inference_mode():
            for p, r in held:
                ids, cut = pairs(p, r)
                logp = torch.log_softmax(s_lm.model(input_ids=torch.tensor([ids])).logits[0, :-1].float(), -1)
                picked = logp.gather(1, torch.tensor(ids[1:])[:, None])[:, 0][cut - 1 :]
                tot += float(picked.sum())
                n += len(picked)
        return tot / max(n, 1)

    before = mean_logprob()
    torch.manual_seed(seed)
    s_lm.model.train()
    opt = torch.optim.AdamW(s_lm.model.parameters(), lr=lr)
    t0 = time.perf_counter()
    for step in range(steps):
        rec = data[step % len(data)]
        ids, cut = pairs(rec["text"], rec["response"])
        labels = [-100] * cut + ids[cut:]
        loss = s_lm.model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(s_lm.model.parameters(), 1.0)
        opt.step()
    s_lm.model.eval()
    metrics = {"heldout_mean_logprob_before": before, "heldout_mean_logprob_after": mean_logprob(),
               "heldout_ppl_after": math.exp(-mean_logprob()), "steps": steps,
               "train_seconds": time.perf_counter() - t0, "teacher_unparseable": report.unparseable,
               "teacher": t_id, "student": s_lm.model_id}
    path = _save_lm(s_lm, out, metrics) if out is not None else None
    return DistillResult("generation", s_lm, metrics, data, report, path)

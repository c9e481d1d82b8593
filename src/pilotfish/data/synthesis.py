"""Data synthesis with any pilotfish model: from scratch, label-only, paraphrase augmentation.

- :func:`generate_examples` (ZeroGen-style): a task description and a label set in, labelled
  examples written by the model out.
- :func:`label_texts` (label-only, as GPT-3 labelling): the model labels existing texts, zero-
  or few-shot. On a white-box model every label's continuation is scored with token
  log-probs (one prompt pass, the KV cache reused per label), so the confidence is a real
  probability over the label set; optional contextual calibration (Zhao et al. 2021) removes
  the model's prior for each label. On a black-box model the generated text is parsed, and the
  confidence is the exp of the mean token log-prob where the model reports it.
- :func:`paraphrase` (AugGPT-style): the model rewrites existing examples.

Every output record carries provenance (plugin, model, prompt, source record). Outputs that
cannot be parsed are counted in the :class:`SynthesisReport` with a few raw samples, never
silently dropped. Near-duplicates among the outputs are removed (:mod:`pilotfish.data.dedup`).
"""

from __future__ import annotations

import copy
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pilotfish.core.errors import InputError
from pilotfish.core.models import get_model

from .dedup import dedup as _dedup
from .records import Record, as_records, derive, make_record, provenance

PLUGIN = "synthesis"

LABEL_PROMPT = (
    "{instruction}\n\nPossible labels: {labels}.\n\nText: {text}\n\n"
    "Answer with exactly one label from the list."
)
SCRATCH_PROMPT = (
    "Task: {task}\n\nWrite one new, realistic example text for this task whose correct label is "
    '"{label}". Make it specific ({hint}). Reply with the example text only.'
)
PARAPHRASE_PROMPT = (
    "Rewrite the following text in different words. Keep its meaning and its facts. "
    "Reply with the rewritten text only.\n\nText: {text}"
)
_HINTS = ("a few sentences", "one or two sentences", "a short paragraph", "a headline and a sentence",
          "a news-style sentence", "an informal sentence")


@dataclass
class SynthesisReport:
    """What happened: counts a user can check, and samples of what could not be parsed."""

    method: str
    model: str
    inputs: int = 0
    outputs: int = 0
    unparseable: int = 0
    unparseable_samples: list[str] = field(default_factory=list)
    duplicates_removed: int = 0
    seconds: float = 0.0
    dropped: dict[str, int] = field(default_factory=dict)
    """Candidates a filter removed, by reason (e.g. the teacher's round trip)."""

    def note_unparseable(self, raw: str) -> None:
        self.unparseable += 1
        if len(self.unparseable_samples) < 5:
            self.unparseable_samples.append(raw[:200])

    def summary(self) -> str:
        return (f"{self.method} with {self.model}: {self.inputs} in, {self.outputs} out, "
                f"{self.unparseable} unparseable, {self.duplicates_removed} near-duplicates removed, "
                + "".join(f"{n} dropped ({why}), " for why, n in self.dropped.items())
                + f"{self.seconds:.1f} s")


@dataclass
class SynthesisResult:
    records: list[Record]
    report: SynthesisReport


def _check_labels(labels: Sequence[str]) -> list[str]:
    labels = [str(x).strip() for x in labels if str(x).strip()]
    if len(labels) < 2:
        raise InputError(f"give at least two labels, got {labels!r}")
    if len(set(labels)) != len(labels):
        raise InputError(f"labels must be distinct, got {labels!r}")
    return labels


# --- label-only ------------------------------------------------------------------------------


def label_messages(text: str, labels: Sequence[str], *, instruction: str, examples: Sequence[tuple[str, str]] = (),
                   max_chars: int = 1000) -> list[dict[str, str]]:
    """The chat prompt used to label one text (few-shot examples become earlier turns)."""
    shown = ", ".join(labels)
    messages: list[dict[str, str]] = []
    for ex_text, ex_label in examples:
        messages.append({"role": "user", "content": LABEL_PROMPT.format(
            instruction=instruction, labels=shown, text=ex_text[:max_chars])})
        messages.append({"role": "assistant", "content": ex_label})
    messages.append({"role": "user", "content": LABEL_PROMPT.format(
        instruction=instruction, labels=shown, text=text[:max_chars])})
    return messages


def continuation_logprobs(model: Any, messages: list[dict[str, str]], continuations: Sequence[str]) -> list[float]:
    """Sum of token log-probs of each continuation after the prompt (one prompt pass, cache reused)."""
    import torch

    ids = model.prompt_ids(messages)
    logits, past = model.next_token_logits(ids)
    first = torch.log_softmax(logits.float(), dim=-1)
    out = []
    for cont in continuations:
        cids = model.encode(cont)
        if not cids:
            raise InputError(f"label {cont!r} encodes to no tokens")
        total = float(first[cids[0]])
        if len(cids) > 1:
            # a Hugging Face cache can be cropped back to the prompt; others are copied
            p = past if hasattr(past, "crop") else copy.deepcopy(past)
            seq = list(ids)
            for prev, nxt in zip(cids[:-1], cids[1:], strict=False):
                seq.append(prev)
                lg, p = model.next_token_logits(seq, p)
                total += float(torch.log_softmax(lg.float(), dim=-1)[nxt])
            if hasattr(past, "crop"):
                extra = past.get_seq_length() - len(ids)
                if extra > 0:  # transformers 5: crop(-n) removes the last n positions
                    past.crop(-extra)
        out.append(total)
    return out


def parse_label(raw: str, labels: Sequence[str], words: dict[str, str] | None = None) -> str | None:
    """The label a generated answer names, or ``None`` if it names none or several."""
    text = raw.strip().lower()
    names = {lab: (words or {}).get(lab, lab).lower() for lab in labels}
    for lab, w in names.items():  # answer starts with a label
        if re.match(rf"\W*{re.escape(w)}\b", text) or re.match(rf"\W*{re.escape(lab.lower())}\b", text):
            return lab
    found = [lab for lab, w in names.items() if re.search(rf"\b{re.escape(w)}", text)]
    return found[0] if len(found) == 1 else None


def label_texts(
    texts: Sequence[str] | Sequence[Record],
    labels: Sequence[str],
    model: Any = "smollm2-135m",
    *,
    instruction: str = "Classify the text.",
    examples: Sequence[tuple[str, str]] = (),
    label_words: dict[str, str] | None = None,
    calibrate: bool = False,
    max_chars: int = 1000,
    mode: str = "auto",
) -> SynthesisResult:
    """Label existing texts with a model; each output record gets ``label`` and ``confidence``.

    Args:
        labels: the label set; ``label_words`` maps a label to the word the model should say
            (e.g. ``{"sports": "sport"}``).
        examples: few-shot ``(text, label)`` pairs.
        calibrate: white-box only: subtract each label's log-prob on a content-free input
            ("N/A"), which removes the model's bias toward some labels.
        mode: ``"logprobs"`` (white-box scoring), ``"generate"`` (parse text), or ``"auto"``.
    """
    labels = _check_labels(labels)
    records = as_records(texts)
    lm = get_model(model)
    model_id = getattr(lm, "model_id", str(model))
    if mode == "auto":
        mode = "logprobs" if getattr(lm, "white_box", False) else "generate"
    if mode == "logprobs" and not getattr(lm, "white_box", False):
        from pilotfish.core.errors import WhiteBoxRequiredError

        raise WhiteBoxRequiredError("synthesis (label mode=logprobs)", lm)
    if mode not in ("logprobs", "generate"):
        raise InputError(f"unknown label mode {mode!r} (auto, logprobs, generate)")
    words = [(label_words or {}).get(lab, lab) for lab in labels]
    report = SynthesisReport(f"label ({mode})", model_id, inputs=len(records))
    start = time.perf_counter()
    prompt_name = f"label-{'few' if examples else 'zero'}-shot"
    prov = provenance(PLUGIN, model=model_id, prompt=prompt_name, rule=f"labels={','.join(labels)}; mode={mode}"
                      + ("; calibrated" if calibrate else ""))
    out: list[Record] = []
    if mode == "logprobs":
        prior = [0.0] * len(labels)
        if calibrate:
            prior = continuation_logprobs(lm, label_messages("N/A", labels, instruction=instruction,
                                                             examples=examples), words)
        for rec in records:
            msgs = label_messages(rec["text"], labels, instruction=instruction, examples=examples, max_chars=max_chars)
            lps = [a - b for a, b in zip(continuation_logprobs(lm, msgs, words), prior, strict=False)]
            m = max(lps)
            probs = [math.exp(x - m) for x in lps]
            z = sum(probs)
            best = max(range(len(labels)), key=lambda i: lps[i])
            out.append(derive(rec, rec["text"], prov=prov, suffix="label", label=labels[best],
                              confidence=probs[best] / z,
                              label_probs={lab: p / z for lab, p in zip(labels, probs, strict=False)},
                              **_keep(rec)))
    else:
        prompts = [label_messages(r["text"], labels, instruction=instruction, examples=examples, max_chars=max_chars)
                   for r in records]
        gens = lm.generate_batch(prompts, max_tokens=8, temperature=0.0)
        for rec, gen in zip(records, gens, strict=False):
            label = parse_label(gen.text, labels, label_words)
            if label is None:
                report.note_unparseable(gen.text)
                continue
            conf = math.exp(gen.mean_logprob) if gen.mean_logprob is not None else None
            out.append(derive(rec, rec["text"], prov={**prov, "raw": gen.text[:100]}, suffix="label",
                              label=label, confidence=conf, **_keep(rec)))
    report.outputs = len(out)
    report.seconds = time.perf_counter() - start
    return SynthesisResult(out, report)


def _keep(rec: Record) -> dict[str, Any]:
    """Fields of the source record carried over (not the ones the tool rewrites)."""
    skip = {"id", "text", "label", "confidence", "label_probs", "provenance"}
    return {k: v for k, v in rec.items() if k not in skip and k != "gold_label"} | (
        {"gold_label": rec["label"]} if "label" in rec else {})


# --- from scratch ------------------------------------------------------------------------------


def _clean_generated(raw: str) -> str:
    text = raw.strip()
    text = re.sub(r"^(example( text)?|text|here is[^:]*)\s*:\s*", "", text, flags=re.I).strip()
    if len(text) >= 2 and text[0] in "\"'" and text[-1] == text[0]:
        text = text[1:-1].strip()
    return text


def generate_examples(
    task: str,
    labels: Sequence[str],
    model: Any = "smollm2-135m",
    *,
    n_per_label: int = 5,
    temperature: float = 0.9,
    max_tokens: int = 80,
    min_words: int = 4,
    seed: int = 0,
    dedup_threshold: float | None = 0.8,
) -> SynthesisResult:
    """Write ``n_per_label`` labelled examples per label for a task described in words."""
    if not task or not task.strip():
        raise InputError("the task description is empty")
    labels = _check_labels(labels)
    if n_per_label < 1:
        raise InputError(f"n_per_label must be >= 1, got {n_per_label}")
    lm = get_model(model)
    model_id = getattr(lm, "model_id", str(model))
    report = SynthesisReport("scratch", model_id, inputs=n_per_label * len(labels))
    start = time.perf_counter()
    out: list[Record] = []
    for li, label in enumerate(labels):
        for k in range(n_per_label):
            prompt = SCRATCH_PROMPT.format(task=task, label=label, hint=_HINTS[k % len(_HINTS)])
            gen = lm.generate(prompt, max_tokens=max_tokens, temperature=temperature, seed=seed + 1000 * li + k)
            text = _clean_generated(gen.text)
            if len(text.split()) < min_words or label.lower() == text.lower():
                report.note_unparseable(gen.text)
                continue
            out.append(make_record(text, label=label, prov=provenance(
                PLUGIN, model=model_id, prompt="scratch", rule=f"task={task!r}; label={label}; seed={seed + 1000 * li + k}")))
    if dedup_threshold:
        out, report.duplicates_removed = _dedup(out, threshold=dedup_threshold)
    report.outputs = len(out)
    report.seconds = time.perf_counter() - start
    return SynthesisResult(out, report)


# --- paraphrase ----------------------------------------------------------------------------------


def paraphrase(
    texts: Sequence[str] | Sequence[Record],
    model: Any = "smollm2-135m",
    *,
    n: int = 1,
    temperature: float = 0.7,
    max_tokens: int | None = None,
    max_chars: int = 1000,
    seed: int = 0,
    dedup_threshold: float | None = 0.9,
    min_ratio: float = 0.3,
) -> SynthesisResult:
    """Rewrite each text ``n`` times; labels and other fields of the source are kept.

    An output is unparseable when it is empty, identical to the source, or shorter than
    ``min_ratio`` of the source's words. Outputs that are near-duplicates of each other or of
    their source (MinHash Jaccard >= ``dedup_threshold``) are removed.
    """
    records = as_records(texts)
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    lm = get_model(model)
    model_id = getattr(lm, "model_id", str(model))
    report = SynthesisReport("paraphrase", model_id, inputs=len(records) * n)
    start = time.perf_counter()
    out: list[Record] = []
    for rec in records:
        src = rec["text"][:max_chars]
        budget = max_tokens or max(32, int(len(src.split()) * 2))
        for k in range(n):
            gen = lm.generate(PARAPHRASE_PROMPT.format(text=src), max_tokens=budget,
                              temperature=temperature, seed=seed + k)
            text = _clean_generated(gen.text)
            if not text or text == src or len(text.split()) < min_ratio * len(src.split()):
                report.note_unparseable(gen.text)
                continue
            fields = {k2: v for k2, v in rec.items() if k2 not in ("id", "text", "provenance")}
            out.append(derive(rec, text, prov=provenance(PLUGIN, model=model_id, prompt="paraphrase",
                                                          rule=f"seed={seed + k}"), suffix=f"para{k}", **fields))
    if dedup_threshold:
        sources = {r["id"]: r for r in records}
        # a paraphrase that is a near-copy of its source adds nothing: compare with it too
        pool = list(records) + out
        kept, _ = _dedup(pool, threshold=dedup_threshold)
        kept_ids = {r["id"] for r in kept}
        before = len(out)
        out = [r for r in out if r["id"] in kept_ids and r["id"] not in sources]
        report.duplicates_removed = before - len(out)
    report.outputs = len(out)
    report.seconds = time.perf_counter() - start
    return SynthesisResult(out, report)

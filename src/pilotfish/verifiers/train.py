"""``pilotfish train verifier``: a MiniLM cross-encoder trained on FactCC-style synthetic claims, and
optionally distilled from the large model's judgements (``teacher``: claims judged by ``pilotfish
synthesize claims``, whose P(supported) is a soft label).

The checkpoint is a standard Hugging Face sequence-classification folder
(``save_pretrained`` with ``id2label = {0: entailment, 1: neutral, 2: contradiction}``), so it
loads like a hub NLI model, by the ``entailment`` verifier, ``pilotfish eval verify`` or plain
``transformers``. It is written to a temporary folder and renamed into place, so a killed run
leaves no half-written model where the verifier looks for one.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pilotfish.core.errors import InputError
from pilotfish.data.articles import load_articles
from pilotfish.data.claims import Example, llm_paraphraser, synthesize
from pilotfish.models.cache import default_verifier_path

from .nli import CANONICAL

LABEL_IDS = {"supported": 0, "unsupported": 1, "contradicted": 2}


def soft_target(p_supported: float, label: str) -> list[float]:
    """Target probabilities (supported, unsupported, contradicted) for a claim the teacher judged: its
    P(supported), and the rest on the kind of error the claim was made with (split evenly for a claim
    made to be supported)."""
    p = min(1.0, max(0.0, float(p_supported)))
    rest = 1.0 - p
    if label == "unsupported":
        return [p, rest, 0.0]
    if label == "contradicted":
        return [p, 0.0, rest]
    return [p, rest / 2, rest / 2]


TEACHER_LOSSES = ("soft", "rank")
RANK_MARGIN = 0.2
"""Two claims of a context form a ranking pair when the teacher's P(supported) differ by this much."""


def _pairs(group: list[dict[str, Any]]) -> list[tuple[int, int, float]]:
    """(better, worse, weight) index pairs of one context's judged claims, weighted by the gap."""
    out = []
    for i, a in enumerate(group):
        for j, b in enumerate(group):
            gap = a["p_supported"] - b["p_supported"]
            if gap >= RANK_MARGIN:
                out.append((i, j, gap))
    return out


def _rank_groups(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    by_context: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_context.setdefault(r["context"], []).append(r)
    return [g for g in by_context.values() if _pairs(g)]


def _rank_loss(model: Any, encode: Any, groups: list[list[dict[str, Any]]], torch: Any) -> Any:
    """Mean pairwise logistic loss on the supported-vs-rest log-odds of the claims of ``groups``."""
    rows = [r for g in groups for r in g]
    logp = torch.log_softmax(model(**encode(rows)).logits, dim=-1)
    odds = logp[:, 0] - torch.logsumexp(logp[:, 1:], dim=-1)
    better, worse, weight = [], [], []
    at = 0
    for g in groups:
        for i, j, gap in _pairs(g):
            better.append(at + i)
            worse.append(at + j)
            weight.append(gap)
        at += len(g)
    w = torch.tensor(weight)
    diff = odds[torch.tensor(better)] - odds[torch.tensor(worse)]
    return (torch.nn.functional.softplus(-diff) * w).sum() / w.sum()


def hard_target(label: str) -> list[float]:
    out = [0.0, 0.0, 0.0]
    out[LABEL_IDS[label]] = 1.0
    return out


def teacher_rows(paths: Sequence[str | Path], exclude_docs: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The judged claims of ``paths`` as training rows (context, claim, target), without excluded articles."""
    from pilotfish.data.teacher_claims import read_teacher_claims

    banned = set(exclude_docs)
    return [{"context": r["context"], "claim": r["claim"], "target": soft_target(r["p_supported"], r["label"]),
             "p_supported": float(r["p_supported"]), "label": r["label"], "kind": r.get("kind", "")}
            for r in read_teacher_claims(list(paths)) if r.get("doc_id") not in banned]


def split_by_context(rows: list[dict[str, Any]], share: float = 0.05, seed: int = 0) -> tuple[list[Any], list[Any]]:
    """(held out, train): whole contexts go to one side, so no claim's context is trained on and judged."""
    contexts = sorted({r["context"] for r in rows})
    random.Random(seed).shuffle(contexts)
    held = set(contexts[:max(1, int(len(contexts) * share))]) if len(contexts) > 1 else set()
    return [r for r in rows if r["context"] in held], [r for r in rows if r["context"] not in held]


def _tqdm(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, unit="ex" if "data" in desc else "step")


def train_verifier(
    corpus: str | Path,
    out: str | Path | None = None,
    *,
    examples: int = 8000,
    epochs: int = 1,
    batch_size: int = 16,
    lr: float = 5e-5,
    head_lr: float | None = 1e-3,
    max_length: int = 128,
    paraphrases: int = 0,
    exclude_docs: Iterable[str] = (),
    seed: int = 0,
    max_minutes: float | None = None,
    freeze_embeddings: bool = True,
    base: str | Path | None = None,
    max_articles: int | None = None,
    head_examples: int = 3000,
    teacher: Sequence[str | Path] = (),
    teacher_weight: float = 1.0,
    teacher_in_head: bool = False,
    teacher_loss: str = "soft",
    progress: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Synthesize ``examples`` claims from ``corpus`` and fine-tune MiniLM on them; returns stats.

    ``paraphrases``: how many supported claims the packaged SmolLM2 rewrites (about 1-10 s each
    on a CPU, so keep it small; the rule-based rewrites always run). ``exclude_docs``: article
    ids (``topic/name``) kept out of the training data, e.g. those of an evaluation set.
    ``max_minutes``: stop training early (the model trained so far is saved).
    ``head_lr``: learning rate of the freshly initialised classifier and the pooler (``None``:
    ``lr``); 1e-3 measured: held-out synthetic accuracy 0.70 vs 0.65, dev AUROC of the
    cross-encoder alone 0.700 vs 0.652.
    ``head_examples``: synthetic claims (a fresh draw, other seed) the calibrated head of
    :mod:`pilotfish.verifiers.head` is fitted on; 0 = no head.
    ``teacher``: files or state folders of ``pilotfish synthesize claims``: their claims join the
    training data with the teacher's P(supported) as a soft label (:func:`soft_target`), weighted
    ``teacher_weight`` against a rule-made claim (and the head's data with ``teacher_in_head``: measured
    worse, see docs/verification.md); 5% of their contexts are held out to report agreement with the
    teacher.
    ``teacher_loss``: ``"soft"`` (cross-entropy against :func:`soft_target`) or ``"rank"`` (the claims
    of one context are ranked like the teacher ranks them: a pairwise logistic loss on the student's
    supported-vs-rest log-odds for every two claims whose P(supported) differ by at least
    :data:`RANK_MARGIN`; the teacher's P is compressed toward the middle but its order is what
    separates, see docs/verification.md).
    ``force``: replace ``out`` even when it is a non-empty folder pilotfish did not write (refused
    otherwise, before any work).
    """
    from pilotfish.core.outputs import check_output_dir, replace_dir

    if examples < 6:
        raise InputError(f"--examples must be at least 6, got {examples}")
    if teacher_weight <= 0:
        raise InputError(f"--teacher-weight must be > 0, got {teacher_weight}")
    if teacher_loss not in TEACHER_LOSSES:
        raise InputError(f"--teacher-loss must be one of {', '.join(TEACHER_LOSSES)}, got {teacher_loss!r}")
    if base is not None and not (Path(base).expanduser() / "config.json").is_file():
        raise InputError(f"--base {base} is not a checkpoint folder (no config.json)")
    judged = teacher_rows(teacher, exclude_docs) if teacher else []
    if teacher and not judged:
        raise InputError("the teacher claims hold no claim outside the excluded articles")
    out_dir = check_output_dir(Path(out).expanduser() if out else default_verifier_path(), force)
    import torch
    import transformers

    from pilotfish.models.packaged import minilm_path

    transformers.logging.set_verbosity_error()
    head_lr = lr if head_lr is None else head_lr
    start = time.perf_counter()
    random.seed(seed)
    torch.manual_seed(seed)
    articles = load_articles(corpus, exclude=set(exclude_docs), limit=max_articles)

    paraphrase = None
    if paraphrases > 0:
        from pilotfish.core.models import get_model

        paraphrase = llm_paraphraser(get_model("smollm2-135m"))
    bar = _tqdm(examples, "synthesizing data", progress)
    data = synthesize(articles, examples, seed=seed, paraphrase=paraphrase, paraphrase_budget=paraphrases,
                      progress=bar.update)
    bar.close()
    n_val = max(3, len(data) // 20)
    val = [{"context": e.context, "claim": e.claim, "target": hard_target(e.label), "weight": 1.0} for e in data[:n_val]]
    train = [{"context": e.context, "claim": e.claim, "target": hard_target(e.label), "weight": 1.0} for e in data[n_val:]]
    teacher_val, teacher_train = split_by_context(judged, seed=seed)
    train += [{**r, "weight": teacher_weight} for r in teacher_train]

    base_path = str(base or minilm_path())
    tokenizer = transformers.AutoTokenizer.from_pretrained(base_path)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        base_path, num_labels=3, id2label=dict(enumerate(CANONICAL)), label2id={n: i for i, n in enumerate(CANONICAL)},
    )
    if freeze_embeddings:
        for p in model.base_model.embeddings.parameters():
            p.requires_grad = False
    params = [p for p in model.parameters() if p.requires_grad]
    # the pooler and classifier start from scratch (a sentence-embedding checkpoint has neither
    # trained): a larger learning rate there shortens the initial plateau at ln 3
    fresh = {id(p) for name, p in model.named_parameters() if p.requires_grad and
             (name.startswith("classifier") or ".pooler." in f".{name}")}
    optimizer = torch.optim.AdamW([
        {"params": [p for p in params if id(p) not in fresh], "lr": lr},
        {"params": [p for p in params if id(p) in fresh], "lr": head_lr},
    ], weight_decay=0.01)
    if teacher_loss == "rank":
        # the judged claims are ranked within their context: each batch carries whole contexts
        ranked = [r for r in train if "p_supported" in r]
        train = [r for r in train if "p_supported" not in r]
        groups = _rank_groups(ranked)
    else:
        groups = []
    # steps per epoch: every rule-made claim once, and every rank group once (several groups per step)
    per_epoch = max(1, -(-len(train) // batch_size), -(-sum(len(g) for g in groups) // batch_size))
    steps = epochs * per_epoch
    warmup = max(1, steps // 20)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )

    def encode(chunk: list[dict[str, Any]]) -> Any:
        return tokenizer([r["context"] for r in chunk], [r["claim"] for r in chunk], truncation="longest_first",
                         max_length=max_length, padding=True, return_tensors="pt")

    def batches(rows: list[dict[str, Any]], shuffle: bool) -> Any:
        rows = list(rows)
        if shuffle:
            random.shuffle(rows)
        for i in range(0, len(rows), batch_size):
            chunk = rows[i:i + batch_size]
            yield encode(chunk), torch.tensor([r["target"] for r in chunk]), torch.tensor([r.get("weight", 1.0) for r in chunk])

    def group_batches(n: int) -> list[list[list[dict[str, Any]]]]:
        """The rank groups spread over ``n`` steps (every group once per epoch)."""
        order = list(groups)
        random.shuffle(order)
        return [order[i::n] for i in range(n)] if n else []

    model.train()
    bar = _tqdm(steps, "training verifier", progress)
    done, losses, stopped = 0, [], False
    deadline = start + max_minutes * 60 if max_minutes else None
    for _ in range(epochs):
        ranked_steps = group_batches(per_epoch)
        rule_steps = list(batches(train, True))
        for step in range(per_epoch):
            loss = torch.zeros(())
            if step < len(rule_steps):
                # cross-entropy against target probabilities: a one-hot rule label or the teacher's soft label
                enc, targets, weights = rule_steps[step]
                logp = torch.log_softmax(model(**enc).logits, dim=-1)
                loss = (-(targets * logp).sum(-1) * weights).sum() / weights.sum()
            if ranked_steps and ranked_steps[step]:
                loss = loss + teacher_weight * _rank_loss(model, encode, ranked_steps[step], torch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            done += 1
            bar.update(1)
            bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}")
            if deadline and time.perf_counter() > deadline:
                stopped = True
                break
        if stopped:
            break
    bar.close()

    model.eval()
    correct = 0
    teacher_p: list[float] = []
    with torch.inference_mode():
        for enc, targets, _ in batches(val, False):
            correct += int((model(**enc).logits.argmax(-1) == targets.argmax(-1)).sum())
        for enc, _, _ in batches(teacher_val, False):
            teacher_p += torch.softmax(model(**enc).logits, dim=-1)[:, 0].tolist()
    stats = {
        "base": base_path, "corpus": str(corpus), "articles": len(articles), "examples": len(data),
        "train_examples": len(train), "steps": done, "planned_steps": steps, "stopped_early": stopped,
        "final_loss": round(sum(losses[-20:]) / max(1, len(losses[-20:])), 4),
        "synthetic_val_accuracy": round(correct / len(val), 4),
        "kinds": _count(data), "paraphrases_requested": paraphrases,
        "llm_paraphrases": sum(1 for e in data if e.kind == "llm-paraphrase"),
        "excluded_docs": len(set(exclude_docs)), "seed": seed, "max_length": max_length,
        "seconds": round(time.perf_counter() - start, 1), "out": str(out_dir),
    }
    if judged:
        stats["teacher"] = {"files": [str(t) for t in teacher], "claims": len(judged), "train": len(teacher_train),
                            "held_out": len(teacher_val), "weight": teacher_weight, "loss": teacher_loss,
                            "rank_groups": len(groups), "rank_pairs": sum(len(_pairs(g)) for g in groups),
                            **_agreement([r["p_supported"] for r in teacher_val], teacher_p)}

    def write(tmp: Path) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if head_examples > 0:
            stats["head"] = fit_head(tmp, articles, examples=head_examples, seed=seed + 1, progress=progress,
                                     teacher=teacher_train if teacher_in_head else ())
        stats["seconds"] = round(time.perf_counter() - start, 1)
        (tmp / "pilotfish_verifier.json").write_text(json.dumps(stats, indent=2))

    # checked again before the write: the folder may have changed during training
    replace_dir(out_dir, write, kind="verifier-checkpoint", force=force)
    return stats


HEAD_IN_CONTEXT = 0.4
"""Share of the head's number and entity changes drawn from the context (``synthesize(in_context=)``):
with them the head's balanced accuracy on the dev claims rose on both training seeds (0.791 ->
0.809, 0.776 -> 0.783) and AUROC fell by 0.005; the cross-encoder's data keeps 0."""


def fit_head(model_dir: str | Path, corpus: str | Path | list[Any], *, examples: int = 3000, seed: int = 1,
             exclude_docs: Iterable[str] = (), l2: float = 3.0, progress: bool = True,
             teacher: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Fit the calibrated head (:mod:`pilotfish.verifiers.head`) of the checkpoint in ``model_dir``.

    ``corpus``: a corpus folder or already loaded articles. The claims are a fresh synthetic
    draw; 5% are held out to report the head's accuracy. ``teacher``: judged claims (rows of
    :func:`teacher_rows`) fitted with their soft targets beside them. Writes ``pilotfish_head.json``
    into ``model_dir`` and returns its stats.
    """
    from .head import FEATURES, VerifierHead
    from .nli import NLIModel

    if examples < 30:
        raise InputError(f"the head needs at least 30 examples, got {examples}")
    start = time.perf_counter()
    articles = corpus if isinstance(corpus, list) else load_articles(corpus, exclude=set(exclude_docs))
    bar = _tqdm(examples, "synthesizing data (head)", progress)
    data = synthesize(articles, examples, seed=seed, progress=bar.update, in_context=HEAD_IN_CONTEXT)
    bar.close()
    nli = NLIModel(model_dir, head=False)
    premises, claims = [e.context for e in data], [e.claim for e in data]
    bar = _tqdm(2, "fitting head", progress)
    probs = nli.predict(premises, claims)
    bar.update(1)
    x = nli.features(premises, claims, probs)
    y = [LABEL_IDS[e.label] for e in data]
    n_val = max(3, len(data) // 20)
    if teacher:
        tp, tc = [r["context"] for r in teacher], [r["claim"] for r in teacher]
        tx = nli.features(tp, tc, nli.predict(tp, tc))
        targets = np.array([hard_target(e.label) for e in data[n_val:]] + [r["target"] for r in teacher])
        head = VerifierHead.fit(np.concatenate([x[n_val:], tx]), targets, l2=l2)
    else:
        head = VerifierHead.fit(x[n_val:], y[n_val:], l2=l2)
    bar.update(1)
    bar.close()
    acc_head = float((head.predict_proba(x[:n_val]).argmax(1) == y[:n_val]).mean())
    acc_raw = float((probs[:n_val].argmax(1) == y[:n_val]).mean())
    meta = {"examples": len(data), "seed": seed, "l2": l2, "features": len(FEATURES),
            "synthetic_val_accuracy": round(acc_head, 4), "cross_encoder_val_accuracy": round(acc_raw, 4),
            "teacher_claims": len(teacher),
            "seconds": round(time.perf_counter() - start, 1)}
    head.meta = meta
    head.save(model_dir)
    return meta


def _agreement(teacher_p: list[float], student_p: list[float]) -> dict[str, Any]:
    """How well the student's P(supported) follows the teacher's on held-out judged claims."""
    if not teacher_p:
        return {}
    from .evaluate import auroc

    y = [int(p >= 0.5) for p in teacher_p]
    out: dict[str, Any] = {"mean_abs_diff": round(float(np.mean(np.abs(np.array(teacher_p) - np.array(student_p)))), 4)}
    if 0 < sum(y) < len(y):
        out["auroc_vs_teacher"] = round(auroc(y, student_p), 4)
    return out


def _count(data: list[Example]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in data:
        key = f"{e.label}/{e.kind}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))

"""Training and calibrating the router from ``pilotfish eval qa --records`` files.

A record is one question answered by one model: ``id``, ``question``, ``model``, ``gold`` (empty for
an unanswerable question), ``correct`` (answerable) and ``refused``. A model was *right* on a question
when it contained the gold answer (answerable) or refused (unanswerable). Records of the two models on
the same questions are paired by ``id`` (by question text when there is no id).

Training (RouteLLM's cheap baseline; Ong et al. 2024): the label is "the cheap model was right"
(``target = "cheap-correct"``) or "the cheap model was not worse than the expensive one"
(``"cheap-not-worse"``: routing a question both get wrong to the cheap model loses nothing); the
features are the unit-norm embeddings of the questions; the classifier is an L2 logistic regression
whose strength is chosen by cross-validated log-loss on the training part. A stratified part of the pairs
is held out: the AUROC on it is recorded, its ids are kept in the file, and the saved model is the one
fitted without them, so ``calibrate`` can choose the threshold on pairs the router never saw.

Routing curve: for a threshold ``t``, a question with ``P(cheap right) >= t`` goes to the cheap model,
the rest to the expensive one; the accuracy is the share of questions the chosen model got right.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pilotfish.core.errors import InputError

from .router_model import FORMAT, KIND, RouterModel, embed, fingerprint

MIN_PAIRS = 20
MIN_PER_CLASS = 5
TARGETS = ("cheap-correct", "cheap-not-worse")
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
"""Inverse L2 strengths tried by cross-validation (the features are unit vectors, so small C is strong)."""


@dataclass
class Pair:
    """One question answered by both models."""

    key: str
    question: str
    cheap_ok: bool
    expensive_ok: bool
    cheap_s: float
    expensive_s: float

    def label(self, target: str) -> bool:
        return self.cheap_ok if target == "cheap-correct" else (self.cheap_ok or not self.expensive_ok)


def read_records(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """Records from ``eval qa --records`` files, each checked (a clear error names the file and line)."""
    from pilotfish.data.records import iter_jsonl

    if not paths:
        raise InputError("no records given (--data FILE, from `pilotfish eval qa --records FILE`)")
    out = []
    for path in paths:
        for where, rec in iter_jsonl(path, "router records"):
            for key in ("question", "model"):
                if not isinstance(rec.get(key), str) or not rec[key].strip():
                    raise InputError(f"{where}: a record needs a non-empty {key!r} (records of `pilotfish eval qa "
                                     "--records FILE`)")
            need = "correct" if rec.get("gold") else "refused"
            if not isinstance(rec.get(need), bool):
                raise InputError(f"{where}: a record of an {'answerable' if need == 'correct' else 'unanswerable'} "
                                 f"question needs {need!r} (true or false)")
            out.append(rec)
    return out


def right(rec: dict[str, Any]) -> bool:
    """Whether the record's model was right: the gold answer contained, or a refusal when there is none."""
    return bool(rec["correct"]) if rec.get("gold") else bool(rec["refused"])


def pair_records(records: list[dict[str, Any]], cheap: str | None = None, expensive: str | None = None
                 ) -> tuple[list[Pair], dict[str, Any]]:
    """Pairs of the cheap and the expensive model's records on the same questions, and what was found.

    Without ``cheap``/``expensive``, the records must hold exactly two models; the cheap one is the less
    accurate on the paired questions (a router only pays when the expensive model is better; latencies
    are no guide: they follow the machine's load while each run was made)."""
    by_model: dict[str, dict[str, dict[str, Any]]] = {}
    repeated = 0
    for rec in records:
        key = str(rec.get("id") or rec["question"].strip())
        bucket = by_model.setdefault(rec["model"], {})
        repeated += key in bucket
        bucket[key] = rec
    models = sorted(by_model)
    for name, given in (("cheap", cheap), ("expensive", expensive)):
        if given is not None and given not in by_model:
            raise InputError(f"no records of the {name} model {given!r}; the records hold {', '.join(models)}")
    if cheap is not None and cheap == expensive:
        raise InputError(f"the cheap and the expensive model are the same ({cheap!r})")
    if cheap is None or expensive is None:
        if len(models) != 2:
            raise InputError(f"the records hold {len(models)} model(s) ({', '.join(models)}); give records of two "
                             "models (the cheap one and the expensive one, on the same questions), or name them with "
                             "--cheap and --expensive")
        if cheap is not None:
            expensive = next(m for m in models if m != cheap)
        elif expensive is not None:
            cheap = next(m for m in models if m != expensive)
        else:
            common = set(by_model[models[0]]) & set(by_model[models[1]])
            acc = {m: sum(right(by_model[m][k]) for k in common) for m in models}
            cheap, expensive = sorted(models, key=lambda m: acc[m])
    assert cheap is not None and expensive is not None
    keys = set(by_model[cheap]) & set(by_model[expensive])
    pairs = []
    for key in sorted(keys):
        c, e = by_model[cheap][key], by_model[expensive][key]
        pairs.append(Pair(key, c["question"], right(c), right(e), float(c.get("latency_s") or 0.0),
                          float(e.get("latency_s") or 0.0)))
    info = {"cheap": cheap, "expensive": expensive, "pairs": len(pairs), "repeated_records": repeated,
            "unpaired": {m: len(by_model[m]) - len(keys) for m in (cheap, expensive)}}
    return pairs, info


def routing_curve(p: np.ndarray, cheap_ok: np.ndarray, expensive_ok: np.ndarray,
                  thresholds: Sequence[float] | None = None) -> list[dict[str, float]]:
    """Accuracy and share of expensive calls at each threshold (default: 0, every midpoint between
    neighbouring probabilities, and 1); sorted from the fewest expensive calls to the most."""
    p = np.asarray(p, dtype=np.float64)
    if thresholds is None:
        u = np.unique(p)
        thresholds = [0.0, *((u[:-1] + u[1:]) / 2).tolist(), 1.0]
    rows = []
    for t in thresholds:
        to_cheap = p >= t
        ok = np.where(to_cheap, cheap_ok, expensive_ok)
        rows.append({"threshold": float(t), "expensive_share": float(1 - to_cheap.mean()) if len(p) else 0.0,
                     "accuracy": float(ok.mean()) if len(p) else 0.0})
    return sorted(rows, key=lambda r: (r["expensive_share"], -r["accuracy"]))


def frontier(curve: list[dict[str, float]]) -> list[dict[str, float]]:
    """The rows of a curve (sorted as :func:`routing_curve` sorts) that beat every cheaper row's accuracy."""
    out: list[dict[str, float]] = []
    for r in curve:
        if not out or r["accuracy"] > out[-1]["accuracy"] + 1e-12:
            out.append(r)
    return out


def choose_threshold(curve: list[dict[str, float]], target: float) -> dict[str, float] | None:
    """The row reaching ``target`` accuracy with the fewest expensive calls (``None`` when none does)."""
    ok = [r for r in curve if r["accuracy"] >= target - 1e-12]
    return min(ok, key=lambda r: (r["expensive_share"], -r["accuracy"], -r["threshold"])) if ok else None


def _auroc(y: np.ndarray, p: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(y, p)), 4) if len(set(y.tolist())) == 2 else None


def files_digest(paths: Sequence[str | Path]) -> list[dict[str, str]]:
    return [{"file": str(p), "sha256": hashlib.sha256(Path(p).read_bytes()).hexdigest()[:16]} for p in paths]


def train_router(pairs: list[Pair], embedder: Any, *, cheap: str, expensive: str, target: str = "cheap-correct",
                 holdout: float = 0.3, seed: int = 0) -> RouterModel:
    """Fit the logistic regression on the pairs minus a stratified held-out part; record its AUROC there."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split

    if target not in TARGETS:
        raise InputError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    if not 0.0 < holdout < 0.9:
        raise InputError(f"holdout must be a share in (0, 0.9), got {holdout}")
    y = np.array([pr.label(target) for pr in pairs], dtype=int)
    positives = int(y.sum())
    if len(pairs) < MIN_PAIRS:
        raise InputError(f"too few records to train a router: {len(pairs)} questions answered by both {cheap} and "
                         f"{expensive}; need at least {MIN_PAIRS}")
    if min(positives, len(y) - positives) < MIN_PER_CLASS:
        what = "right" if target == "cheap-correct" else "not worse"
        raise InputError(f"the cheap model {cheap} was {what} on {positives} of {len(y)} questions: too few of one "
                         f"class to learn from (need at least {MIN_PER_CLASS} of each)")
    start = time.perf_counter()
    x = embed(embedder, [pr.question for pr in pairs])
    idx = np.arange(len(pairs))
    train_i, held_i = train_test_split(idx, test_size=holdout, random_state=seed, stratify=y)
    folds = max(2, min(5, int(np.bincount(y[train_i]).min())))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    cv_scores = {c: {m: float(np.mean(cross_val_score(LogisticRegression(C=c, max_iter=5000), x[train_i], y[train_i],
                                                      cv=cv, scoring=m))) for m in ("neg_log_loss", "roc_auc")}
                 for c in C_GRID}
    # the log-loss picks C: the probabilities are read against a threshold, so they should be spread and calibrated
    best_c = max(C_GRID, key=lambda c: cv_scores[c]["neg_log_loss"])
    clf = LogisticRegression(C=best_c, max_iter=5000).fit(x[train_i], y[train_i])
    coef, intercept = clf.coef_[0].astype(np.float64), float(clf.intercept_[0])
    p_held = 1.0 / (1.0 + np.exp(-(x[held_i] @ coef + intercept)))
    p_train = 1.0 / (1.0 + np.exp(-(x[train_i] @ coef + intercept)))
    meta = {
        "kind": KIND, "format": FORMAT,
        "embedder": str(getattr(embedder, "model_id", "embedder")), "dimension": int(x.shape[1]),
        "fingerprint": fingerprint(embedder),
        "cheap": cheap, "expensive": expensive, "target": target,
        "classifier": {"type": "logistic-regression", "C": best_c, "cv_folds": folds,
                       "cv": {str(c): {"log_loss": round(-v["neg_log_loss"], 4), "auroc": round(v["roc_auc"], 4)}
                              for c, v in cv_scores.items()},
                       "features": "unit-norm embedding of the question"},
        "threshold": 0.5, "threshold_source": "default (not calibrated)",
        "heldout": {"n": int(len(held_i)), "positives": int(y[held_i].sum()), "auroc": _auroc(y[held_i], p_held),
                    "cheap_accuracy": round(float(np.mean([pairs[i].cheap_ok for i in held_i])), 4),
                    "expensive_accuracy": round(float(np.mean([pairs[i].expensive_ok for i in held_i])), 4)},
        "train": {"n": int(len(train_i)), "positives": int(y[train_i].sum()), "auroc": _auroc(y[train_i], p_train),
                  "seconds": round(time.perf_counter() - start, 2)},
        "train_ids": [pairs[i].key for i in sorted(train_i)],
        "heldout_ids": [pairs[i].key for i in sorted(held_i)],
        "trained": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return RouterModel(coef=coef, intercept=intercept, meta=meta)


def calibration_curve(router: RouterModel, pairs: list[Pair], embedder: Any, *, include_train: bool = False
                      ) -> tuple[list[dict[str, float]], dict[str, Any]]:
    """The routing curve on the pairs the router was not trained on (all of them with ``include_train``),
    and facts about those pairs (``n``, ``skipped_train``, each model's accuracy alone). Pick the threshold
    from it with :func:`choose_threshold`."""
    trained = set() if include_train else set(router.meta.get("train_ids") or [])
    used = [pr for pr in pairs if pr.key not in trained]
    if not used:
        raise InputError(f"all {len(pairs)} paired records were used to train this router; give records it was not "
                         "trained on (or --include-train, which gives an optimistic threshold)")
    p = router.probabilities(embed(embedder, [pr.question for pr in used]))
    cheap_ok = np.array([pr.cheap_ok for pr in used])
    exp_ok = np.array([pr.expensive_ok for pr in used])
    facts = {"n": len(used), "skipped_train": len(pairs) - len(used), "cheap_accuracy": float(cheap_ok.mean()),
             "expensive_accuracy": float(exp_ok.mean())}
    return routing_curve(p, cheap_ok, exp_ok), facts

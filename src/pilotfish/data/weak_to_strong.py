"""Weak-to-strong training (Burns et al. 2023) with several weak specialised models.

Weak supervisors are cheap scikit-learn models trained on a few gold labels, each looking at
the text differently (word TF-IDF + logistic regression, character n-gram TF-IDF + logistic
regression, word counts + naive Bayes). Their probabilities are averaged into soft labels for
the unlabelled pool; a strong MiniLM student is trained on them, with or without the auxiliary
confidence loss. The report gives the performance gap recovered:

    PGR = (strong on weak labels - weak) / (strong ceiling on gold labels - weak)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pilotfish.core.errors import InputError

from .classifier import TextClassifier

WEAK_MODELS = ("tfidf-word-lr", "tfidf-char-lr", "count-nb")


def make_weak(name: str) -> Any:
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    if name == "tfidf-word-lr":
        return make_pipeline(TfidfVectorizer(sublinear_tf=True, stop_words="english"), LogisticRegression(C=10, max_iter=2000))
    if name == "tfidf-char-lr":
        return make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, max_features=50000),
                             LogisticRegression(C=10, max_iter=2000))
    if name == "count-nb":
        return make_pipeline(CountVectorizer(stop_words="english"), MultinomialNB(alpha=0.1))
    raise InputError(f"unknown weak model {name!r} (known: {', '.join(WEAK_MODELS)})")


def weak_probabilities(weak: Sequence[str], texts: Sequence[str], labels: Sequence[str], pool: Sequence[str],
                       classes: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Train each weak model on (texts, labels); return averaged and per-model probabilities on ``pool``."""
    missing = sorted(set(classes) - set(labels))
    if missing:
        raise InputError(f"the few labelled examples have no example of {missing}")
    per = []
    for name in weak:
        m = make_weak(name).fit(list(texts), list(labels))
        order = [list(m.classes_).index(c) for c in classes]
        per.append(m.predict_proba(list(pool))[:, order])
    return np.mean(per, axis=0), per


def _acc(pred: np.ndarray, classes: Sequence[str], gold: Sequence[str]) -> float:
    return float(np.mean([classes[i] == g for i, g in zip(pred.argmax(1), gold, strict=False)]))


@dataclass
class WeakToStrongReport:
    weak_accuracy: float
    weak_each: dict[str, float]
    ceiling_accuracy: float
    strong_on_weak: dict[str, float] = field(default_factory=dict)
    pgr: dict[str, float] = field(default_factory=dict)
    n_few: int = 0
    n_pool: int = 0
    n_test: int = 0


def pgr(weak: float, strong: float, ceiling: float) -> float:
    gap = ceiling - weak
    return float("nan") if gap <= 0 else (strong - weak) / gap


def weak_to_strong(
    few: Sequence[dict[str, Any]],
    pool: Sequence[dict[str, Any]],
    test: Sequence[dict[str, Any]],
    classes: Sequence[str],
    *,
    weak: Sequence[str] = WEAK_MODELS,
    aux_weights: Sequence[float] = (0.0, 0.75),
    hard_weak_labels: bool = False,
    student_mode: str = "head",
    epochs: int | None = None,
    seed: int = 0,
) -> WeakToStrongReport:
    """Run the whole experiment; ``pool`` and ``test`` need gold ``label`` only for the ceiling and scores."""
    if not few or not pool or not test:
        raise InputError("weak-to-strong needs few labelled examples, an unlabelled pool and a test set")
    classes = list(classes)
    avg_pool, _ = weak_probabilities(weak, [r["text"] for r in few], [r["label"] for r in few],
                                     [r["text"] for r in pool], classes)
    avg_test, per_test = weak_probabilities(weak, [r["text"] for r in few], [r["label"] for r in few],
                                            [r["text"] for r in test], classes)
    gold_test = [r["label"] for r in test]
    weak_acc = _acc(avg_test, classes, gold_test)
    report = WeakToStrongReport(weak_acc, {n: _acc(p, classes, gold_test) for n, p in zip(weak, per_test, strict=False)}, 0.0,
                                n_few=len(few), n_pool=len(pool), n_test=len(test))
    pool_texts = [r["text"] for r in pool]
    test_texts = [r["text"] for r in test]
    ceiling = TextClassifier(classes, mode=student_mode, seed=seed).fit(
        pool_texts, [r["label"] for r in pool], epochs=epochs)
    report.ceiling_accuracy = ceiling.evaluate(test_texts, gold_test, fresh=False)["accuracy"]
    targets: Any = avg_pool
    if hard_weak_labels:
        targets = [classes[i] for i in avg_pool.argmax(1)]
    for a in aux_weights:
        student = TextClassifier(classes, mode=student_mode, seed=seed).fit(
            pool_texts, targets, epochs=epochs, aux_weight=a)
        acc = student.evaluate(test_texts, gold_test, fresh=False)["accuracy"]
        key = f"aux={a:g}"
        report.strong_on_weak[key] = acc
        report.pgr[key] = pgr(weak_acc, acc, report.ceiling_accuracy)
    return report

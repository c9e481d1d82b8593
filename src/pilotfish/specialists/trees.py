"""Gradient-boosted trees as plain arrays: predictions and per-feature contributions, no pickle.

:func:`export_boosting` turns a fitted scikit-learn ``GradientBoostingClassifier`` into a JSON-able dict
(every tree's split features, thresholds, children and leaf values, the learning rate and the constant
start score). :class:`BoostedTrees` predicts from that dict and explains each prediction the path way
(Saabas; the ``treeinterpreter`` decomposition): each internal node gets the training-weighted mean of
the leaf values below it, and each split on a row's path adds ``value(child) - value(node)`` to the
split's feature. So, for every class score,

    raw score = start + learning_rate * sum over trees of (value(root) + sum of the feature's steps)
              = bias + sum of the feature contributions,

exactly. Saving arrays instead of a pickle means loading a model never runs code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pilotfish.core.errors import ModelError


def export_boosting(model: Any) -> dict[str, Any]:
    """A fitted ``GradientBoostingClassifier`` as plain lists (classes, trees per class, start scores)."""
    stages = model.estimators_  # (n_stages, K) regression trees; K = 1 for two classes
    trees = [[_tree(stages[s, k].tree_) for s in range(stages.shape[0])] for k in range(stages.shape[1])]
    n_classes = len(model.classes_)
    probe = np.zeros((1, model.n_features_in_))
    raw = np.asarray(model.decision_function(probe), dtype=np.float64).reshape(1, -1)[0]
    start = [float(raw[k] - model.learning_rate * sum(_value_at(t, probe[0]) for t in trees[k]))
             for k in range(len(trees))]
    return {"classes": [str(c) for c in model.classes_], "n_classes": n_classes, "learning_rate": float(model.learning_rate),
            "start": start, "trees": trees}


def _tree(t: Any) -> dict[str, Any]:
    left, right = t.children_left, t.children_right
    weight = t.weighted_n_node_samples.astype(np.float64)
    value = t.value[:, 0, 0].astype(np.float64).copy()
    # internal nodes: the training-weighted mean of their leaves (children come after parents, so go backwards)
    for node in range(t.node_count - 1, -1, -1):
        if left[node] != -1:
            a, b = left[node], right[node]
            value[node] = (weight[a] * value[a] + weight[b] * value[b]) / (weight[a] + weight[b])
    return {"feature": t.feature.tolist(), "threshold": t.threshold.tolist(), "left": left.tolist(),
            "right": right.tolist(), "value": value.tolist()}


def _value_at(tree: dict[str, Any], row: np.ndarray) -> float:
    node = 0
    while tree["left"][node] != -1:
        node = tree["left"][node] if row[tree["feature"][node]] <= tree["threshold"][node] else tree["right"][node]
    return float(tree["value"][node])


class BoostedTrees:
    """Predictions and contributions from :func:`export_boosting`'s dict."""

    def __init__(self, data: dict[str, Any]):
        try:
            self.classes = list(data["classes"])
            self.learning_rate = float(data["learning_rate"])
            self.start = [float(x) for x in data["start"]]
            self.trees = data["trees"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"not a pilotfish boosted-trees model: {type(exc).__name__}: {exc}") from None

    @staticmethod
    def _row(row: Any) -> np.ndarray:
        # scikit-learn's trees compare float32 features with float64 thresholds; so do we
        return np.asarray(row, dtype=np.float32).astype(np.float64)

    def explain_raw(self, row: Any, n_features: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(raw scores [K], bias [K], contributions [K, n_features]) for one row."""
        x = self._row(row)
        k_scores = len(self.trees)
        bias = np.array(self.start, dtype=np.float64)
        contrib = np.zeros((k_scores, n_features), dtype=np.float64)
        for k, trees in enumerate(self.trees):
            for t in trees:
                node = 0
                bias[k] += self.learning_rate * t["value"][0]
                while t["left"][node] != -1:
                    f = t["feature"][node]
                    child = t["left"][node] if x[f] <= t["threshold"][node] else t["right"][node]
                    contrib[k, f] += self.learning_rate * (t["value"][child] - t["value"][node])
                    node = child
        return bias + contrib.sum(axis=1), bias, contrib

    def proba(self, raw: np.ndarray) -> np.ndarray:
        """Class probabilities from raw scores (log-odds of the second class for two classes)."""
        if len(self.trees) == 1:
            p1 = 1.0 / (1.0 + np.exp(-raw[0]))
            return np.array([1.0 - p1, p1])
        e = np.exp(raw - raw.max())
        return e / e.sum()

    def class_contributions(self, best: int, bias: np.ndarray, contrib: np.ndarray) -> tuple[float, np.ndarray]:
        """(bias, contributions) toward class ``best``: for two classes, the log-odds of ``best``."""
        if len(self.trees) == 1:
            sign = 1.0 if best == 1 else -1.0
            return sign * float(bias[0]), sign * contrib[0]
        return float(bias[best]), contrib[best]

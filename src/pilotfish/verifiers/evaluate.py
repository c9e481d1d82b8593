"""Metrics for claim verification, and ``pilotfish eval verify``.

- AUROC of supported-vs-not from the score P(supported) (threshold-free).
- Balanced accuracy of supported-vs-not at a threshold that is either fixed (``--threshold``
  or ``threshold`` in the ``[pilotfish.plugin.entailment]`` table of ``--config``) or chosen
  by two-fold cross-fitting: the claims are split into two halves (even / odd positions after a
  seeded shuffle), the threshold that maximises balanced accuracy on one half is applied to the
  other, so no claim is judged with a threshold tuned on itself. The split is repeated
  (``repeats``, default 10 seeded shuffles) and the threshold-dependent numbers are averaged:
  on 105 claims one split alone moves balanced accuracy by up to +-0.05 (repeated
  cross-validation, as scikit-learn's ``RepeatedStratifiedKFold``).
- 3-way macro-F1 and per-label precision / recall / F1 with the verifier's own rule
  (supported at the threshold, else contradicted or unsupported by the larger probability).
- Claims per second: claims scored / wall time of scoring (the model is loaded and warmed up
  before, on up to 512 of the claims: see :func:`warm_up`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pilotfish.core.errors import InputError

LABELS = ("supported", "contradicted", "unsupported")


def read_claims(path: str | Path) -> list[dict[str, Any]]:
    from pilotfish.data.records import iter_jsonl

    p = Path(path)
    rows = []
    for where, row in iter_jsonl(p, "claims file"):
        missing = [k for k in ("context", "claim", "label") if k not in row]
        if missing:
            raise InputError(f"{where}: missing {', '.join(missing)} (each line needs context, claim, label)")
        if row["label"] not in LABELS:
            raise InputError(f"{where}: label {row['label']!r} is not one of {', '.join(LABELS)}")
        rows.append(row)
    if not rows:
        raise InputError(f"{p} holds no claims")
    return rows


def auroc(y: Sequence[int], s: Sequence[float]) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties)."""
    y_arr, s_arr = np.asarray(y), np.asarray(s, dtype=float)
    pos, neg = int(y_arr.sum()), int(len(y_arr) - y_arr.sum())
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(s_arr, kind="mergesort")
    ranks = np.empty(len(s_arr))
    sorted_s = s_arr[order]
    i = 0
    while i < len(sorted_s):
        j = i
        while j + 1 < len(sorted_s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y_arr == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def balanced_accuracy(y: Sequence[int], pred: Sequence[int]) -> float:
    y_arr, p_arr = np.asarray(y), np.asarray(pred)
    tpr = float((p_arr[y_arr == 1] == 1).mean()) if (y_arr == 1).any() else 0.0
    tnr = float((p_arr[y_arr == 0] == 0).mean()) if (y_arr == 0).any() else 0.0
    return (tpr + tnr) / 2


def best_threshold(y: Sequence[int], s: Sequence[float]) -> float:
    """The threshold maximising balanced accuracy (midpoint between neighbouring scores)."""
    vals = sorted(set(float(x) for x in s))
    cands = [vals[0] - 1e-6] + [(a + b) / 2 for a, b in zip(vals, vals[1:], strict=False)] + [vals[-1] + 1e-6]
    return max(cands, key=lambda t: (balanced_accuracy(y, [int(x >= t) for x in s]), -abs(t - 0.5)))


def three_way(p_sup: float, p_con: float, threshold: float) -> str:
    if p_sup >= threshold:
        return "supported"
    return "contradicted" if p_con >= max(0.0, 1.0 - p_sup - p_con) else "unsupported"


def per_label_report(gold: Sequence[str], pred: Sequence[str]) -> tuple[dict[str, dict[str, float]], float]:
    out = {}
    for label in LABELS:
        tp = sum(1 for g, p in zip(gold, pred, strict=False) if g == label and p == label)
        n_pred = sum(1 for p in pred if p == label)
        n_gold = sum(1 for g in gold if g == label)
        prec = tp / n_pred if n_pred else 0.0
        rec = tp / n_gold if n_gold else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[label] = {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4), "support": n_gold}
    return out, float(np.mean([out[label]["f1"] for label in LABELS]))


def _split_thresholds(y: Sequence[int], p_sup: Sequence[float], seed: int) -> tuple[list[float], list[float]]:
    """Per-claim thresholds of one two-fold cross-fit, and the two thresholds chosen."""
    n = len(y)
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    halves = [idx[0::2], idx[1::2]]
    thresholds = [0.0] * n
    chosen = []
    for a, b in ((0, 1), (1, 0)):
        fit = halves[a] if halves[a] else halves[b]
        t = best_threshold([y[i] for i in fit], [p_sup[i] for i in fit])
        chosen.append(t)
        for i in halves[b]:
            thresholds[i] = t
    return thresholds, chosen


def metrics(gold: Sequence[str], p_sup: Sequence[float], p_con: Sequence[float], seconds: float,
            threshold: float | None = None, seed: int = 0, repeats: int = 10,
            errors: Sequence[str | None] | None = None) -> dict[str, Any]:
    """The full report; ``threshold=None`` cross-fits it on two halves, ``repeats`` times (see the
    module docstring); a fixed threshold is applied once. ``errors``: each claim's kind of error (the
    claims file's ``error`` field, ``None`` for a supported claim): adds ``auroc_by_error``, the AUROC of
    the supported claims against those of each kind."""
    if repeats < 1:
        raise InputError(f"repeats must be >= 1, got {repeats}")
    y = [int(g == "supported") for g in gold]
    n = len(gold)
    if threshold is not None:
        runs = [([threshold] * n, [threshold])]
        how = f"fixed at {threshold}"
    else:
        runs = [_split_thresholds(y, p_sup, seed + r) for r in range(repeats)]
        chosen = [t for _, ts in runs for t in ts]
        how = (f"cross-fitted on the other half (thresholds {chosen[0]:.3f} / {chosen[1]:.3f})" if repeats == 1 else
               f"cross-fitted on the other half, mean of {repeats} random halvings (thresholds {min(chosen):.3f}-{max(chosen):.3f})")
    bal, macros, per_runs = [], [], []
    for thresholds, _ in runs:
        pred_bin = [int(p_sup[i] >= thresholds[i]) for i in range(n)]
        pred3 = [three_way(p_sup[i], p_con[i], thresholds[i]) for i in range(n)]
        per_label, macro = per_label_report(gold, pred3)
        bal.append(balanced_accuracy(y, pred_bin))
        macros.append(macro)
        per_runs.append(per_label)
    per_label = {label: {k: (round(float(np.mean([r[label][k] for r in per_runs])), 4) if k != "support" else per_runs[0][label][k])
                         for k in per_runs[0][label]} for label in LABELS}
    by_error: dict[str, float] = {}
    if errors is not None:
        supported = [p for p, g in zip(p_sup, gold, strict=True) if g == "supported"]
        for kind in sorted({e for e, g in zip(errors, gold, strict=True) if e and g != "supported"}):
            wrong = [p for p, e, g in zip(p_sup, errors, gold, strict=True) if e == kind and g != "supported"]
            if supported and wrong:
                by_error[kind] = round(auroc([1] * len(supported) + [0] * len(wrong), supported + wrong), 4)
    return {
        "auroc": round(auroc(y, p_sup), 4),
        **({"auroc_by_error": by_error} if errors is not None else {}),
        "balanced_accuracy": round(float(np.mean(bal)), 4),
        "macro_f1": round(float(np.mean(macros)), 4),
        "per_label": per_label,
        "claims_per_s": round(n / seconds, 2) if seconds > 0 else float("inf"),
        "_threshold": how,
        "_n": n,
        "_spread": {"balanced_accuracy": [round(min(bal), 4), round(max(bal), 4)],
                    "macro_f1": [round(min(macros), 4), round(max(macros), 4)]},
    }


def evaluate_rows(rows: list[dict[str, Any]], nli: Any, threshold: float | None = None,
                  max_windows: int = 4) -> dict[str, Any]:
    """Score every (context, claim) row with an NLI model and compute the report."""
    from .scoring import score_claim_groups

    start = time.perf_counter()
    p_sup, p_con = [], []
    by_context: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_context.setdefault(r["context"], []).append(i)
    groups = [([rows[i]["claim"] for i in idx], [context]) for context, idx in by_context.items()]
    results: dict[int, Any] = {}
    # claims of one context are scored together, all contexts in one batched pass
    for idx, scores in zip(by_context.values(), score_claim_groups(nli, groups, max_windows=max_windows), strict=True):
        for i, s in zip(idx, scores, strict=True):
            results[i] = s
    seconds = time.perf_counter() - start
    for i in range(len(rows)):
        p_sup.append(results[i].p_supported)
        p_con.append(results[i].p_contradicted)
    errors = [r.get("error") for r in rows] if any(r.get("error") for r in rows) else None
    return metrics([r["label"] for r in rows], p_sup, p_con, seconds, threshold, errors=errors)


def evaluate_file(path: str | Path, *, config_path: str | None = None, model: str | None = None,
                  threshold: float | None = None, head: bool = True) -> dict[str, Any]:
    from pilotfish.core.config import load_config

    from .nli import load_nli

    rows = read_claims(path)
    opts: dict[str, Any] = {}
    if config_path is not None:
        opts = load_config(config_path).plugin_options("entailment")
    model = model or opts.get("model") or None
    if threshold is None and "threshold" in opts:
        threshold = float(opts["threshold"])
    if "head" in opts:
        head = head and bool(opts["head"])
    nli = load_nli(model, head=head)
    warm_up(nli, rows)
    report = evaluate_rows(rows, nli, threshold, max_windows=int(opts.get("max_windows", 4)))
    return report


def warm_up(nli: Any, rows: list[dict[str, Any]], limit: int = 512) -> None:
    """Score up to ``limit`` rows once, untimed: the first batch of each padded shape compiles CPU
    kernels (seconds under bf16), which is start-up cost, not throughput."""
    sample = rows[:limit]
    nli.predict([r["context"] for r in sample], [r["claim"] for r in sample])


def public(report: dict[str, Any]) -> dict[str, Any]:
    """The report with exactly the documented keys (for ``--json``)."""
    return {k: report[k] for k in ("auroc", "balanced_accuracy", "macro_f1", "per_label", "claims_per_s")}


def _range(report: dict[str, Any], key: str) -> str:
    lo, hi = report.get("_spread", {}).get(key, (None, None))
    return f"   (halvings: {lo:.3f}-{hi:.3f})" if lo is not None and lo != hi else ""


def format_report(report: dict[str, Any], title: str = "") -> str:
    lines = [title] if title else []
    lines += [
        f"claims: {report['_n']}   threshold: {report['_threshold']}",
        f"AUROC (supported vs not):             {report['auroc']:.3f}",
        f"balanced accuracy (supported vs not): {report['balanced_accuracy']:.3f}{_range(report, 'balanced_accuracy')}",
        f"3-way macro-F1:                       {report['macro_f1']:.3f}{_range(report, 'macro_f1')}",
        f"claims/s:                             {report['claims_per_s']:.1f}",
        "label          precision  recall   f1     n",
    ]
    for label, m in report["per_label"].items():
        lines.append(f"{label:<14} {m['precision']:>9.3f}  {m['recall']:>6.3f}  {m['f1']:.3f}  {m['support']}")
    return "\n".join(lines)

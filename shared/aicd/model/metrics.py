"""Evaluation metrics as plain functions of arrays (no scikit-learn import, so they load fast).

Which direction is better matters for gating: ``HIGHER_IS_BETTER`` lists the metrics whose
threshold is a minimum; every other known metric's threshold is a maximum.
"""

from __future__ import annotations

import numpy as np

__all__ = ["HIGHER_IS_BETTER", "KNOWN_METRICS", "accuracy_from_confusion", "classification_metrics",
           "regression_metrics"]

HIGHER_IS_BETTER = frozenset({"accuracy", "precision", "recall", "f1", "roc_auc", "r2"})
KNOWN_METRICS = HIGHER_IS_BETTER | {"mse", "rmse", "mae"}


def accuracy_from_confusion(tp: int, fp: int, tn: int, fn: int) -> float:
    """(TP + TN) / all; the story's example (80, 20, 190, 10) gives 0.90."""
    total = tp + fp + tn + fn
    return (tp + tn) / total if total else 0.0


def classification_metrics(y_true, y_pred, y_score=None, positive=1) -> dict[str, float]:
    """Accuracy for any number of classes; precision/recall/F1/ROC-AUC of ``positive`` when binary."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    out = {"accuracy": float(np.mean(t == p)) if t.size else 0.0}
    if len(np.unique(t)) > 2:
        return out
    tp = int(np.sum((p == positive) & (t == positive)))
    fp = int(np.sum((p == positive) & (t != positive)))
    fn = int(np.sum((p != positive) & (t == positive)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    out.update(precision=precision, recall=recall,
               f1=2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    if y_score is not None:
        out["roc_auc"] = roc_auc(t == positive, np.asarray(y_score, dtype=float))
    return out


def roc_auc(is_positive, score) -> float:
    """Area under the ROC curve via the rank-sum (Mann-Whitney U) identity, ties averaged."""
    pos = np.asarray(is_positive, dtype=bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if not n_pos or not n_neg:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score), dtype=float)
    sorted_scores = np.asarray(score)[order]
    ranks[order] = np.arange(1, len(score) + 1)
    for value in np.unique(sorted_scores):  # average ranks of ties
        tied = np.asarray(score) == value
        ranks[tied] = ranks[tied].mean()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def regression_metrics(y_true, y_pred) -> dict[str, float]:
    """MSE, RMSE, MAE and R²."""
    t, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    err = t - p
    mse = float(np.mean(err**2))
    var = float(np.var(t))
    return {"mse": mse, "rmse": mse**0.5, "mae": float(np.mean(np.abs(err))),
            "r2": 1 - mse / var if var else 0.0}

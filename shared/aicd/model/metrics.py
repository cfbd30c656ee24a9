"""Evaluation metrics as plain functions of arrays (numpy only, so they load fast and bootstrap fast).

Which direction is better matters for gating: ``HIGHER_IS_BETTER`` lists the metrics whose
threshold is a minimum; every other known metric's threshold is a maximum. Binary problems report
precision/recall/F1 of the positive class; multi-class problems report their macro averages.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CLASSIFICATION", "HIGHER_IS_BETTER", "RANGES", "REGRESSION", "accuracy_from_confusion",
           "classification_metrics", "regression_metrics", "roc_auc"]

CLASSIFICATION = frozenset({"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"})
REGRESSION = frozenset({"mse", "rmse", "mae", "r2"})
HIGHER_IS_BETTER = frozenset({"accuracy", "precision", "recall", "f1", "roc_auc", "r2"})
# Where each metric can lie: a threshold outside (or on the edge that every model reaches) gates nothing.
RANGES = {"accuracy": (0.0, 1.0), "precision": (0.0, 1.0), "recall": (0.0, 1.0), "f1": (0.0, 1.0),
          "roc_auc": (0.0, 1.0), "log_loss": (0.0, float("inf")), "mse": (0.0, float("inf")),
          "rmse": (0.0, float("inf")), "mae": (0.0, float("inf")), "r2": (float("-inf"), 1.0)}
_PROB_FLOOR = 1e-15  # log-loss clips probabilities like scikit-learn does


def accuracy_from_confusion(tp: int, fp: int, tn: int, fn: int) -> float:
    """(TP + TN) / all; the story's example (80, 20, 190, 10) gives 0.90."""
    total = tp + fp + tn + fn
    return (tp + tn) / total if total else 0.0


def classification_metrics(y_true, y_pred, proba=None, classes=None, positive=1) -> dict[str, float]:
    """Accuracy, precision, recall, F1; ROC-AUC and log-loss when class probabilities are given.

    ``proba`` has one column per entry of ``classes`` (the estimator's ``classes_`` order).
    """
    t, p = np.asarray(y_true), np.asarray(y_pred)
    labels = list(classes) if classes is not None else sorted(set(t.tolist()) | set(p.tolist()))
    out = {"accuracy": float(np.mean(t == p)) if t.size else 0.0}
    binary = len(labels) <= 2 and positive in labels
    scored = [positive] if binary else labels
    per_class = [_precision_recall_f1(t == c, p == c) for c in scored]
    out.update(precision=float(np.mean([x[0] for x in per_class])), recall=float(np.mean([x[1] for x in per_class])),
               f1=float(np.mean([x[2] for x in per_class])))
    if proba is not None:
        proba = np.asarray(proba, dtype=float)
        if binary:
            out["roc_auc"] = roc_auc(t == positive, proba[:, labels.index(positive)])
        else:  # one-vs-rest, macro
            out["roc_auc"] = float(np.mean([roc_auc(t == c, proba[:, i]) for i, c in enumerate(labels)]))
        out["log_loss"] = log_loss(t, proba, labels)
    return out


def _precision_recall_f1(actual: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    tp = int(np.sum(actual & predicted))
    precision = tp / int(predicted.sum()) if predicted.any() else 0.0
    recall = tp / int(actual.sum()) if actual.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def log_loss(y_true, proba, labels) -> float:
    """Mean negative log-likelihood of the true class (probabilities clipped at 1e-15)."""
    index = {label: i for i, label in enumerate(labels)}
    columns = np.array([index.get(v, -1) for v in np.asarray(y_true).tolist()])
    known = columns >= 0
    chosen = np.asarray(proba, dtype=float)[np.nonzero(known)[0], columns[known]]
    return float(-np.mean(np.log(np.clip(chosen, _PROB_FLOOR, 1.0)))) if chosen.size else float("nan")


def roc_auc(is_positive, score) -> float:
    """Area under the ROC curve via the rank-sum (Mann-Whitney U) identity, ties averaged."""
    pos = np.asarray(is_positive, dtype=bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if not n_pos or not n_neg:
        return float("nan")
    _, inverse, counts = np.unique(np.asarray(score, dtype=float), return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = ((ends - counts + 1 + ends) / 2.0)[inverse]
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def regression_metrics(y_true, y_pred) -> dict[str, float]:
    """MSE, RMSE, MAE and R²."""
    t, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    err = t - p
    mse = float(np.mean(err**2))
    var = float(np.var(t))
    return {"mse": mse, "rmse": mse**0.5, "mae": float(np.mean(np.abs(err))),
            "r2": 1 - mse / var if var else 0.0}

"""Evaluation metrics as plain functions of arrays (numpy only, so they load fast and bootstrap fast).

Every metric is registered once in ``METRICS`` with its task, its range and its direction (a
threshold on a higher-is-better metric is a minimum, on any other a maximum); thresholds, the
champion comparison and the README's list are derived from it. Binary problems report
precision/recall/F1 of the positive class; multi-class problems report their macro averages.
Imbalanced problems are better judged by ``average_precision`` (the area under the
precision-recall curve), ``balanced_accuracy`` or ``mcc`` than by accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CLASSIFICATION", "HIGHER_IS_BETTER", "METRICS", "RANGES", "REGRESSION", "Metric",
           "accuracy_from_confusion", "brier", "classification_metrics", "confusion", "per_class", "regression_metrics",
           "roc_auc"]

INF = float("inf")


@dataclass(frozen=True)
class Metric:
    name: str
    task: str  # classification | regression
    low: float  # where it can lie: a threshold outside gates nothing
    high: float
    higher_is_better: bool
    needs_proba: bool = False  # computed only when the model gives class probabilities
    meaning: str = ""


METRICS = {m.name: m for m in (
    Metric("accuracy", "classification", 0, 1, True, meaning="share of rows predicted right"),
    Metric("balanced_accuracy", "classification", 0, 1, True, meaning="mean recall over the classes"),
    Metric("precision", "classification", 0, 1, True, meaning="of the rows predicted positive, the share that is"),
    Metric("recall", "classification", 0, 1, True, meaning="of the positive rows, the share found"),
    Metric("f1", "classification", 0, 1, True, meaning="harmonic mean of precision and recall"),
    Metric("mcc", "classification", -1, 1, True, meaning="Matthews correlation of predictions and labels"),
    Metric("roc_auc", "classification", 0, 1, True, True, "area under the ROC curve"),
    Metric("average_precision", "classification", 0, 1, True, True,
           "area under the precision-recall curve (PR-AUC) of the positive class"),
    Metric("log_loss", "classification", 0, INF, False, True, "mean negative log-likelihood"),
    Metric("brier", "classification", 0, 2, False, True,
           "mean squared error of the probabilities (binary: of the positive class, 0 to 1)"),
    Metric("mse", "regression", 0, INF, False, meaning="mean squared error"),
    Metric("rmse", "regression", 0, INF, False, meaning="root mean squared error"),
    Metric("mae", "regression", 0, INF, False, meaning="mean absolute error"),
    Metric("r2", "regression", -INF, 1, True, meaning="coefficient of determination"),
)}
CLASSIFICATION = frozenset(n for n, m in METRICS.items() if m.task == "classification")
REGRESSION = frozenset(n for n, m in METRICS.items() if m.task == "regression")
HIGHER_IS_BETTER = frozenset(n for n, m in METRICS.items() if m.higher_is_better)
RANGES = {n: (m.low, m.high) for n, m in METRICS.items()}
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
    per = [_precision_recall_f1(t == c, p == c) for c in scored]
    out.update(precision=float(np.mean([x[0] for x in per])), recall=float(np.mean([x[1] for x in per])),
               f1=float(np.mean([x[2] for x in per])))
    present = [c for c in labels if np.any(t == c)]
    out["balanced_accuracy"] = float(np.mean([np.mean(p[t == c] == c) for c in present])) if present else 0.0
    out["mcc"] = mcc(confusion(t, p, labels))
    if proba is not None:
        proba = np.asarray(proba, dtype=float)
        if binary:
            score = proba[:, labels.index(positive)]
            out["roc_auc"] = roc_auc(t == positive, score)
            out["average_precision"] = average_precision(t == positive, score)
        else:  # one-vs-rest, macro
            out["roc_auc"] = float(np.mean([roc_auc(t == c, proba[:, i]) for i, c in enumerate(labels)]))
            out["average_precision"] = float(np.mean([average_precision(t == c, proba[:, i])
                                                      for i, c in enumerate(labels)]))
        out["log_loss"] = log_loss(t, proba, labels)
        out["brier"] = brier(t, proba, labels, positive if binary else None)
    return out


def brier(y_true, proba, labels, positive=None) -> float:
    """Binary (``positive`` given): the mean squared error of the positive class's probability, in
    [0, 1]; multi-class: the mean over rows of the squared error summed over classes, in [0, 2]."""
    t = np.asarray(y_true)
    if not t.size:
        return float("nan")
    if positive is not None:
        return float(np.mean((proba[:, list(labels).index(positive)] - (t == positive)) ** 2))
    onehot = np.stack([t == c for c in labels], axis=1).astype(float)
    return float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))


def confusion(y_true, y_pred, labels) -> list[list[int]]:
    """Counts of (actual row, predicted column) in ``labels`` order."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    return [[int(np.sum((t == a) & (p == b))) for b in labels] for a in labels]


def per_class(y_true, y_pred, labels) -> dict[str, dict[str, float]]:
    """Precision, recall and support of every class, for the summary."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    out = {}
    for c in labels:
        precision, recall, _ = _precision_recall_f1(t == c, p == c)
        out[str(c)] = {"precision": precision, "recall": recall, "support": int(np.sum(t == c))}
    return out


def mcc(matrix: list[list[int]]) -> float:
    """Matthews correlation coefficient of a confusion matrix (the multi-class R_K form); 0 when undefined."""
    c = np.asarray(matrix, dtype=float)
    n, correct = c.sum(), np.trace(c)
    truth, predicted = c.sum(axis=1), c.sum(axis=0)
    numerator = correct * n - truth @ predicted
    denominator = np.sqrt(n**2 - predicted @ predicted) * np.sqrt(n**2 - truth @ truth)
    return float(numerator / denominator) if denominator else 0.0


def average_precision(is_positive, score) -> float:
    """Area under the precision-recall curve as scikit-learn computes it: the precision at each
    distinct score, weighted by the recall gained there."""
    pos = np.asarray(is_positive, dtype=bool)
    if not pos.any():
        return float("nan")
    order = np.argsort(-np.asarray(score, dtype=float), kind="mergesort")
    s, hits = np.asarray(score, dtype=float)[order], pos[order]
    last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]  # the last row of each distinct score
    tp = np.cumsum(hits)[last]
    precision, recall = tp / (last + 1), tp / pos.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


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

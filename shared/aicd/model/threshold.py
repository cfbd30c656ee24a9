"""Choosing a binary classifier's decision threshold on validation rows (pure numpy).

The rules of ``model.decision-threshold``: ``fixed`` (the number given), ``f1`` (the threshold
that maximises F1), ``precision`` (the lowest threshold whose precision meets the target, so
recall is as high as it can be) and ``recall`` (the highest threshold whose recall meets the
target, so precision is as high as it can be). Candidates are the distinct scores themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Choice", "choose_threshold"]


@dataclass(frozen=True)
class Choice:
    threshold: float
    precision: float  # on the validation rows, at the threshold
    recall: float
    met: bool  # the target was reached (always true for fixed and f1)


def choose_threshold(is_positive, scores, rule: str, target: float | None = None) -> Choice:
    """The threshold by ``rule`` on validation labels ``is_positive`` and positive-class ``scores``."""
    pos, s = np.asarray(is_positive, dtype=bool), np.asarray(scores, dtype=float)
    if rule == "fixed":
        return Choice(float(target), *_at(pos, s, float(target)), True)
    candidates = np.unique(s)
    precision, recall = np.array([_at(pos, s, t) for t in candidates]).T.reshape(2, -1)
    if rule == "f1":
        f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)
        i = int(np.argmax(f1))
    elif rule == "precision":
        ok = np.nonzero(precision >= target)[0]
        i = int(ok[0]) if ok.size else int(np.argmax(precision))
    else:  # recall
        ok = np.nonzero(recall >= target)[0]
        i = int(ok[-1]) if ok.size else 0
    met = rule == "f1" or (precision[i] >= target if rule == "precision" else recall[i] >= target)
    return Choice(float(candidates[i]), float(precision[i]), float(recall[i]), bool(met))


def _at(pos: np.ndarray, s: np.ndarray, t: float) -> tuple[float, float]:
    predicted = s >= t
    tp = int(np.sum(predicted & pos))
    precision = tp / int(predicted.sum()) if predicted.any() else 0.0
    recall = tp / int(pos.sum()) if pos.any() else 0.0
    return precision, recall

"""How a classifier's class probabilities become its answer, and how they are shown (pure, import-free:
the serving image carries it).

A binary model may carry a decision threshold chosen at training (``model.decision-threshold``):
the answer is the positive class when its probability is at least the threshold, else the other
class. Without one the answer is the model's own (the most probable class).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["as_classes", "class_key", "decide", "probability_rows"]


def decide(probabilities: Sequence[Sequence[float]], classes: Sequence, positive, threshold: float) -> list:
    """The label of each row of ``probabilities`` (columns in ``classes`` order) at ``threshold``."""
    at = list(classes).index(positive)
    other = next(c for c in classes if c != positive)
    return [positive if row[at] >= threshold else other for row in probabilities]


def as_classes(labels: list, classes: Sequence) -> list:
    """ONNX gives a boolean class as 0/1 (or its text): answer with the model's own True/False."""
    if not any(isinstance(c, bool) for c in classes):
        return labels
    words = {"1": True, "0": False, "true": True, "false": False}
    return [v if isinstance(v, bool) else words.get(str(v).lower(), v) for v in labels]


def probability_rows(probabilities: Sequence[Sequence[float]], classes: Sequence) -> list[dict[str, float]]:
    """``[{"<class>": p, ...}, ...]``: JSON object keys are text, so each class is its JSON text
    (``1`` → ``"1"``, ``"churn"`` → ``"churn"``, ``true`` → ``"true"``)."""
    names = [_key(c) for c in classes]
    return [{name: round(float(p), 6) for name, p in zip(names, row, strict=True)} for row in probabilities]


def _key(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def class_key(value: object) -> str:
    """A class as one comparable text: 1, 1.0 and "1" are the same class; True is "True"."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return str(int(number)) if number.is_integer() and value.strip() == value else value
    return str(value)

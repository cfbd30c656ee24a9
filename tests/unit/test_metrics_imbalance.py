"""The imbalance metrics agree with scikit-learn's definitions (computed here with numpy only)."""

import numpy as np
import pytest
from sklearn import metrics as sk

from aicd.model.metrics import METRICS, classification_metrics, confusion, per_class


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_balanced_accuracy_mcc_average_precision_and_brier_match_scikit_learn(classes, seed):
    rng = np.random.default_rng(seed)
    y = rng.choice(classes, 700, p=[0.8, 0.2] if classes == 2 else [0.7, 0.2, 0.1])
    proba = rng.dirichlet(np.ones(classes), 700).round(2)  # rounded: tied scores, as trees give
    proba /= proba.sum(axis=1, keepdims=True)
    predicted = proba.argmax(axis=1)
    got = classification_metrics(y, predicted, proba, list(range(classes)), positive=1)
    assert got["balanced_accuracy"] == pytest.approx(sk.balanced_accuracy_score(y, predicted))
    assert got["mcc"] == pytest.approx(sk.matthews_corrcoef(y, predicted))
    if classes == 2:
        assert got["average_precision"] == pytest.approx(sk.average_precision_score(y == 1, proba[:, 1]))
        assert got["brier"] == pytest.approx(sk.brier_score_loss(y == 1, proba[:, 1]))
    else:
        assert got["average_precision"] == pytest.approx(
            sk.average_precision_score(np.eye(classes)[y], proba, average="macro"))


def test_confusion_and_per_class_for_the_summary():
    y, p = [0, 0, 1, 1, 1], [0, 1, 1, 1, 0]
    assert confusion(y, p, [0, 1]) == [[1, 1], [1, 2]]
    assert per_class(y, p, [0, 1])["1"] == {"precision": 2 / 3, "recall": 2 / 3, "support": 3}


def test_every_metric_is_registered_once_with_its_range_and_direction():
    assert {"average_precision", "balanced_accuracy", "mcc", "brier"} <= set(METRICS)
    assert not METRICS["brier"].higher_is_better and METRICS["mcc"].low == -1


def test_the_readme_lists_every_metric():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert [name for name in METRICS if f"| `{name}` |" not in readme] == []

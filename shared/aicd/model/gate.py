"""The threshold gate: metrics and thresholds in, one verdict per threshold out (no I/O)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .metrics import HIGHER_IS_BETTER

__all__ = ["ThresholdResult", "check_thresholds"]


@dataclass(frozen=True)
class ThresholdResult:
    metric: str
    value: float
    threshold: float
    direction: str  # ">=" or "<="
    passed: bool

    def to_dict(self) -> dict:
        return asdict(self)


def check_thresholds(metrics: dict[str, float], thresholds: dict[str, float]) -> list[ThresholdResult]:
    """A minimum for higher-is-better metrics, a maximum for the others. Unknown metrics are the
    caller's to reject earlier (config validation). A metric that is NaN (undefined, e.g. ROC-AUC
    with one class in the holdout) or that the model cannot give (log_loss of a model without
    probabilities) never passes."""
    out = []
    for name, limit in thresholds.items():
        value = metrics.get(name, math.nan)  # absent: the model cannot give it (log_loss without predict_proba)
        higher = name in HIGHER_IS_BETTER
        passed = not math.isnan(value) and (value >= limit if higher else value <= limit)
        out.append(ThresholdResult(name, value, limit, ">=" if higher else "<=", passed))
    return out

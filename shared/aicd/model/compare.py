"""Champion/challenger on the same holdout: a paired bootstrap interval per metric (no I/O).

Each resample draws holdout rows with replacement and computes the metric for both models on the
*same* rows, so the interval is of the paired difference and row-level noise cancels out. The
difference is oriented so that positive always means "candidate is better" (candidate − champion
for higher-is-better metrics, champion − candidate otherwise). The candidate is non-inferior when
the lower bound is at least −margin, and superior when the lower bound is above 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .metrics import HIGHER_IS_BETTER
from .train import Evaluation

__all__ = ["Comparison", "compare_models"]


@dataclass(frozen=True)
class Comparison:
    metric: str
    candidate: float
    champion: float
    difference: float  # oriented: positive = candidate better
    low: float
    high: float
    margin: float
    require_improvement: bool
    passed: bool

    @property
    def verdict(self) -> str:
        if self.low > 0:
            return "superior"
        return "non-inferior" if self.low >= -self.margin else "inferior"

    def to_dict(self) -> dict:
        return {**asdict(self), "verdict": self.verdict}


def compare_models(candidate: Evaluation, champion: Evaluation, metrics: list[str], margin: float,
                   require_improvement: bool, resamples: int, confidence: float, seed: int) -> list[Comparison]:
    """One Comparison per metric; both evaluations must be of the same holdout rows, in order."""
    if len(candidate.y_true) != len(champion.y_true):
        raise ValueError("candidate and champion were evaluated on different holdouts")
    rng = np.random.default_rng(seed)
    n = len(candidate.y_true)
    pairs = [(candidate.metrics(rows), champion.metrics(rows)) for rows in (rng.integers(0, n, n)
                                                                          for _ in range(resamples))]
    observed_candidate, observed_champion = candidate.metrics(), champion.metrics()
    out = []
    for metric in metrics:
        sign = 1.0 if metric in HIGHER_IS_BETTER else -1.0
        # a metric a model cannot give (log_loss without probabilities) is NaN: no interval, never passed
        observed_c, observed_h = observed_candidate.get(metric, np.nan), observed_champion.get(metric, np.nan)
        diffs = np.array([sign * (c.get(metric, np.nan) - h.get(metric, np.nan)) for c, h in pairs])
        diffs = diffs[np.isfinite(diffs)]
        alpha = (1 - confidence) / 2
        low, high = (float(np.quantile(diffs, alpha)), float(np.quantile(diffs, 1 - alpha))) if diffs.size else (
            float("-inf"), float("inf"))
        passed = low > 0 if require_improvement else low >= -margin
        out.append(Comparison(metric, observed_c, observed_h, sign * (observed_c - observed_h), low, high, margin,
                              require_improvement, passed))
    return out

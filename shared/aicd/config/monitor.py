"""The ``monitor:`` section of aicd.yml: how the production gate decides.

    monitor:
      confidence: 0.99              # family-wise: the chance of any false rollback, at every look, ≤ 1 %
      min-samples: 100              # per version and check; fewer → hold, "not enough samples"
      # absolute thresholds on the version being judged
      min-accuracy: 0.85            # online accuracy from delayed labels (aicd_feedback_total)
      min-precision: null           # a binary classifier's online precision and recall of its positive
      min-recall: null              # class (aicd_feedback_confusion_total); off unless set
      min-f1: null                  # ... and their F1
      max-mae: null                 # a regressor's online mean absolute error, in the label's unit
      max-rmse: null                # ... and root mean squared error (aicd_feedback_error_total)
      max-error-rate: 0.01          # 5xx share of /predict
      max-latency-p95: 500ms        # p95 of /predict, with its unit (ms or s), at a histogram bound
      # relative to stable (compare: canary) or to a (compare: ab)
      max-accuracy-drop: 0.02
      max-mae-increase: 0.1         # a regressor's MAE at most 10 % above the baseline's
      max-error-rate-increase: 0.005
      max-slow-share-increase: 0.05 # share of requests slower than max-latency-p95, above the baseline's
      max-conversion-drop: 0.005    # canary only; A/B judges conversion two-sided
      consecutive-failures: 1       # failing evaluations in a row before a rollback
      evaluations: 1                # evaluations per run of the step ...
      interval-seconds: 60          # ... this far apart (stops early on promote / rollback / retrain)
      window: auto                  # Prometheus: since the candidate started; or a duration (30m, 2h)
      drift: {method: kl, threshold: 0.1, min-samples: 500}   # kl | psi | js | chisquare (p-value)

Each key is a field below, read by :mod:`aicd.config.reader`, so every mistake names its file and
line like the rest of aicd.yml.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import ClassVar

from ..data.drift import BINNED, METHODS
from ..latency import LATENCY_BUCKETS
from .reader import Entry, Reader, Retired, setting

__all__ = ["DRIFT_METHODS", "LiveDriftConfig", "MonitorConfig", "window_seconds"]

DRIFT_METHODS = BINNED  # live traffic is counted in the reference's bins: the methods that work on bins
DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
LATENCY = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s)$")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _drift_threshold(e: Entry) -> float:
    """The method's own default unless given; a p-value and the JS distance lie in [0, 1]."""
    method = METHODS[e.read["method"]]
    high = 1 if method.p_value or e.read["method"] == "js" else None
    return replace(e, default=method.threshold, high=high).number()


@dataclass(frozen=True)
class LiveDriftConfig:
    method: str = setting("kl", choices=DRIFT_METHODS)
    # chisquare: a p-value below it is drift; the others: a statistic above it
    threshold: float = setting(0.1, low=0, parse=_drift_threshold)
    min_samples: int = setting(500, low=1)


def _renamed_hint(old: object) -> str:
    hint = f"write max-latency-p95: {old}ms"
    if isinstance(old, (int, float)) and not isinstance(old, bool) and old < 10:
        hint += f", or {old}s if seconds were meant"
    return hint


def _latency(e: Entry) -> float:
    """``max-latency-p95``: a duration with its unit, at one of the server's histogram bounds (a p95
    can only be bounded there; a limit between bounds would silently be judged at the next one up)."""
    if not e.given:
        return e.default
    raw = e.value
    found = LATENCY.match(raw.strip()) if isinstance(raw, str) else None
    if not found:
        raise e.fail(f"must be a duration with its unit, got {raw!r}", "e.g. 500ms or 0.5s")
    ms = float(found.group(1)) * (1000 if found.group(2) == "s" else 1)
    bounds = [b * 1000 for b in LATENCY_BUCKETS]
    if not any(math.isclose(ms, b) for b in bounds):
        below = [b for b in bounds if b < ms]
        above = [b for b in bounds if b > ms]
        near = " or ".join(_ms(b) for b in (below[-1:] + above[:1]))
        raise e.fail(f"{raw} is not a bound of the server's latency histogram "
                     f"({_ms(bounds[0])} to {_ms(bounds[-1])}), so its p95 cannot be judged there",
                     f"use {near}" if near else "")
    return ms


def _ms(ms: float) -> str:
    return f"{ms / 1000:g}s" if ms >= 1000 else f"{ms:g}ms"


def _window(e: Entry) -> str:
    window = e.text()
    if window != "auto" and not DURATION.match(window):
        raise e.fail(f"must be auto or a duration like 30m or 2h, got {window!r}")
    if window != "auto" and window_seconds(window) < 60:
        raise e.fail(f"{window} is shorter than a minute: it would count next to nothing (a few scrapes at most)",
                     "use auto (since the candidate started) or e.g. 30m")
    return window


@dataclass(frozen=True)
class MonitorConfig:
    RETIRED: ClassVar[dict[str, Retired]] = {"max-latency-p95-ms": Retired(
        "renamed: the limit now carries its unit, so ms and s cannot be mixed up", _renamed_hint)}

    confidence: float = setting(0.99, low=0.5, high=0.9999)
    min_samples: int = setting(100, low=1)
    min_accuracy: float = setting(0.85, low=0, high=1)
    min_precision: float | None = setting(None, low=0, high=1)  # binary classifiers, from delayed labels
    min_recall: float | None = setting(None, low=0, high=1)
    min_f1: float | None = setting(None, low=0, high=1)
    max_mae: float | None = setting(None, low=0)  # regressors, from delayed true values
    max_rmse: float | None = setting(None, low=0)
    max_error_rate: float = setting(0.01, low=0, high=1)
    max_latency_p95_ms: float = setting(500.0, key="max-latency-p95", parse=_latency)
    max_accuracy_drop: float = setting(0.02, low=0, high=1)
    max_mae_increase: float = setting(0.1, low=0, high=10)  # a share of the baseline's MAE
    max_error_rate_increase: float = setting(0.005, low=0, high=1)
    max_slow_share_increase: float = setting(0.05, low=0, high=1)
    max_conversion_drop: float = setting(0.005, low=0, high=1)
    consecutive_failures: int = setting(1, low=1, high=100)
    evaluations: int = setting(1, low=1, high=1000)
    interval_seconds: float = setting(60.0, low=1, high=3600)
    window: str = setting("auto", parse=_window)
    drift: LiveDriftConfig = setting(factory=LiveDriftConfig)

    def check(self, r: Reader, path: str) -> None:
        if self.consecutive_failures > self.evaluations:
            raise r.fail(f"{path}.consecutive-failures", f"is {self.consecutive_failures} but monitor.evaluations "
                         f"is {self.evaluations}: a run could never roll back; raise evaluations or lower it")


def window_seconds(window: str) -> int | None:
    """Seconds of a duration like ``30m``; None for ``auto``. Assumes a value the reader accepted."""
    if window == "auto":
        return None
    number, unit = DURATION.match(window).groups()
    return int(number) * SECONDS[unit]

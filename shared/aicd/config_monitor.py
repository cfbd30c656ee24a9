"""The ``monitor:`` section of aicd.yml: how the production gate decides.

    monitor:
      confidence: 0.99              # family-wise: the chance of any false rollback, at every look, ≤ 1 %
      min-samples: 100              # per version and check; fewer → hold, "not enough samples"
      # absolute thresholds on the version being judged
      min-accuracy: 0.85            # online accuracy from delayed labels (aicd_feedback_total)
      max-error-rate: 0.01          # 5xx share of /predict
      max-latency-p95: 500ms        # p95 of /predict, with its unit (ms or s), at a histogram bound
      # relative to stable (compare: canary) or to a (compare: ab)
      max-accuracy-drop: 0.02
      max-error-rate-increase: 0.005
      max-slow-share-increase: 0.05 # share of requests slower than max-latency-p95, above the baseline's
      max-conversion-drop: 0.005    # canary only; A/B judges conversion two-sided
      consecutive-failures: 1       # failing evaluations in a row before a rollback
      evaluations: 1                # evaluations per run of the step ...
      interval-seconds: 60          # ... this far apart (stops early on promote / rollback / retrain)
      window: auto                  # Prometheus: since the candidate started; or a duration (30m, 2h)
      drift: {method: kl, threshold: 0.1, min-samples: 500}   # kl | psi | js | chisquare (p-value)

Parsed by :func:`parse_monitor` with the reader of :mod:`aicd.config`, so every mistake names its
file and line like the rest of aicd.yml.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from .data.drift import BINNED, METHODS
from .latency import LATENCY_BUCKETS

__all__ = ["DRIFT_METHODS", "LiveDriftConfig", "MonitorConfig", "parse_monitor", "window_seconds"]

DRIFT_METHODS = BINNED  # live traffic is counted in the reference's bins: the methods that work on bins
DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
LATENCY = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s)$")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class LiveDriftConfig:
    method: str = "kl"
    threshold: float = 0.1  # chisquare: a p-value below it is drift; the others: a statistic above it
    min_samples: int = 500


@dataclass(frozen=True)
class MonitorConfig:
    confidence: float = 0.99
    min_samples: int = 100
    min_accuracy: float = 0.85
    max_error_rate: float = 0.01
    max_latency_p95_ms: float = 500.0
    max_accuracy_drop: float = 0.02
    max_error_rate_increase: float = 0.005
    max_slow_share_increase: float = 0.05
    max_conversion_drop: float = 0.005
    consecutive_failures: int = 1
    evaluations: int = 1
    interval_seconds: float = 60.0
    window: str = "auto"
    drift: LiveDriftConfig = field(default_factory=LiveDriftConfig)


def window_seconds(window: str) -> int | None:
    """Seconds of a duration like ``30m``; None for ``auto``. Assumes a value parse_monitor accepted."""
    if window == "auto":
        return None
    number, unit = DURATION.match(window).groups()
    return int(number) * SECONDS[unit]


def parse_monitor(r: Any, raw: Any) -> MonitorConfig:
    """``r`` is aicd.config's reader: mistakes raise its ConfigError naming file, line and key."""
    keys = {"confidence", "min-samples", "min-accuracy", "max-error-rate", "max-latency-p95", "max-accuracy-drop",
            "max-error-rate-increase", "max-slow-share-increase", "max-conversion-drop", "consecutive-failures",
            "evaluations", "interval-seconds", "window", "drift"}
    if isinstance(raw, dict) and "max-latency-p95-ms" in raw:
        raise r.fail("monitor.max-latency-p95-ms", "renamed: the limit now carries its unit, so ms and s cannot be "
                     "mixed up", hint=_renamed_hint(raw["max-latency-p95-ms"]))
    m = r.mapping(raw, "monitor", keys)
    d = MonitorConfig()
    cfg = MonitorConfig(
        confidence=r.number(m, "monitor", "confidence", d.confidence, low=0.5, high=0.9999),
        min_samples=r.number(m, "monitor", "min-samples", d.min_samples, low=1, integer=True),
        min_accuracy=r.number(m, "monitor", "min-accuracy", d.min_accuracy, low=0, high=1),
        max_error_rate=r.number(m, "monitor", "max-error-rate", d.max_error_rate, low=0, high=1),
        max_latency_p95_ms=_latency(r, m, d.max_latency_p95_ms),
        max_accuracy_drop=r.number(m, "monitor", "max-accuracy-drop", d.max_accuracy_drop, low=0, high=1),
        max_error_rate_increase=r.number(m, "monitor", "max-error-rate-increase", d.max_error_rate_increase, low=0,
                                         high=1),
        max_slow_share_increase=r.number(m, "monitor", "max-slow-share-increase", d.max_slow_share_increase,
                                         low=0, high=1),
        max_conversion_drop=r.number(m, "monitor", "max-conversion-drop", d.max_conversion_drop, low=0, high=1),
        consecutive_failures=r.number(m, "monitor", "consecutive-failures", 1, low=1, high=100, integer=True),
        evaluations=r.number(m, "monitor", "evaluations", 1, low=1, high=1000, integer=True),
        interval_seconds=r.number(m, "monitor", "interval-seconds", 60.0, low=1, high=3600),
        window=_window(r, m),
        drift=_drift(r, m.get("drift")),
    )
    if cfg.consecutive_failures > cfg.evaluations:
        raise r.fail("monitor.consecutive-failures", f"is {cfg.consecutive_failures} but monitor.evaluations is "
                     f"{cfg.evaluations}: a run could never roll back; raise evaluations or lower it")
    return cfg


def _latency(r: Any, m: dict, default_ms: float) -> float:
    """``max-latency-p95``: a duration with its unit, at one of the server's histogram bounds (a p95
    can only be bounded there; a limit between bounds would silently be judged at the next one up)."""
    if m.get("max-latency-p95") is None:
        return default_ms
    raw, where = m["max-latency-p95"], "monitor.max-latency-p95"
    found = LATENCY.match(raw.strip()) if isinstance(raw, str) else None
    if not found:
        raise r.fail(where, f"must be a duration with its unit, got {raw!r}", hint="e.g. 500ms or 0.5s")
    ms = float(found.group(1)) * (1000 if found.group(2) == "s" else 1)
    bounds = [b * 1000 for b in LATENCY_BUCKETS]
    if not any(math.isclose(ms, b) for b in bounds):
        below = [b for b in bounds if b < ms]
        above = [b for b in bounds if b > ms]
        near = " or ".join(_ms(b) for b in (below[-1:] + above[:1]))
        raise r.fail(where, f"{raw} is not a bound of the server's latency histogram "
                     f"({_ms(bounds[0])} to {_ms(bounds[-1])}), so its p95 cannot be judged there",
                     hint=f"use {near}" if near else "")
    return ms


def _renamed_hint(old: object) -> str:
    hint = f"write max-latency-p95: {old}ms"
    if isinstance(old, (int, float)) and not isinstance(old, bool) and old < 10:
        hint += f", or {old}s if seconds were meant"
    return hint


def _ms(ms: float) -> str:
    return f"{ms / 1000:g}s" if ms >= 1000 else f"{ms:g}ms"


def _window(r: Any, m: dict) -> str:
    window = r.text(m, "monitor", "window", "auto")
    if window != "auto" and not DURATION.match(window):
        raise r.fail("monitor.window", f"must be auto or a duration like 30m or 2h, got {window!r}")
    if window != "auto" and window_seconds(window) < 60:
        raise r.fail("monitor.window", f"{window} is shorter than a minute: it would count next to nothing "
                     "(a few scrapes at most)", hint="use auto (since the candidate started) or e.g. 30m")
    return window


def _drift(r: Any, raw: Any) -> LiveDriftConfig:
    m = r.mapping(raw, "monitor.drift", {"method", "threshold", "min-samples"})
    method = r.text(m, "monitor.drift", "method", "kl", DRIFT_METHODS)
    high = 1 if METHODS[method].p_value or method == "js" else None  # a p-value and the JS distance lie in [0, 1]
    return LiveDriftConfig(method, r.number(m, "monitor.drift", "threshold", METHODS[method].threshold, low=0,
                                        high=high),
                       r.number(m, "monitor.drift", "min-samples", 500, low=1, integer=True))

"""Deciding promote / hold / rollback from a production snapshot (pure statistics, no I/O).

Each check is *pass*, *fail* or *inconclusive*. Proportions (online accuracy, error rate) use a
Wilson score interval at the configured confidence: a check fails only when the whole interval is
on the wrong side of its threshold and passes only when it is wholly on the right side, so a small
sample is inconclusive instead of a coin flip. Any fail → rollback; all pass → promote; else hold.
Too little feedback is a hold that says "not enough samples".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist

from ..config import MonitorConfig
from .metrics import Snapshot

__all__ = ["CheckVerdict", "Decision", "decide", "wilson_interval"]


@dataclass(frozen=True)
class CheckVerdict:
    name: str
    verdict: str  # pass / fail / inconclusive
    value: float | None
    interval: tuple[float, float] | None
    threshold: float
    samples: int
    note: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    decision: str  # promote / hold / rollback
    reason: str
    checks: list[CheckVerdict]

    def evidence(self) -> dict:
        return {"decision": self.decision, "reason": self.reason, "checks": [c.to_dict() for c in self.checks]}


def wilson_interval(successes: int, n: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0, 1) when there are no trials."""
    if n == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _proportion(name: str, hits: int, n: int, unit: str, threshold: float, at_least: bool,
                cfg: MonitorConfig) -> CheckVerdict:
    """A rate check: ``hits`` of ``n`` must be at least (or at most) ``threshold``, with confidence."""
    value = hits / n if n else None
    if n < cfg.min_samples:
        return CheckVerdict(name, "inconclusive", value, None, threshold, n,
                            f"not enough samples: {n} {unit} of {cfg.min_samples} needed")
    lo, hi = wilson_interval(hits, n, cfg.confidence)
    good, bad = (lo >= threshold, hi < threshold) if at_least else (hi <= threshold, lo > threshold)
    verdict = "fail" if bad else "pass" if good else "inconclusive"
    return CheckVerdict(name, verdict, value, (lo, hi), threshold, n,
                        f"{'>=' if at_least else '<='} {threshold} required")


def _latency(s: Snapshot, cfg: MonitorConfig) -> CheckVerdict:
    p95 = s.latency_quantile(0.95)
    limit = cfg.max_latency_p95_ms
    if p95 is None or s.requests < cfg.min_samples:
        return CheckVerdict("latency-p95-ms", "inconclusive", None, None, limit, s.requests,
                            f"not enough samples: {s.requests} requests of {cfg.min_samples} needed")
    ms = p95 * 1000
    verdict = "pass" if ms <= limit else "fail"
    return CheckVerdict("latency-p95-ms", verdict, ms, None, limit, s.requests,
                        f"bucket upper bound <= {limit} ms required")


def decide(snapshot: Snapshot, cfg: MonitorConfig) -> Decision:
    checks = [
        _proportion("online-accuracy", snapshot.correct, snapshot.feedback, "feedback", cfg.min_accuracy, True, cfg),
        _proportion("error-rate", snapshot.errors, snapshot.requests, "requests", cfg.max_error_rate, False, cfg),
        _latency(snapshot, cfg),
    ]
    failed = [c.name for c in checks if c.verdict == "fail"]
    if failed:
        return Decision("rollback", f"failed: {', '.join(failed)}", checks)
    if all(c.verdict == "pass" for c in checks):
        return Decision("promote", "every check passed with confidence", checks)
    notes = dict.fromkeys(f"{c.name}: {c.note}" for c in checks if c.verdict == "inconclusive")
    return Decision("hold", "; ".join(notes), checks)

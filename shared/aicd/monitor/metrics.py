"""Reading a model server's Prometheus ``/metrics`` into a :class:`Snapshot` (the embedded default).

The metric names are the server's contract (see ``aicd.serve.app``). Parsing is pure
(``parse_snapshot``); ``read_endpoint`` is the only function here that does I/O.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from ..errors import ServiceError

__all__ = ["Snapshot", "parse_snapshot", "read_endpoint"]


@dataclass
class Snapshot:
    requests: int = 0
    errors: int = 0
    correct: int = 0
    incorrect: int = 0
    latency_buckets: list[tuple[float, float]] = field(default_factory=list)  # (le, cumulative count)
    model: dict = field(default_factory=dict)

    @property
    def feedback(self) -> int:
        return self.correct + self.incorrect

    def latency_quantile(self, q: float) -> float | None:
        """Upper bound of the bucket holding quantile ``q`` (seconds), as Prometheus would bound it."""
        if not self.latency_buckets or self.latency_buckets[-1][1] == 0:
            return None
        target = q * self.latency_buckets[-1][1]
        return next(le for le, count in self.latency_buckets if count >= target)


def parse_snapshot(text: str) -> Snapshot:
    snap = Snapshot()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            _absorb(snap, sample.name, sample.labels, sample.value)
    snap.latency_buckets.sort()
    return snap


def _absorb(snap: Snapshot, name: str, labels: dict, value: float) -> None:
    if name == "aicd_requests_total" and labels.get("route") == "predict":
        snap.requests += int(value)
        snap.errors += int(value) if labels.get("status", "").startswith("5") else 0
    elif name == "aicd_feedback_total":
        if labels.get("outcome") == "correct":
            snap.correct += int(value)
        elif labels.get("outcome") == "incorrect":
            snap.incorrect += int(value)
    elif name == "aicd_request_latency_seconds_bucket":
        snap.latency_buckets.append((float(labels["le"]), value))
    elif name == "aicd_model_info":
        snap.model = dict(labels)


def read_endpoint(endpoint: str, timeout: float = 10) -> Snapshot:
    url = endpoint.rstrip("/") + "/metrics"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            text = resp.read().decode("utf-8")
    except (urllib.error.URLError, OSError) as exc:
        raise ServiceError(f"model server at {endpoint}", f"cannot read /metrics ({getattr(exc, 'reason', exc)})",
                           retryable=True,
                           hint="check the `endpoint` input and that the deployment is running") from None
    return parse_snapshot(text)

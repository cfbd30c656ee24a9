"""What the production gate knows about one version: a :class:`Snapshot` of the server's counters.

The metric names are the model server's contract (``aicd.serve.metrics``, the README's table).
Both metric sources (``aicd.monitor.sources``) produce snapshots: the direct reader parses
``/metrics`` text with :func:`parse_snapshot`; the Prometheus adapter fills the same fields from
PromQL answers through :func:`absorb`. Everything here is pure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from .stats import Moments

OUTCOMES = {("aicd_feedback_total", "correct"), ("aicd_feedback_total", "incorrect"),
            ("aicd_conversions_total", "converted"), ("aicd_conversions_total", "not_converted")}

SIDES = {"positive", "negative"}  # aicd_feedback_confusion_total's actual / predicted
PAIRED = ("both", "served", "shadow", "neither")  # aicd_paired_feedback_total's outcomes: which model was right
ERROR_MOMENTS = ("count", "abs", "squared", "fourth")  # aicd_feedback_error_total: sums of |error|^0, 1, 2, 4

__all__ = ["ERROR_MOMENTS", "PAIRED", "Snapshot", "absorb", "matches", "parse_snapshot", "samples_of"]


@dataclass
class Snapshot:
    """Counts of one version (or variant) over the analysis window."""

    requests: int = 0  # /predict requests the server answered for: a client's 4xx count as neither outcome
    errors: int = 0  # 5xx answers to /predict
    correct: int = 0
    incorrect: int = 0
    converted: int = 0
    not_converted: int = 0
    latency_buckets: dict[float, float] = field(default_factory=dict)  # le → cumulative count
    predictions: dict[str, int] = field(default_factory=dict)
    bins: dict[str, dict[str, int]] = field(default_factory=dict)  # feature → bin → live count
    reference: dict[str, dict[str, float]] = field(default_factory=dict)  # feature → bin → training share
    model: dict = field(default_factory=dict)  # the aicd_model_info labels
    versions: set[str] = field(default_factory=set)  # every version seen in aicd_model_info (one, normally)
    started: float | None = None  # earliest server start (unix seconds)
    # labels scored by the served model and its shadow: which was right (both / served / shadow / neither)
    paired: dict[str, int] = field(default_factory=dict)
    shadow_versions: set[str] = field(default_factory=set)  # the shadow model's versions (one, normally)
    # a binary classifier's labelled rows by side of its positive class: (actual, predicted) -> count
    confusion: dict[tuple[str, str], int] = field(default_factory=dict)
    # a regressor's labelled rows: sums of |error|^k by moment (count, abs, squared, fourth)
    error_sums: dict[str, float] = field(default_factory=dict)

    @property
    def regression(self) -> bool:
        return self.model.get("task") == "regression"

    @property
    def absolute_errors(self) -> Moments:
        """Count, sum and sum of squares of the labelled rows' |error| (their mean is the online MAE)."""
        e = self.error_sums
        return Moments(e.get("count", 0.0), e.get("abs", 0.0), e.get("squared", 0.0))

    @property
    def squared_errors(self) -> Moments:
        """The same of error² (their mean is the online MSE, its root the RMSE)."""
        e = self.error_sums
        return Moments(e.get("count", 0.0), e.get("squared", 0.0), e.get("fourth", 0.0))

    @property
    def true_positives(self) -> int:
        return self.confusion.get(("positive", "positive"), 0)

    @property
    def predicted_positives(self) -> int:
        return self.true_positives + self.confusion.get(("negative", "positive"), 0)

    @property
    def actual_positives(self) -> int:
        return self.true_positives + self.confusion.get(("positive", "negative"), 0)

    @property
    def feedback(self) -> int:
        return self.correct + self.incorrect

    @property
    def labelled(self) -> int:
        """Rows with a delayed label: a classifier's outcomes, or a regressor's true values."""
        return self.feedback + round(self.error_sums.get("count", 0.0))

    @property
    def outcomes(self) -> int:
        return self.converted + self.not_converted

    @property
    def latency_count(self) -> int:
        return int(max(self.latency_buckets.values(), default=0))

    def latency_quantile(self, q: float) -> float | None:
        """Upper bound of the bucket holding quantile ``q`` (seconds), as Prometheus would bound it."""
        total = self.latency_count
        if not total:
            return None
        return next(le for le, count in sorted(self.latency_buckets.items()) if count >= q * total)

    def slower_than(self, seconds: float) -> int:
        """Requests slower than the smallest bucket bound at or above ``seconds`` (the bound it is judged on)."""
        bounds = sorted(le for le in self.latency_buckets if le >= seconds)
        return self.latency_count - int(self.latency_buckets[bounds[0]]) if bounds else 0


def matches(labels: Mapping[str, str], selector: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def samples_of(text: str) -> list[tuple[str, dict, float]]:
    """The samples of a ``/metrics`` text as (name, labels, value)."""
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples]


def parse_snapshot(text: str, selector: Mapping[str, str] | None = None) -> Snapshot:
    """The counters in a ``/metrics`` text whose labels match ``selector`` (all, when empty), summed."""
    return absorb(Snapshot(), (s for s in samples_of(text) if matches(s[1], selector or {})))


def absorb(snap: Snapshot, samples: Iterable[tuple[str, Mapping[str, str], float]]) -> Snapshot:
    """Adds samples (metric name, labels, value) to ``snap``; names it does not know are ignored."""
    for name, labels, value in samples:
        if not math.isfinite(value):  # another exporter's NaN quantile or +Inf gauge: nothing aicd counts
            continue
        count = round(value)
        if name == "aicd_requests_total" and labels.get("route") == "predict":
            status = str(labels.get("status", ""))
            snap.requests += 0 if status.startswith("4") else count  # a client's mistake says nothing of the model
            snap.errors += count if status.startswith("5") else 0
        elif (name, labels.get("outcome")) in OUTCOMES:
            setattr(snap, labels["outcome"], getattr(snap, labels["outcome"]) + count)
        elif name == "aicd_request_latency_seconds_bucket":
            le = float(labels["le"])
            snap.latency_buckets[le] = snap.latency_buckets.get(le, 0) + value
        elif name == "aicd_paired_feedback_total" and labels.get("outcome") in PAIRED:
            snap.paired[labels["outcome"]] = snap.paired.get(labels["outcome"], 0) + count
            snap.shadow_versions.add(str(labels.get("shadow_version", "")))
        elif name == "aicd_feedback_confusion_total" and {labels.get("actual"), labels.get("predicted")} <= SIDES:
            key = (labels["actual"], labels["predicted"])
            snap.confusion[key] = snap.confusion.get(key, 0) + count
        elif name == "aicd_feedback_error_total" and labels.get("moment") in ERROR_MOMENTS:
            snap.error_sums[labels["moment"]] = snap.error_sums.get(labels["moment"], 0.0) + value
        elif name == "aicd_predictions_total":
            snap.predictions[labels["label"]] = snap.predictions.get(labels["label"], 0) + count
        elif name == "aicd_feature_values_total":
            feature = snap.bins.setdefault(labels["feature"], {})
            feature[labels["bin"]] = feature.get(labels["bin"], 0) + count
        elif name == "aicd_feature_reference_ratio":
            snap.reference.setdefault(labels["feature"], {})[labels["bin"]] = value
        elif name == "aicd_server_start_time_seconds":
            snap.started = value if snap.started is None else min(snap.started, value)
        elif name == "aicd_model_info":
            snap.versions.add(str(labels.get("version", "")))
            snap.model = {"name": labels.get("model", ""),
                          **{k: labels[k] for k in ("version", "run_id", "variant", "runtime", "task") if k in labels}}
    return snap

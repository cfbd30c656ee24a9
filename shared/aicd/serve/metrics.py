"""The model server's Prometheus metrics — the contract the monitor reads (see the README table).

Counting happens on the request path, so it is plain integer arithmetic on dicts and lists; the
Prometheus families are built only when ``/metrics`` is scraped. Every series carries the ``model``
name, its ``version`` and the ``variant`` (stable / canary / a / b) so PromQL can compare versions
directly and one Prometheus can watch many models.
Feature values are counted in the bins of the reference profile stored at training (numeric: the
same edges, bin ``i`` holds edge[i-1] <= x < edge[i]; categorical: the training levels, ``other``
for an unseen one; ``missing``), so live traffic compares bin for bin with the training data; the
reference's own share of each bin is exported too (``aicd_feature_reference_ratio``), so drift can be
computed from Prometheus alone, by the monitor or by an alert rule.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from ..bins import unseen_bin
from ..decision import class_key
from ..latency import LATENCY_BUCKETS

__all__ = ["LATENCY_BUCKETS", "ServerMetrics", "reference_ratios"]

Binner = Callable[[object], str]
PAIRED = ("both", "served", "shadow", "neither")  # aicd_paired_feedback_total's outcomes: which model was right
ERROR_MOMENTS = ("count", "abs", "squared", "fourth")  # aicd_feedback_error_total's sums of |error|^0,1,2,4


class ServerMetrics:
    """Counters for one served model; also a prometheus_client collector (``collect``)."""

    def __init__(self, meta: dict, variant: str, runtime: str, profile: dict, shadow_version: str | None = None):
        self.version, self.variant = str(meta.get("model_version", "")), variant
        self.model = str(meta.get("model_name", ""))
        self.started = time.time()
        self.info = {"model": str(meta.get("model_name", "")), "version": self.version,
                     "run_id": str(meta.get("run_id", "")), "variant": variant, "runtime": runtime,
                     "task": str(meta.get("task") or "classification")}
        self.requests: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.latency_counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.predictions: defaultdict[str, int] = defaultdict(int)
        # outcome series exist at 0 from the start: PromQL's increase() cannot count a series' first burst
        self.feedback: defaultdict[str, int] = defaultdict(int, {"correct": 0, "incorrect": 0})
        self.conversions: defaultdict[str, int] = defaultdict(int, {"converted": 0, "not_converted": 0})
        # with a shadow model: which of the two was right, per label (both / served / shadow / neither)
        self.shadow_version = shadow_version
        self.paired = dict.fromkeys(PAIRED, 0) if shadow_version is not None else {}
        # a binary classifier's labelled predictions by (actual, predicted) side of its positive class:
        # online precision and recall, as the model gate judged them on the holdout
        self.binary = _binary(meta)
        self.confusion = {(a, p): 0 for a in SIDES for p in SIDES} if self.binary else {}
        # a regressor's labelled rows: the sums the production gate's online MAE and RMSE need (count,
        # |error|, error², error⁴ — a mean's interval needs the sum of its values' squares too)
        self.regression = meta.get("task") == "regression"
        self.error_sums = dict.fromkeys(ERROR_MOMENTS, 0.0) if self.regression else {}
        self.binners = {name: _binner(p) for name, p in profile.items()}
        self.reference = {name: reference_ratios(p) for name, p in profile.items()}
        # every reference bin (and missing) exists at 0 from the start, like the outcomes: increase() sees
        # a series only from its first scrape, so a bin born mid-traffic would lose its first burst
        self.bins: defaultdict[tuple[str, str], int] = defaultdict(int, {
            (name, bin_): 0 for name, ratios in self.reference.items() for bin_ in (*ratios, "missing")})

    # -- counting (request path) ----------------------------------------------------------------
    def request(self, route: str, status: int) -> None:
        self.requests[(route, str(status))] += 1

    def latency(self, seconds: float) -> None:
        self.latency_counts[bisect_right(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum += seconds

    def predicted(self, labels: list) -> None:
        for label in labels:
            self.predictions[str(label)] += 1

    def paired_label(self, served_right: bool, shadow_right: bool) -> None:
        if served_right == shadow_right:
            self.paired["both" if served_right else "neither"] += 1
        else:
            self.paired["served" if served_right else "shadow"] += 1

    def labelled(self, predicted: object, actual: object) -> None:
        """One labelled row of a binary classifier, by its side of the positive class."""
        if self.binary:
            positive = self.binary
            self.confusion[(_side(actual, positive), _side(predicted, positive))] += 1

    def regression_error(self, error: float) -> None:
        """One labelled row of a regressor: its error, prediction minus truth."""
        magnitude = abs(error)
        squared = magnitude * magnitude
        for moment, value in zip(ERROR_MOMENTS, (1.0, magnitude, squared, squared * squared), strict=True):
            self.error_sums[moment] += value

    def features(self, columns: dict[str, list]) -> None:
        for name, values in columns.items():
            binner = self.binners.get(name)
            if binner is not None:
                for value in values:
                    self.bins[(name, binner(value))] += 1

    # -- exposition (scrape path) ---------------------------------------------------------------
    def collect(self) -> Iterator:
        base = ["model", "version", "variant"]
        tail = [self.model, self.version, self.variant]
        yield _counter("aicd_requests", "Requests by route and HTTP status", ["route", "status", *base],
                       ((list(k), v) for k, v in self.requests.items()), tail)
        yield self._histogram(base, tail)
        yield _counter("aicd_predictions", "Predictions by predicted class", ["label", *base],
                       (([k], v) for k, v in self.predictions.items()), tail)
        yield _counter("aicd_feedback", "Delayed labels: was the prediction correct", ["outcome", *base],
                       (([k], v) for k, v in self.feedback.items()), tail)
        yield _counter("aicd_conversions", "Business outcomes reported for predictions", ["outcome", *base],
                       (([k], v) for k, v in self.conversions.items()), tail)
        if self.binary:
            yield _counter("aicd_feedback_confusion", "Delayed labels of a binary classifier by actual and predicted "
                           "side of the positive class", ["actual", "predicted", *base],
                           (([a, p], v) for (a, p), v in self.confusion.items()), tail)
        if self.regression:
            yield _counter("aicd_feedback_error", "Delayed true values of a regressor: sums over the labelled rows "
                           "of 1 (count), |error|, error^2 and error^4", ["moment", *base],
                           (([k], v) for k, v in self.error_sums.items()), tail)
        if self.shadow_version is not None:
            yield _counter("aicd_paired_feedback", "Delayed labels also scored by the shadow model: which was right",
                           ["outcome", "shadow_version", *base],
                           (([k, self.shadow_version], v) for k, v in self.paired.items()), tail)
        yield _counter("aicd_feature_values", "Feature values by reference-profile bin", ["feature", "bin", *base],
                       ((list(k), v) for k, v in self.bins.items()), tail)
        reference = GaugeMetricFamily("aicd_feature_reference_ratio", "Share of each bin in the training data",
                                      labels=["feature", "bin", *base])
        for feature, ratios in self.reference.items():
            for bin_, ratio in ratios.items():
                reference.add_metric([feature, bin_, *tail], ratio)
        yield reference
        started = GaugeMetricFamily("aicd_server_start_time_seconds", "Unix time the server started", labels=base)
        started.add_metric(tail, self.started)
        yield started
        info = GaugeMetricFamily("aicd_model_info", "The served model", labels=list(self.info))
        info.add_metric(list(self.info.values()), 1)
        yield info

    def _histogram(self, base: list[str], tail: list[str]) -> HistogramMetricFamily:
        family = HistogramMetricFamily("aicd_request_latency_seconds", "Predict latency", labels=base)
        cumulative, buckets = 0, []
        for bound, count in zip([*LATENCY_BUCKETS, float("inf")], self.latency_counts, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        family.add_metric(tail, buckets, self.latency_sum)
        return family


def _counter(name: str, doc: str, labels: list[str], samples, tail: list[str]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=labels)
    for values, count in samples:
        family.add_metric([*values, *tail], count)
    return family


SIDES = ("positive", "negative")


def _binary(meta: dict) -> str | None:
    """The positive class's comparable text, for a binary classifier whose classes include it."""
    classes = meta.get("classes") or []
    positive = meta.get("positive", 1)
    if meta.get("task", "classification") != "classification" or len(classes) != 2:
        return None
    keys = [class_key(c) for c in classes]
    return class_key(positive) if class_key(positive) in keys else None


def _side(value: object, positive: str) -> str:
    return "positive" if class_key(value) == positive else "negative"


def reference_ratios(profile: dict) -> dict[str, float]:
    """Each bin's share of the reference's non-missing values, under the labels the binner gives
    (numeric bins ``0``..``n``; categorical levels, plus ``other``: the levels beyond the profile's
    cap, share 0 when there were none)."""
    counts = [float(c) for c in profile.get("counts", [])]
    numeric = profile.get("kind") == "numeric"
    other = 0.0 if numeric else float(profile.get("other", 0))
    total = (sum(counts) + other) or 1.0
    names = [str(i) for i in range(len(counts))] if numeric else [str(v) for v in profile.get("levels", [])]
    ratios = {name: count / total for name, count in zip(names, counts, strict=True)}
    return ratios if numeric else {**ratios, unseen_bin(ratios): other / total}


def _binner(profile: dict) -> Binner:
    """Maps one raw value to its reference bin label."""
    if profile.get("kind") == "numeric":
        edges = list(profile.get("edges", []))

        def numeric(value: object) -> str:
            if not isinstance(value, (int, float)) or value != value:
                return "missing"
            return str(bisect_right(edges, value))

        return numeric
    levels = {str(v) for v in profile.get("levels", [])}
    unseen = unseen_bin(levels)

    def categorical(value: object) -> str:
        if value is None:
            return "missing"
        text = value if isinstance(value, str) else str(value)
        return text if text in levels else unseen

    return categorical

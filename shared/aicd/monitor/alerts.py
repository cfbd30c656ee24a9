"""Prometheus alerting rules for one deployed model, from the thresholds the production gate uses.

The gate judges a deployment when the pipeline runs; these rules watch it between runs, in the
user's own Prometheus, from the model server's metrics alone (see :mod:`aicd.serve.metrics`).
``alert_rules`` is pure: it returns the text of a rule file (``rule_files:`` in prometheus.yml).

Contract:

- One group, ``aicd-<model>``, with up to four alerts; every selector matches ``model="<model>"``
  and the ``extra_selector`` matchers (e.g. ``namespace="aicd-acme"``). Replicas of one version —
  series that differ only in ``instance`` or ``pod`` — are pooled; every other label (``job``,
  ``namespace``, the user's target labels, version, variant) is kept, so distinct servers are never
  pooled. Each alert carries the labels ``severity`` and ``model``; its summary and description
  name the model, version, variant, value and the window counted.

      ModelAccuracyDrop   correct / (correct + incorrect) feedback over ``window`` < min_accuracy
      ModelErrorRateHigh  share of predict requests answered 5xx over ``window`` > max_error_rate
                          (requests refused with a 4xx, the client's mistakes, are left out)
      ModelLatencyHigh    p95 of the predict latency histogram over ``window`` > max_latency_p95_ms
      ModelFeatureDrift   the gate's drift statistic (``drift_method``: kl, psi or js) of a feature's
                          live bins against the training reference > drift_threshold

- The drift statistic is the gate's own (:func:`aicd.monitor.decide.drift_checks`): both
  distributions floored at 1e-4 per bin and renormalised, as :func:`aicd.data.drift.proportions`
  does, then KL(reference || live), PSI, or the Jensen-Shannon distance (natural log). The
  ``missing`` bin is left out (the reference has none). A reference bin live traffic never reached
  has no counter series yet; it counts as 0 as long as the feature had any traffic in the window. A
  deployment without traffic (or feedback) in the window gives no value, so no alert: silence is
  not drift; a feature with fewer than ``drift_min_samples`` values in the window (the gate's
  ``monitor.drift.min-samples``), or fewer than 10 a bin (the gate's rule for wide columns), is not
  judged either. Every reference bin's series exists from the
  server's start (at 0), so ``increase()`` counts a bin's first values too. ``chisquare`` (a p-value)
  has no PromQL form: no drift alert is made for it.
- Windows: an alert counts over ``window`` (default 5m); the gate counts since the candidate
  started (``monitor.window: auto``) or over ``monitor.window``. The same thresholds, different
  windows: an alert says "now", the gate says "since this version took traffic".
- ``increase()`` sees a counter from its first scrape on: counts a series already had when it first
  appeared are not in the window (Prometheus's usual caveat), so ``window`` should span several
  scrape intervals.
- Invalid arguments raise :class:`~aicd.errors.ConfigError` naming the key (``min-accuracy``,
  ``window``, ``for`` ...), before any text is made.
"""

from __future__ import annotations

import math
import re

import yaml

from ..data.drift import BINNED, EPSILON, METHODS
from ..errors import ConfigError
from .decide import SAMPLES_PER_BIN
from .promql import escape, label_matchers

COUNTED = 'bin!="missing"'  # the values drift counts: the reference has no missing bin

__all__ = ["alert_rules"]

# Prometheus's duration syntax (model.ParseDuration): units from largest to smallest, each at most once
DURATION = re.compile(r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?")
REPLICA = "instance, pod"  # the labels replicas of one version differ in: pooled over, nothing else
DRIFT_RULES = tuple(name for name in BINNED if METHODS[name].promql)  # what PromQL can compute (no p-values)


def alert_rules(model: str, *, min_accuracy: float = 0.85, max_error_rate: float = 0.01,
                max_latency_p95_ms: float = 500, drift_method: str = "kl", drift_threshold: float = 0.1,
                drift_min_samples: int = 500, window: str = "5m", for_: str = "5m", extra_selector: str = "") -> str:
    """The rule file (YAML) that alerts on one model's accuracy, errors, latency and feature drift."""
    _check(model, min_accuracy, max_error_rate, max_latency_p95_ms, drift_threshold, window, for_)
    if drift_method not in BINNED:
        raise ConfigError(f"`drift-method` must be one of {', '.join(BINNED)}, got {drift_method!r}")
    extra = [label_matchers(extra_selector, "`selector`")] if extra_selector.strip() else []
    matchers = [f'model="{escape(model)}"', *extra]
    q = _Queries(matchers, window)
    rule = _Rules(model, window, for_)
    rules = [
        rule("ModelAccuracyDrop", f"{q.accuracy()} < {_number(min_accuracy)}", "critical",
             "online accuracy {{ $value | humanizePercentage }}", f"below {_percent(min_accuracy)}",
             "share of correct predictions in the feedback"),
        rule("ModelErrorRateHigh", f"{q.error_rate()} > {_number(max_error_rate)}", "critical",
             "{{ $value | humanizePercentage }} of predict requests failed", f"above {_percent(max_error_rate)}",
             "share of predict requests answered with a 5xx status"),
        rule("ModelLatencyHigh", f"{q.latency_p95()} > {_number(max_latency_p95_ms / 1000)}", "warning",
             "p95 latency {{ $value | humanizeDuration }}", f"above {max_latency_p95_ms:g} ms",
             "95th percentile of the predict latency"),
    ]
    if drift_method in DRIFT_RULES:
        # judged with monitor.drift.min-samples values and SAMPLES_PER_BIN a bin, as the gate judges it
        judged = (f"({q.drift(drift_method)} and {q.feature_total()} >= {int(drift_min_samples)} "
                  f"and {q.feature_total()} >= {SAMPLES_PER_BIN} * count without (bin) ({q.reference()}))")
        rules.append(rule("ModelFeatureDrift", f"{judged} > {_number(drift_threshold)}", "warning",
                          f'feature {{{{ $labels.feature }}}} drifted, {drift_method} {{{{ printf "%.3f" $value }}}}',
                          f"above {drift_threshold:g}",
                          f"{METHODS[drift_method].title} of the live values against the training data"))
    return yaml.safe_dump({"groups": [{"name": f"aicd-{model}", "rules": rules}]}, sort_keys=False, width=1 << 16)


class _Queries:
    """The PromQL of each alert; ``sel`` adds the model and extra matchers to a selector."""

    def __init__(self, matchers: list[str], window: str):
        self.matchers, self.window = matchers, window

    def sel(self, metric: str, *more: str) -> str:
        return f"{metric}{{{', '.join([*more, *self.matchers])}}}"

    def increase(self, metric: str, *more: str, drop: str = "") -> str:
        """The metric's increase over the window, replicas pooled, ``drop`` labels summed away too."""
        pooled = ", ".join(filter(None, [REPLICA, drop]))
        return f"sum without ({pooled}) (increase({self.sel(metric, *more)}[{self.window}]))"

    def accuracy(self) -> str:
        judged = self.increase("aicd_feedback_total", 'outcome=~"correct|incorrect"', drop="outcome")
        correct = self.increase("aicd_feedback_total", 'outcome="correct"', drop="outcome")
        # without any correct answer in the window the series is absent: count it as 0, not as no value
        return f"(({correct} or 0 * {judged}) / {judged})"

    def error_rate(self) -> str:
        failed = self.increase("aicd_requests_total", 'route="predict"', 'status=~"5.."', drop="status")
        answered = self.increase("aicd_requests_total", 'route="predict"', 'status!~"4.."', drop="status")
        return f"({failed} / {answered})"  # 4xx are the client's: not in the denominator either

    def latency_p95(self) -> str:
        buckets = f"rate({self.sel('aicd_request_latency_seconds_bucket')}[{self.window}])"
        return f"histogram_quantile(0.95, sum without ({REPLICA}) ({buckets}))"

    def feature_total(self) -> str:
        """Values of each feature counted in the window (``missing`` left out), as the gate counts them."""
        return self.increase("aicd_feature_values_total", 'bin!="missing"', drop="bin")

    def reference(self) -> str:
        """Each feature's reference share per bin (``missing`` left out), replicas pooled."""
        return f"max without ({REPLICA}) ({self.sel('aicd_feature_reference_ratio', COUNTED)})"

    def drift(self, method: str) -> str:
        """Per feature, the gate's statistic of the live bin shares against the reference shares."""
        counted = COUNTED
        counts = self.increase("aicd_feature_values_total", counted)
        totals = self.increase("aicd_feature_values_total", counted, drop="bin")
        reference = self.reference()
        # a bin with no counter series yet is 0, for features that had traffic in the window
        shares = f"({counts} / ignoring(bin) group_left {totals})"
        live, ref = _normalised(f"({shares} or ((0 * {reference}) and ignoring(bin) ({totals} > 0)))"), \
            _normalised(reference)
        if method == "kl":
            terms = f"{ref} * ln({ref} / {live})"
        elif method == "psi":
            terms = f"({live} - {ref}) * ln({live} / {ref})"
        else:
            mid = f"(({live} + {ref}) / 2)"
            terms = f"{live} * ln({live} / {mid}) + {ref} * ln({ref} / {mid})"
        total = f"sum without (bin) ({terms})"
        return f"sqrt(clamp_min({total} / 2, 0))" if method == "js" else total


def _normalised(shares: str) -> str:
    """Shares floored at 1e-4 and renormalised to sum to 1 per feature (aicd.data.drift.proportions)."""
    floored = f"clamp_min({shares}, {EPSILON})"
    return f"({floored} / ignoring(bin) group_left sum without (bin) ({floored}))"


class _Rules:
    """Makes one alerting rule of the group; summary and description name model, version and variant."""

    def __init__(self, model: str, window: str, for_: str):
        self.model, self.window, self.for_ = model, window, for_

    def __call__(self, name: str, expr: str, severity: str, what: str, limit: str, meaning: str) -> dict:
        where = "{{ $labels.model }} version {{ $labels.version }} ({{ $labels.variant }})"
        # labels are templates in Prometheus: the model label is the series' own (data, never re-expanded),
        # so a model name holding {{ ... }} cannot inject template code
        return {"alert": name, "expr": expr, "for": self.for_,
                "labels": {"severity": severity, "model": "{{ $labels.model }}"},
                "annotations": {"summary": f"{where}: {what}",
                                "description": f"{where}: {what}, {limit}; the {meaning} over the last "
                                               f"{self.window} (the production gate counts since the version "
                                               "started, or over monitor.window)."}}


def _check(model: str, min_accuracy, max_error_rate, max_latency_p95_ms, drift_threshold, window: str,
           for_: str) -> None:
    if not isinstance(model, str) or not model.strip():
        raise ConfigError("`model` must name the model (the `model` label of its metrics)")
    _in_range("min-accuracy", min_accuracy, 0, 1)
    _in_range("max-error-rate", max_error_rate, 0, 1)
    _in_range("max-latency-p95", max_latency_p95_ms, 0, math.inf, open_low=True)
    _in_range("drift-threshold", drift_threshold, 0, math.inf, open_low=True)
    _duration("window", window, allow_zero=False)
    _duration("for", for_, allow_zero=True)


def _in_range(key: str, value, low: float, high: float, open_low: bool = False) -> None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not number or value < low or value > high or (open_low and value == low):
        bound = f"above {low:g}" if high == math.inf else f"between {low:g} and {high:g}"
        raise ConfigError(f"`{key}` must be a number {bound}, got {value!r}")


def _duration(key: str, value, allow_zero: bool) -> None:
    match = DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None or not any(match.groups()):  # the pattern also matches "", which has no unit
        valid = allow_zero and value == "0"
    else:
        valid = allow_zero or any(int(amount or 0) for amount in match.groups())
    if not valid:
        least = "" if allow_zero else ", above 0"
        raise ConfigError(f"`{key}` must be a Prometheus duration like 30s, 5m or 1h{least}, got {value!r}")


def _number(value: float) -> str:
    return repr(float(value))


def _percent(value: float) -> str:
    return f"{value * 100:g} %"

"""Deciding promote / hold / rollback / retrain from production snapshots (pure, no I/O).

Three ways to judge (``compare``):

* ``none`` — the served version alone, against absolute thresholds (online accuracy, 5xx rate, p95
  latency).
* ``canary`` — the canary against the same thresholds *and* against stable: it may not be worse than
  stable by more than a tolerance in accuracy, error rate, latency or (when reported) conversion.
* ``ab`` — variant b against a: the same guards, and conversion judged two-sided — b significantly
  better → promote, significantly worse → rollback (keep a), neither → hold.

Online accuracy against the baseline is judged *paired* when the candidate's server also scored
its requests with the baseline's model (deploy's ``shadow-model-uri``; the pairs count only when
the shadow is the version the baseline serves): both models on the same labelled requests, which
needs a fraction of the labels an unpaired comparison needs when the two agree on most requests.

Every rate is judged on an always-valid interval (:mod:`aicd.monitor.stats`): a check **fails** only
when the whole interval is on the wrong side of its threshold and **passes** only when it is wholly
on the right side; in between, or below ``min-samples``, it is **inconclusive**. The error budget
``1 - confidence`` is split evenly over the tests of one evaluation (Bonferroni), so the chance that
any check ever fails for a canary that is in truth no worse is at most ``1 - confidence`` however
often the gate looks. Latency is judged as a rate too: the share of requests slower than the limit
(absolute: at most 5 %, i.e. p95 ≤ limit) or slower than stable's p95 (relative).

Drift compares the live feature bins with the reference profile the model was trained on; any
feature beyond the threshold asks for ``retrain``. Precedence: rollback > retrain > promote > hold.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import partial

from ..config import LiveDriftConfig, MonitorConfig
from ..data.drift import EPSILON, METHODS
from .metrics import Snapshot
from .modes import GROUPS, MODES
from .stats import (
    Interval,
    Moments,
    Pairs,
    difference_interval,
    difference_needed,
    mean_interval,
    mean_needed,
    paired_interval,
    paired_needed,
    rate_interval,
    rate_needed,
    scaled_difference_interval,
)

__all__ = ["GROUPS", "MODES", "Check", "Decision", "Evaluation", "decide", "drift_checks", "evaluate"]

SLOW_SHARE = 0.05  # p95 <= limit  <=>  at most 5 % of requests are slower than the limit


@dataclass(frozen=True)
class Check:
    metric: str  # online-accuracy / -precision / -recall, error-rate, latency-p95, conversion, drift:<feature>
    test: str  # absolute, vs stable, vs a, two-sided, kl, psi, ...
    verdict: str  # pass / fail / inconclusive; drift checks: pass / drift / inconclusive
    baseline: float | None = None
    candidate: float | None = None
    difference: float | None = None
    interval: tuple[float, float] | None = None
    threshold: str = ""
    samples: int = 0
    note: str = ""
    needed: int | None = None  # inconclusive: samples (smaller side) that would decide it if the estimate stays

    def to_dict(self) -> dict:
        return {k: _finite(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Evaluation:
    checks: list[Check]
    drift: list[Check] = field(default_factory=list)
    alpha: float = 0.0  # each check's share of the error budget: (1 - confidence) / len(checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.verdict == "fail"]


@dataclass(frozen=True)
class Decision:
    decision: str  # promote / hold / rollback / retrain
    reason: str
    evaluation: Evaluation
    failure_streak: int = 0

    def evidence(self) -> dict:
        return {"decision": self.decision, "reason": self.reason, "failure_streak": self.failure_streak,
                "checks": [c.to_dict() for c in self.evaluation.checks],
                "drift": [c.to_dict() for c in self.evaluation.drift]}


# -- one evaluation --------------------------------------------------------------------------------
def evaluate(snaps: dict[str, Snapshot], mode: str, cfg: MonitorConfig) -> Evaluation:
    """Every check of ``mode`` on the snapshots named by ``GROUPS[mode]``."""
    base_name, cand_name = GROUPS[mode]
    base, cand = snaps[base_name], snaps[cand_name]
    plans = _absolute_plans(cand, cfg) + (_relative_plans(base, cand, base_name, mode, cfg) if mode != "none" else [])
    alpha = (1 - cfg.confidence) / len(plans)  # the error budget, split over exactly the tests built (Bonferroni)
    traffic = base if mode == "none" else _merged(base, cand)
    return Evaluation([plan(alpha) for plan in plans], drift_checks(traffic, cfg.drift), alpha)


Plan = Callable[[float], Check]  # one test, waiting for its share of the error budget


def _absolute_plans(s: Snapshot, cfg: MonitorConfig) -> list[Plan]:
    limit = cfg.max_latency_p95_ms / 1000
    slow = _Rate(s.slower_than(limit), s.latency_count, "requests")
    text = f"<= {SLOW_SHARE:g} slower than {cfg.max_latency_p95_ms:g} ms (p95 <= {cfg.max_latency_p95_ms:g} ms)"
    health = [
        lambda a: _absolute("error-rate", _Rate(s.errors, s.requests, "requests"), cfg.max_error_rate, False, a, cfg),
        lambda a: _with_p95(_absolute("latency-p95", slow, SLOW_SHARE, False, a, cfg, text=text), s),
    ]
    if s.regression:
        return health + _regression_plans(s, cfg)
    accuracy = _Rate(s.correct, s.feedback, "feedback labels")
    return [lambda a: _absolute("online-accuracy", accuracy, cfg.min_accuracy, True, a, cfg), *health,
            *_positive_class_plans(s, cfg)]


def _positive_class_plans(s: Snapshot, cfg: MonitorConfig) -> list[Plan]:
    """Online precision, recall and F1 of a binary classifier's positive class, when configured: on an
    imbalanced label they say what accuracy cannot (always "no" is 97 % accurate at 3 % positives).

    F1 is judged through the Jaccard index J = TP / (TP + FP + FN), a true rate (the share of rows
    positive on either side that are positive on both) with F1 = 2J / (1 + J) rising with it: J's
    interval, mapped through that curve, is F1's."""
    wanted = (("online-precision", cfg.min_precision, s.predicted_positives, "labelled positive predictions"),
              ("online-recall", cfg.min_recall, s.actual_positives, "labelled positives"))
    plans = [partial(_absolute, metric, _Rate(s.true_positives, n, unit), limit, True, cfg=cfg)
             for metric, limit, n, unit in wanted if limit is not None]
    if cfg.min_f1 is not None:
        plans.append(partial(_f1, s, cfg.min_f1, cfg=cfg))
    return plans


def _f1(s: Snapshot, threshold: float, alpha: float, cfg: MonitorConfig) -> Check:
    either = s.predicted_positives + s.actual_positives - s.true_positives
    jaccard = _absolute("online-f1", _Rate(s.true_positives, either, "labelled rows positive on either side"),
                        threshold / (2 - threshold), True, alpha, cfg)

    def f1(j: float | None) -> float | None:
        return None if j is None else 2 * j / (1 + j)

    interval = tuple(f1(j) for j in jaccard.interval) if jaccard.interval else None
    return replace(jaccard, candidate=f1(jaccard.candidate), interval=interval, threshold=f">= {threshold:g}")


def _regression_plans(s: Snapshot, cfg: MonitorConfig) -> list[Plan]:
    """A regressor's online MAE and RMSE against their limits, when configured (in the label's unit)."""
    wanted = (("online-mae", cfg.max_mae, s.absolute_errors, False), ("online-rmse", cfg.max_rmse, s.squared_errors,
                                                                      True))
    return [partial(_mean_at_most, metric, moments, limit, rooted, cfg=cfg)
            for metric, limit, moments, rooted in wanted if limit is not None]


def _mean_at_most(metric: str, m: Moments, limit: float, rooted: bool, alpha: float, cfg: MonitorConfig) -> Check:
    """The mean of ``m`` (of its root, for RMSE: judged as MSE <= limit²) must be at most ``limit``."""
    bound = limit * limit if rooted else limit
    shown = math.sqrt if rooted else (lambda x: x)
    value = shown(m.mean) if m.n else None
    text = f"<= {limit:g}"
    if m.n < cfg.min_samples:
        return Check(metric, "absolute", "inconclusive", candidate=value, threshold=text, samples=int(m.n),
                     note=_too_few(_Rate(0, int(m.n), "labelled rows"), cfg))
    iv = mean_interval(m, alpha)
    bad, good = iv.low > bound, iv.high <= bound
    needed = None if bad or good else mean_needed(m, alpha, bound)
    return Check(metric, "absolute", _verdict(bad, good), candidate=value, interval=(shown(iv.low), shown(iv.high)),
                 threshold=text, samples=int(m.n), note=_note(bad, good, needed, int(m.n), "labelled rows", ""),
                 needed=needed)


def _mae_vs(base: Snapshot, cand: Snapshot, test: str, increase: float, alpha: float, cfg: MonitorConfig) -> Check:
    """A regressor's online MAE may exceed the baseline's by at most ``increase`` of it."""
    b, c = base.absolute_errors, cand.absolute_errors
    text = f"MAE <= {1 + increase:g} x the baseline's"
    values = (b.mean if b.n else None, c.mean if c.n else None)
    diff = values[1] - values[0] if None not in values else None
    smaller = int(min(b.n, c.n))
    if smaller < cfg.min_samples:
        return Check("online-mae", test, "inconclusive", *values, diff, None, text, smaller,
                     _too_few(_Rate(0, smaller, "labelled rows"), cfg))
    iv = scaled_difference_interval(c, b, 1 + increase, alpha)
    bad, good = iv.above(0), iv.high <= 0
    shift = (1 + increase) * b.mean - b.mean  # the interval is of c - (1+x) b; shown as c - b
    note = "" if bad or good else "not significant either way yet"
    return Check("online-mae", test, _verdict(bad, good), *values, diff, (iv.low + shift, iv.high + shift), text,
                 smaller, note)


def _with_p95(check: Check, *snaps: Snapshot) -> Check:
    """The latency checks judge shares of slow requests; the note adds the p95 (the bucket bound
    holding it, in ms) of each side, so the reader sees both without mixing their units."""
    def shown(p: float | None) -> str:
        return "unknown (no requests)" if p is None else "> 5000 ms" if math.isinf(p) else f"<= {p * 1000:g} ms"

    p95s = [s.latency_quantile(0.95) for s in snaps]
    named = [f"{s.model.get('variant') or 'served'} {shown(p)}" for s, p in zip(snaps, p95s, strict=True)] \
        if len(snaps) > 1 else [shown(p95s[0])]
    note = f"p95 {', '.join(named)}" + (f"; {check.note}" if check.note else "")
    return replace(check, note=note)


@dataclass(frozen=True)
class _Rate:
    hits: int
    n: int
    unit: str

    @property
    def value(self) -> float | None:
        return self.hits / self.n if self.n else None


def _absolute(metric: str, rate: _Rate, threshold: float, at_least: bool, alpha: float, cfg: MonitorConfig, *,
              text: str = "") -> Check:
    """The rate must be at least (or at most) ``threshold``."""
    text = text or f"{'>=' if at_least else '<='} {threshold:g}"
    value = rate.value
    if rate.n < cfg.min_samples:
        return Check(metric, "absolute", "inconclusive", candidate=value, threshold=text, samples=rate.n,
                     note=_too_few(rate, cfg))
    iv = rate_interval(rate.hits, rate.n, alpha)
    bad, good = (iv.below(threshold), iv.low >= threshold) if at_least else (iv.above(threshold), iv.high <= threshold)
    needed = None if bad or good else rate_needed(rate.hits, rate.n, alpha, threshold)
    note = _note(bad, good, needed, rate.n, rate.unit, "")
    return Check(metric, "absolute", _verdict(bad, good), candidate=value, interval=(iv.low, iv.high),
                 threshold=text, samples=rate.n, note=note, needed=needed)


def _relative_plans(base: Snapshot, cand: Snapshot, base_name: str, mode: str, cfg: MonitorConfig) -> list[Plan]:
    vs = f"vs {base_name}"
    # On the configured limit, not on the baseline's p95: the comparison means the same at every look.
    bound = cfg.max_latency_p95_ms / 1000
    slow = (_Rate(base.slower_than(bound), base.latency_count, "requests"),
            _Rate(cand.slower_than(bound), cand.latency_count, "requests"))
    accuracy = (_Rate(base.correct, base.feedback, "feedback labels"),
                _Rate(cand.correct, cand.feedback, "feedback labels"))
    errors = (_Rate(base.errors, base.requests, "requests"), _Rate(cand.errors, cand.requests, "requests"))
    pairs, unpaired_why = _pairs(base, cand)
    quality: Plan = (
        (lambda a: _mae_vs(base, cand, vs, cfg.max_mae_increase, a, cfg)) if cand.regression else
        (lambda a: _paired("online-accuracy", f"{vs}, paired", pairs, -cfg.max_accuracy_drop, a, cfg)) if pairs else
        (lambda a: _noted(_relative("online-accuracy", vs, *accuracy, -cfg.max_accuracy_drop, True, a, cfg),
                          unpaired_why)))
    plans: list[Plan] = [
        quality,
        lambda a: _relative("error-rate", vs, *errors, cfg.max_error_rate_increase, False, a, cfg),
        lambda a: _with_p95(_relative("latency-p95", f"{vs}: share slower than {cfg.max_latency_p95_ms:g} ms", *slow,
                                      cfg.max_slow_share_increase, False, a, cfg), base, cand),
    ]
    conversions = (_Rate(base.converted, base.outcomes, "outcomes"), _Rate(cand.converted, cand.outcomes, "outcomes"))
    if mode == "ab":
        plans.append(lambda a: _two_sided("conversion", *conversions, a, cfg))
    elif base.outcomes or cand.outcomes:  # a canary is judged on conversion only where it is reported
        plans.append(lambda a: _relative("conversion", vs, *conversions, -cfg.max_conversion_drop, True, a, cfg))
    return plans


def _relative(metric: str, test: str, base: _Rate, cand: _Rate, tolerance: float, higher_is_better: bool,
              alpha: float, cfg: MonitorConfig) -> Check:
    """candidate − baseline must stay above ``tolerance`` (higher is better) or below it (lower is better)."""
    text = f"difference {'>=' if higher_is_better else '<='} {tolerance:+g}"
    few = _too_few(base, cfg) or _too_few(cand, cfg)
    iv = difference_interval(cand.hits, cand.n, base.hits, base.n, alpha)
    if few:
        return _compared(metric, test, "inconclusive", base, cand, None, text, few)
    if higher_is_better:
        bad, good = iv.below(tolerance), iv.low >= tolerance
    else:
        bad, good = iv.above(tolerance), iv.high <= tolerance
    needed = None if bad or good else difference_needed(cand.hits, cand.n, base.hits, base.n, alpha, tolerance)
    note = _note(bad, good, needed, min(base.n, cand.n), cand.unit, " on the smaller side")
    return replace(_compared(metric, test, _verdict(bad, good), base, cand, iv, text, note), needed=needed)


def _pairs(base: Snapshot, cand: Snapshot) -> tuple[Pairs | None, str]:
    """The candidate's paired labels when its shadow model is the baseline's version (else None and why
    not, for a note; empty when no shadow scored anything)."""
    if not sum(cand.paired.values()):
        return None, ""
    shadow, served = sorted(cand.shadow_versions), base.model.get("version", "")
    if shadow != [served]:
        return None, f"paired labels unused: the candidate's shadow is version {', '.join(shadow) or '?'}, the " \
                     f"baseline serves {served or '?'}"
    p = cand.paired
    return Pairs(p.get("served", 0), p.get("shadow", 0), p.get("both", 0), p.get("neither", 0)), ""


def _paired(metric: str, test: str, pairs: Pairs, tolerance: float, alpha: float, cfg: MonitorConfig) -> Check:
    """Accuracy candidate − baseline on the same labelled requests (the candidate's shadow is the
    baseline's model) must stay above ``tolerance``."""
    text = f"difference >= {tolerance:+g}"
    base, cand = pairs.both + pairs.only_a, pairs.both + pairs.only_b
    rates = _Rate(base, pairs.n, "paired labels"), _Rate(cand, pairs.n, "paired labels")
    if pairs.n < cfg.min_samples:
        return _compared(metric, test, "inconclusive", *rates, None, text, _too_few(rates[0], cfg))
    iv = paired_interval(pairs, alpha)
    bad, good = iv.below(tolerance), iv.low >= tolerance
    needed = None if bad or good else paired_needed(pairs, alpha, tolerance)
    note = _note(bad, good, needed, pairs.n, "paired labels", "")
    disagree = f"both models on the same {pairs.n:,} labelled candidate requests (the baseline's figure is its " \
               f"model scoring them as the candidate's shadow); they disagree on " \
               f"{(pairs.only_a + pairs.only_b) / pairs.n:.1%} of them"
    return replace(_compared(metric, test, _verdict(bad, good), *rates, iv, text, "; ".join(filter(None, (
        disagree, note)))), needed=needed)


def _noted(check: Check, note: str) -> Check:
    return replace(check, note="; ".join(filter(None, (check.note, note))))


def _two_sided(metric: str, base: _Rate, cand: _Rate, alpha: float, cfg: MonitorConfig) -> Check:
    """A/B: b significantly better passes, significantly worse fails; the note gives the relative lift."""
    few = _too_few(base, cfg) or _too_few(cand, cfg)
    iv = difference_interval(cand.hits, cand.n, base.hits, base.n, alpha)
    if few:
        return _compared(metric, "two-sided", "inconclusive", base, cand, None, "difference != 0", few)
    bad, good = iv.below(0), iv.above(0)
    lift = ""
    if base.hits:
        rel = [x / base.value for x in (iv.estimate, iv.low, iv.high)]
        lift = f"relative lift {rel[0]:+.1%} [{rel[1]:+.1%}, {rel[2]:+.1%}]"
    note = lift if bad or good else f"not significant either way yet; {lift}".strip("; ")
    return _compared(metric, "two-sided", _verdict(bad, good), base, cand, iv, "difference != 0", note)


def _compared(metric: str, test: str, verdict: str, base: _Rate, cand: _Rate, iv: Interval | None, text: str,
              note: str) -> Check:
    diff = cand.value - base.value if cand.value is not None and base.value is not None else None
    return Check(metric, test, verdict, base.value, cand.value, diff, (iv.low, iv.high) if iv else None, text,
                 min(base.n, cand.n), note)


def _too_few(rate: _Rate, cfg: MonitorConfig) -> str:
    return f"not enough samples: {rate.n} {rate.unit} of {cfg.min_samples} needed" if rate.n < cfg.min_samples else ""


def _verdict(bad: bool, good: bool) -> str:
    return "fail" if bad else "pass" if good else "inconclusive"


def _note(bad: bool, good: bool, needed: int | None = None, have: int = 0, unit: str = "", side: str = "") -> str:
    """What an inconclusive check still needs: the samples that would decide it if the estimate stays."""
    if bad or good:
        return ""
    if needed is None:
        return "not significant either way yet; at this estimate no feasible sample decides it (it sits on " \
               "the threshold)"
    return f"not significant either way yet; about {needed - have:,} more {unit}{side} decide it if the estimate " \
           f"stays ({needed:,} in all)"


def _merged(a: Snapshot, b: Snapshot) -> Snapshot:
    """Both groups' feature bins together (they see the same traffic), with the candidate's reference."""
    bins: dict[str, dict[str, int]] = {}
    for snap in (a, b):
        for feature, counts in snap.bins.items():
            into = bins.setdefault(feature, {})
            for bin_, count in counts.items():
                into[bin_] = into.get(bin_, 0) + count
    return Snapshot(bins=bins, reference=b.reference or a.reference)


# -- drift -----------------------------------------------------------------------------------------
# A binned statistic on few values per bin is biased upwards: live counts of a 200-level column from 800
# requests leave many levels empty, and KL read 0.15 on traffic drawn from the training data itself
# (0.02 at 4,800). So a feature is judged once it has monitor.drift.min-samples values and this many per bin.
SAMPLES_PER_BIN = 10
def drift_checks(snap: Snapshot, cfg: LiveDriftConfig) -> list[Check]:
    """Per feature: live bin counts against the reference shares (``missing`` left out, as in training),
    then ``drift:overall`` — the worst feature's statistic and how many features drifted."""
    if not snap.reference:
        return [Check("drift:overall", cfg.method, "inconclusive",
                      note="the served model exports no reference profile (aicd_feature_reference_ratio)")]
    features = [_feature_drift(feature, ref, snap.bins.get(feature, {}), cfg)
                for feature, ref in sorted(snap.reference.items())]
    return [*features, _overall(features, cfg)]


def _overall(features: list[Check], cfg: LiveDriftConfig) -> Check:
    judged = [c for c in features if c.verdict != "inconclusive"]
    drifted = [c for c in judged if c.verdict == "drift"]
    if not judged:
        return Check("drift:overall", cfg.method, "inconclusive", threshold=features[0].threshold,
                     samples=min(c.samples for c in features), note="not enough samples in any feature")
    pick = min if METHODS[cfg.method].p_value else max
    worst = pick(judged, key=lambda c: c.candidate)
    name = worst.metric.removeprefix("drift:")
    return Check("drift:overall", cfg.method, "drift" if drifted else "pass", candidate=worst.candidate,
                 threshold=worst.threshold, samples=min(c.samples for c in judged),
                 note=f"{len(drifted)} of {len(features)} features drifted; worst: {name}")


def _feature_drift(feature: str, reference: dict[str, float], live: dict[str, int], cfg: LiveDriftConfig) -> Check:
    names = [*reference, *sorted(b for b in live if b not in reference and b != "missing")]
    ref = [max(reference.get(b, 0.0), EPSILON) for b in names]
    cur = [live.get(b, 0) for b in names]
    n = sum(cur)
    how = METHODS[cfg.method]
    text = f"p < {cfg.threshold:g}" if how.p_value else f"<= {cfg.threshold:g}"
    needed = max(cfg.min_samples, SAMPLES_PER_BIN * len(ref))
    if n < needed:
        why = "" if needed == cfg.min_samples else f" ({SAMPLES_PER_BIN} per bin of its {len(ref)})"
        return Check(f"drift:{feature}", cfg.method, "inconclusive", threshold=text, samples=n,
                     note=f"not enough samples: {n} values of {needed:,} needed{why}")
    value = how.statistic(ref, cur)  # KL(reference || live) and the rest, as the data gate computes them
    drifted = how.drifted(value, cfg.threshold)
    top = max(zip(names, cur, ref, strict=True), key=lambda b: abs(b[1] / n - b[2]))[0]
    return Check(f"drift:{feature}", cfg.method, "drift" if drifted else "pass", candidate=value, threshold=text,
                 samples=n, note=f"largest shift in bin {top}")


# -- the decision ----------------------------------------------------------------------------------
def decide(history: list[Evaluation], cfg: MonitorConfig) -> Decision:
    """The decision after the latest of ``history`` (oldest first) — rollback needs
    ``consecutive-failures`` failing evaluations in a row."""
    last = history[-1]
    streak = 0
    for evaluation in reversed(history):
        if not evaluation.failed:
            break
        streak += 1
    failed = ", ".join(f"{c.metric} ({c.test})" for c in last.failed)
    drifted = [c.metric.removeprefix("drift:") for c in last.drift if c.verdict == "drift"
               and c.metric != "drift:overall"]
    if failed and streak >= cfg.consecutive_failures:
        return Decision("rollback", f"failed: {failed}", last, streak)
    if failed:
        return Decision("hold", f"failed: {failed} — {streak} of {cfg.consecutive_failures} consecutive failures "
                                "needed for a rollback", last, streak)
    if drifted:
        return Decision("retrain", f"live traffic drifted from the training data: {', '.join(drifted)}", last)
    if all(c.verdict == "pass" for c in last.checks):
        return Decision("promote", "every check passed with confidence", last)
    notes = dict.fromkeys(f"{c.metric} ({c.test.split(':')[0]}): {c.note}" for c in last.checks
                          if c.verdict == "inconclusive")
    return Decision("hold", "; ".join(notes), last)


def _finite(value):
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, tuple):
        return [_finite(v) for v in value]
    return value

"""Always-valid intervals for rates and differences of rates (pure, no I/O).

The production gate looks at the same growing experiment again and again (every scheduled monitor
run, every analysis interval). A fixed-sample test re-run at every look rejects far more often than
its level says ("peeking"). These intervals are *confidence sequences*: with probability at least
``1 - alpha`` they contain the true value at every sample size at once, so a decision taken the
first time an interval clears a threshold keeps its error rate however often anyone looks.

The method is the normal-mixture (Robbins) boundary — the mixture sequential probability ratio test
of Johari et al., "Always Valid Inference" (2017/2022), in its asymptotic form of Waudby-Smith et
al., "Time-uniform central limit theory" (2021): for an estimate with variance ``v`` and a mixing
scale ``tau`` the interval is

    estimate ± sqrt( v (v + tau²) / tau² · (2 ln(1/alpha) + ln((v + tau²) / v)) )

Variances are estimated from the data (rates are regularised as (x + 1) / (n + 2) so a run of zero
errors does not claim zero variance); a difference uses the larger of the separate and the pooled
variance, so a rare outcome in a small canary does not narrow the interval on its lucky side.
``tau`` only tunes where the interval is tightest; it is set
to a standardised effect of 0.1 (a "small" effect in Cohen's terms), not tuned per dataset.

A *paired* difference (:func:`paired_interval`) judges two models on the same requests: each
labelled request scored by both says which of them was right. Only the requests where they
disagree carry information, so when two versions agree on most requests — as retrained versions
of one model do — the interval is several times narrower than the unpaired one for the same
labels. Its variance is the share of disagreements (the largest it can be for that share, the
value under "no difference"), regularised with two pseudo-disagreements each way so that a run
of agreement in a small sample cannot claim certainty an exact bound would not give.

A *mean* (:func:`mean_interval`: a regressor's online absolute or squared error) uses the same
boundary with the sample variance from the running sums of the values and their squares — the
time-uniform central limit theorem asks only for a finite variance, not a bounded outcome. The
variance is regularised with one pseudo-observation a mean away from the mean, so that equal errors
in a small sample do not claim zero spread.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["EFFECT_SCALE", "Interval", "Moments", "Pairs", "difference_interval", "difference_needed",
           "mean_interval", "mean_needed", "paired_interval", "paired_needed", "rate_interval", "rate_needed",
           "samples_to_decide", "scaled_difference_interval"]

EFFECT_SCALE = 0.1  # tau as a share of the outcome's standard deviation


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    def above(self, bound: float) -> bool:
        return self.low > bound

    def below(self, bound: float) -> bool:
        return self.high < bound


def _variance(hits: int, n: int) -> float:
    """Bernoulli variance of a rate, regularised so that 0 of n or n of n still has spread."""
    p = (hits + 1) / (n + 2)
    return p * (1 - p)


def _half_width(variance: float, tau: float, alpha: float) -> float:
    tau2 = tau * tau
    return math.sqrt(variance * (variance + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log((variance + tau2)
                                                                                               / variance)))


def rate_interval(hits: int, n: int, alpha: float) -> Interval:
    """Always-valid interval for the rate ``hits / n`` (clipped to [0, 1]); the whole [0, 1] for n = 0."""
    if n <= 0:
        return Interval(math.nan, 0.0, 1.0)
    p, sd = hits / n, math.sqrt(_variance(hits, n))
    half = _half_width(sd * sd / n, EFFECT_SCALE * sd, alpha)
    return Interval(p, max(0.0, p - half), min(1.0, p + half))


def difference_interval(hits_b: int, n_b: int, hits_a: int, n_a: int, alpha: float) -> Interval:
    """Always-valid interval for the difference of rates ``hits_b/n_b - hits_a/n_a`` (b minus a)."""
    if n_a <= 0 or n_b <= 0:
        return Interval(math.nan, -1.0, 1.0)
    var_a, var_b = _variance(hits_a, n_a), _variance(hits_b, n_b)
    pooled = _variance(hits_a + hits_b, n_a + n_b)
    diff = hits_b / n_b - hits_a / n_a
    # the larger of the separate and the pooled variance: an arm whose rate is low by chance (a rare
    # outcome, a small canary) must not claim a small spread and narrow the interval on exactly that side
    variance = max(var_a / n_a + var_b / n_b, pooled * (1 / n_a + 1 / n_b))
    half = _half_width(variance, EFFECT_SCALE * math.sqrt(pooled), alpha)
    return Interval(diff, max(-1.0, diff - half), min(1.0, diff + half))


@dataclass(frozen=True)
class Pairs:
    """Labelled requests scored by two models: how many only ``b`` got right, only ``a``, and both."""

    only_b: int
    only_a: int
    both: int
    neither: int

    @property
    def n(self) -> int:
        return self.only_b + self.only_a + self.both + self.neither

    def _moments(self) -> tuple[float, float, float]:
        """(difference b - a, variance of one pair's difference, tau) for n > 0."""
        n = self.n
        diff = (self.only_b - self.only_a) / n
        # each disagreement share regularised with two pseudo-disagreements (Agresti-Coull style: with
        # none seen, the interval still spans the disagreement an exact bound allows); their sum is the
        # variance of one pair's difference under "no difference", never below it at the observed one
        variance = (self.only_b + 2) / (n + 4) + (self.only_a + 2) / (n + 4)
        # the same scale of plausible effects as the unpaired interval: a share of accuracy's spread
        tau = EFFECT_SCALE * math.sqrt(_variance(2 * self.both + self.only_a + self.only_b, 2 * n))
        return diff, variance, tau


def paired_interval(pairs: Pairs, alpha: float) -> Interval:
    """Always-valid interval for accuracy b minus accuracy a, measured on the same requests."""
    if pairs.n <= 0:
        return Interval(math.nan, -1.0, 1.0)
    diff, variance, tau = pairs._moments()
    half = _half_width(variance / pairs.n, tau, alpha)
    return Interval(diff, max(-1.0, diff - half), min(1.0, diff + half))


def paired_needed(pairs: Pairs, alpha: float, bound: float) -> int | None:
    """Pairs :func:`paired_interval` needs to clear ``bound`` at the current difference."""
    if pairs.n <= 0:
        return None
    diff, _, tau = pairs._moments()
    n = pairs.n

    def variance_at(m: int) -> float:
        grow = m / n
        return ((pairs.only_b * grow + 2) / (m + 4) + (pairs.only_a * grow + 2) / (m + 4)) / m

    return samples_to_decide(diff, variance_at, tau, bound, alpha, n)


@dataclass(frozen=True)
class Moments:
    """Running sums of one non-negative quantity (an online error): count, sum, and sum of squares."""

    n: float
    total: float
    squares: float

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n > 0 else math.nan

    @property
    def variance(self) -> float:
        """The sample variance, regularised (see the module docstring); needs n > 0."""
        mean = self.mean
        spread = max(self.squares / self.n - mean * mean, 0.0)
        return (self.n * spread + mean * mean) / (self.n + 1) or 1e-12


def mean_interval(m: Moments, alpha: float) -> Interval:
    """Always-valid interval for the mean of ``m`` (clipped at 0); everything from 0 for n = 0."""
    if m.n <= 0:
        return Interval(math.nan, 0.0, math.inf)
    variance = m.variance
    half = _half_width(variance / m.n, EFFECT_SCALE * math.sqrt(variance), alpha)
    return Interval(m.mean, max(0.0, m.mean - half), m.mean + half)


def mean_needed(m: Moments, alpha: float, bound: float) -> int | None:
    """Samples :func:`mean_interval` needs to clear ``bound`` at the current mean and spread."""
    if m.n <= 0:
        return None
    variance = m.variance
    return samples_to_decide(m.mean, lambda k: variance / k, EFFECT_SCALE * math.sqrt(variance), bound, alpha,
                             int(m.n))


def scaled_difference_interval(b: Moments, a: Moments, scale: float, alpha: float) -> Interval:
    """Always-valid interval for ``mean(b) - scale * mean(a)``: with ``scale`` 1.1, "b's error is at
    most 10 % above a's" is the interval lying wholly at or below 0."""
    if a.n <= 0 or b.n <= 0:
        return Interval(math.nan, -math.inf, math.inf)
    variance = b.variance / b.n + scale * scale * a.variance / a.n
    pooled = (b.variance * b.n + a.variance * a.n) / (a.n + b.n)
    half = _half_width(variance, EFFECT_SCALE * math.sqrt(pooled), alpha)
    diff = b.mean - scale * a.mean
    return Interval(diff, diff - half, diff + half)


def samples_to_decide(estimate: float, variance_at: Callable[[int], float], tau: float, bound: float, alpha: float,
                      n: int, most: int = 10_000_000) -> int | None:
    """How many samples (in all, per side for a difference) the interval needs before it clears
    ``bound``, if the estimate stays where it is; ``variance_at(m)`` is the estimate's variance at
    ``m`` samples, the counts grown in today's proportions (so a regularised rate's variance shrinks
    as it would). None when it never would (the estimate sits on the bound) or only beyond ``most``."""
    gap = abs(estimate - bound)
    if n <= 0 or gap == 0 or not math.isfinite(gap):
        return None

    def clears(m: int) -> bool:
        return _half_width(variance_at(m), tau, alpha) < gap

    if not clears(most):
        return None
    low, high = n, most
    while low < high:  # the half-width falls as m grows: the smallest m that clears
        mid = (low + high) // 2
        if clears(mid):
            high = mid
        else:
            low = mid + 1
    return low


def rate_needed(hits: int, n: int, alpha: float, bound: float) -> int | None:
    """Samples :func:`rate_interval` needs to clear ``bound`` at the current rate (see samples_to_decide)."""
    if n <= 0:
        return None
    sd = math.sqrt(_variance(hits, n))
    return samples_to_decide(hits / n, lambda m: _variance(hits * m / n, m) / m, EFFECT_SCALE * sd, bound, alpha, n)


def difference_needed(hits_b: int, n_b: int, hits_a: int, n_a: int, alpha: float, bound: float) -> int | None:
    """Samples on the smaller side (both sides growing in today's proportion) that
    :func:`difference_interval` needs to clear ``bound`` at the current difference."""
    if n_a <= 0 or n_b <= 0:
        return None
    smaller = min(n_a, n_b)

    def variance_at(m: int) -> float:
        grow = m / smaller
        a, b, na, nb = hits_a * grow, hits_b * grow, n_a * grow, n_b * grow
        pooled = _variance(a + b, na + nb)
        return max(_variance(a, na) / na + _variance(b, nb) / nb, pooled * (1 / na + 1 / nb))

    tau = EFFECT_SCALE * math.sqrt(_variance(hits_a + hits_b, n_a + n_b))
    return samples_to_decide(hits_b / n_b - hits_a / n_a, variance_at, tau, bound, alpha, smaller)

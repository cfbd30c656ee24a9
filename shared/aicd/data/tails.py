"""Tail probabilities of the drift rule's test statistics, in NumPy alone (no I/O).

Importing ``scipy.stats`` costs 0.8 s warm and about 2 s cold — more than a whole 1,000-row data
gate — so the default rule computes its p-values here:

    chi2_sf            the chi-square survival function: the regularized upper incomplete gamma
                       function (series below a + 1, Lentz's continued fraction above), to 1e-14
    kolmogorov_sf      P(D ≥ d) of the two-sided KS statistic at an effective size n: Kolmogorov's
                       limit at √n·d + 1/(6√n) (the first-order finite-n correction) — within 1 % of
                       the exact distribution (scipy's ``kstwo``) for n ≥ 10,000 and p ≥ 1e-12
    cvm_inf_sf         1 − the limiting CDF of the Cramér-von Mises statistic (Csörgő & Faraway 1996,
                       eq. 1.2, as scipy's ``_cdf_cvm_inf``), K₁/₄ by the trapezoid rule on
                       ∫₀^∞ exp(−q cosh t) cosh(t/4) dt (exponentially convergent for this integrand);
                       above 5 the tail's asymptote (the series' 1 − CDF cancels there)
    hypergeom_logpmf   log P(X = k) of the hypergeometric distribution, from log-factorials (a table
                       to 255, Stirling's series beyond: 1e-15 relative)
    hypergeom_midp     the two-sided mid-p of one observed count: 2 · min(P(X < x), P(X > x)) + P(X = x),
                       the far tail summed by the ratio of successive terms 12 sd + 30 terms out (what
                       lies beyond is below 1e-30 of it), the near one its complement

``tests/unit/test_tails.py`` compares each with SciPy.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["chi2_sf", "cvm_inf_sf", "hypergeom_logpmf", "hypergeom_midp", "kolmogorov_sf", "log_factorial"]

_TINY = 1e-300
CVM_TAIL_FROM = 5.0
_TABLE = np.array([math.lgamma(k + 1) for k in range(256)])
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def chi2_sf(statistic: float, df: float) -> float:
    """P(χ²_df ≥ statistic); 1 for a statistic that is not a positive number (no evidence, never p = 0)."""
    if not statistic > 0:
        return 1.0
    return _gamma_q(df / 2, statistic / 2)


def _gamma_q(a: float, x: float) -> float:
    """The regularized upper incomplete gamma function Q(a, x), a > 0, x > 0."""
    scale = math.exp(-x + a * math.log(x) - math.lgamma(a))
    if x < a + 1:  # the series of P converges fast here, and Q = 1 - P is not small
        term = total = 1.0 / a
        for step in range(1, 10_000):
            term *= x / (a + step)
            total += term
            if abs(term) < abs(total) * 1e-16:
                break
        return min(1.0, max(0.0, 1.0 - total * scale))
    b = x + 1 - a  # the continued fraction of Q, by the modified Lentz method
    c, d = 1 / _TINY, 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = 1 / (d if abs(d) > _TINY else _TINY)
        c = b + an / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        if abs(d * c - 1) < 1e-16:
            break
    return min(1.0, max(0.0, scale * h))


def kolmogorov_sf(gap: float, n: float) -> float:
    """P(D_n ≥ gap) of the two-sided KS statistic at (effective) size ``n``; see the module docstring."""
    if not (gap > 0 and n > 0):
        return 1.0
    root = math.sqrt(n)
    return _kolmogorov_q(root * gap + 1 / (6 * root))


def _kolmogorov_q(lam: float) -> float:
    """1 − K(λ) of Kolmogorov's limiting distribution: the theta series that converges fast at λ."""
    if lam < 0.2:
        return 1.0
    if lam < 1.0:
        odd = sum(math.exp(-((2 * j - 1) ** 2) * math.pi ** 2 / (8 * lam * lam)) for j in range(1, 12))
        return min(1.0, max(0.0, 1.0 - math.sqrt(2 * math.pi) / lam * odd))
    return min(1.0, max(0.0, 2 * sum((-1) ** (j - 1) * math.exp(-2 * j * j * lam * lam) for j in range(1, 60))))


def cvm_inf_sf(statistic: float) -> float:
    """1 − the limiting CDF of the (normalised) Cramér-von Mises statistic; 1 below 0.003, where the
    CDF is under 1e-18 (and for NaN). Above CVM_TAIL_FROM the series' 1 − CDF would cancel to 0 and
    then stop converging, so the tail is its own asymptote: the limit is Σ Z_j² / (j²π²), dominated by
    the first term, and P ≈ √2 · P(χ²₁ > π² x) (√2 = Π_{j≥2} (1 − 1/j²)^(−1/2)), within 1 % there."""
    if not statistic >= 0.003:
        return 1.0
    if statistic > CVM_TAIL_FROM:
        return math.sqrt(2) * math.erfc(math.pi * math.sqrt(statistic / 2))
    total = 0.0
    for k in range(1000):
        y = 4 * k + 1
        q = y * y / (16 * statistic)
        term = (math.exp(math.lgamma(k + 0.5) - math.lgamma(k + 1)) / (math.pi ** 1.5 * math.sqrt(statistic))
                * math.sqrt(y) * math.exp(-q) * _bessel_k_quarter(q))
        total += term
        if abs(term) < 1e-14:
            break
    return max(0.0, 1.0 - total)


def _bessel_k_quarter(q: float) -> float:
    """K₁/₄(q), q > 0: ∫₀^∞ exp(−q cosh t) cosh(t/4) dt by the trapezoid rule, step 0.05, cut where
    q cosh t passes 750 (the integrand is then below e⁻⁷⁵⁰)."""
    end = math.acosh(max(750 / q, 1.0)) if q < 750 else 0.05
    t = np.arange(0.0, end + 0.05, 0.05)
    f = np.exp(-q * np.cosh(t)) * np.cosh(t / 4)
    return float(0.05 * (f.sum() - f[0] / 2))


def log_factorial(k) -> np.ndarray:
    """ln k! of non-negative integers (an array)."""
    k = np.asarray(k, dtype=float)
    if k.size and k.min() < 0:
        raise ValueError("log_factorial of a negative number")
    out = np.empty_like(k)
    small = k < _TABLE.size
    out[small] = _TABLE[k[small].astype(int)]
    big = k[~small]
    out[~small] = (big * np.log(big) - big + _HALF_LOG_2PI + 0.5 * np.log(big)
                   + 1 / (12 * big) - 1 / (360 * big ** 3) + 1 / (1260 * big ** 5))
    return out


def hypergeom_logpmf(k, total, marked, drawn) -> np.ndarray:
    """log P(X = k) for X the marked items among ``drawn`` taken from ``total`` holding ``marked``;
    -inf outside the support (more marked items than were drawn, say). The arguments broadcast."""
    k, total, marked, drawn = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (k, total, marked, drawn)))
    inside = (k >= np.maximum(0, drawn - (total - marked))) & (k <= np.minimum(drawn, marked))
    out = np.full(k.shape, -np.inf)
    k, total, marked, drawn = k[inside], total[inside], marked[inside], drawn[inside]
    lf = log_factorial
    out[inside] = (lf(marked) + lf(total - marked) + lf(drawn) + lf(total - drawn) - lf(total)
                   - lf(k) - lf(marked - k) - lf(drawn - k) - lf(total - marked - drawn + k))
    return out


def hypergeom_midp(x: int, total: int, marked: int, drawn: int) -> float:
    """The two-sided mid-p of observing ``x`` (see the module docstring): 2 · min(P(X < x), P(X > x))
    + P(X = x). The tail beyond x on the far side of the mean is summed from P(X = x) by the ratio
    of successive terms (they shrink from there on), 12 sd + 30 terms out; the near tail is the rest."""
    low, high = max(0, drawn - (total - marked)), min(drawn, marked)
    if high <= low:
        return 1.0
    mean = drawn * marked / total
    sd = math.sqrt(mean * (1 - marked / total) * (total - drawn) / max(total - 1, 1))
    reach, rest = 12 * sd + 30, total - marked - drawn
    at = float(np.exp(hypergeom_logpmf(x, total, marked, drawn)))
    if x >= mean:  # P(X = k + 1) / P(X = k), k from x up
        k = np.arange(x, min(high, math.ceil(x + reach)), dtype=float)
        ratios = (marked - k) * (drawn - k) / ((k + 1) * (rest + k + 1))
    else:  # P(X = k - 1) / P(X = k), k from x down
        k = np.arange(x, max(low, math.floor(x - reach)), -1, dtype=float)
        ratios = k * (rest + k) / ((marked - k + 1) * (drawn - k + 1))
    far = at * float(np.cumprod(ratios).sum())
    near = max(0.0, 1.0 - far - at)
    return min(1.0, 2 * min(far, near) + at)

"""The two-sample tests and effect sizes of aicd's drift rule (NumPy, no I/O).

Every test answers "could both sides come from one distribution?" as a p-value, with the reference
treated as a sample too (it is one: a training set, or a uniform sample of it):

    location_pvalue      Cramér-von Mises while a side holds at most 20,000 values, Kolmogorov-Smirnov
                         when both are larger (both read the gaps of the two step CDFs that one merge
                         of the sorted sides gives, :func:`step_gaps`, as does W1; KS's limiting
                         distribution is within 1 % of its exact one from there on)
    bins_pvalue          chi-square homogeneity of two count vectors over shared bins (the reference's
                         deciles for a numeric column): a change of spread or tails moves the outer bins
    levels_pvalue        a categorical column level by level: each level's count against the rest
                         (hypergeometric mid-p, two-sided), Bonferroni over the levels; a level the
                         reference lacks is tested one-sided (its rows all fell in the current side)
                         with half the column's error budget
    unseen_pvalue        that one-sided p-value of the largest unseen level (a union bound over the
                         levels at least as large): the drift rule judges it on its own, outside Holm,
                         so a new category with enough rows (ten of 200 against a 200-row reference)
                         is significant without paying for every column and level, while the rare
                         levels a wide column's samples lack by chance are not

Effect sizes, for the floor under which a significant change is too small to matter:
:func:`cohens_h` (the largest change of a level's share) and the normed Wasserstein / JS distances
of :mod:`aicd.data.drift`.

The p-values come from :mod:`aicd.data.tails`, not ``scipy.stats`` (0.8 s to import, more than a
small gate); only CvM's exact distribution for samples of at most 20 values a side uses SciPy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .tails import chi2_sf, cvm_inf_sf, hypergeom_logpmf, hypergeom_midp, kolmogorov_sf

__all__ = ["CVM_MAX", "StepGaps", "bins_pvalue", "cohens_h", "cramer_von_mises_pvalue", "kolmogorov_pvalue",
           "levels_pvalue", "location_pvalue", "step_gaps", "unseen_pvalue"]

CVM_MAX = 20_000
CVM_EXACT = 20  # scipy's cramervonmises_2samp switches to its exact distribution at this size


@dataclass(frozen=True)
class StepGaps:
    """Two sorted samples pooled: at each distinct value (ascending), F − G of their step CDFs just
    after it and how many pooled observations equal it — all KS, CvM and W1 read."""

    reference: np.ndarray
    current: np.ndarray
    values: np.ndarray
    gaps: np.ndarray
    counts: np.ndarray

    def wasserstein(self) -> float:
        """W1 = ∫ |F − G| over the pooled support (0 with an empty side: nothing to compare)."""
        return float(np.sum(np.abs(self.gaps[:-1]) * np.diff(self.values))) if self.gaps.size else 0.0


def step_gaps(reference: np.ndarray, current: np.ndarray) -> StepGaps:
    """Pool two sorted samples in one merge: each current value goes after the reference values
    not above it (one binary search per current value), the rest are the reference's in order.
    An empty side has no step CDF: its gaps are empty."""
    n, m = reference.size, current.size
    if not n or not m:
        empty = np.empty(0)
        return StepGaps(reference, current, empty, empty, np.empty(0, dtype=int))
    at = np.searchsorted(reference, current, side="right") + np.arange(m)
    is_current = np.zeros(n + m, dtype=bool)
    is_current[at] = True
    pooled = np.empty(n + m)
    pooled[at], pooled[~is_current] = current, reference
    last = np.flatnonzero(pooled[1:] != pooled[:-1])  # the last of each run of equal values
    last = np.append(last, n + m - 1)
    gaps = np.cumsum(~is_current)[last] / n - np.cumsum(is_current)[last] / m
    return StepGaps(reference, current, pooled[last], gaps, np.diff(last, prepend=-1))


def location_pvalue(pooled: StepGaps) -> float:
    """Cramér-von Mises when either side holds at most CVM_MAX values, else two-sample KS; 1 (no
    evidence) when a side holds fewer than two values (a sparse column's sample can be empty)."""
    if min(pooled.reference.size, pooled.current.size) < 2:
        return 1.0
    if min(pooled.reference.size, pooled.current.size) <= CVM_MAX:
        return cramer_von_mises_pvalue(pooled)
    return kolmogorov_pvalue(pooled)


def cramer_von_mises_pvalue(pooled: StepGaps) -> float:
    """The two-sample Cramér-von Mises test: Anderson's T = nm/N² · Σ (F − G)² over the pooled values,
    normalised and judged on the limiting distribution as scipy's ``cramervonmises_2samp`` (its exact
    distribution when both sides hold at most 20 values). Without ties T is scipy's statistic, and its
    finite-sample mean and variance are scipy's; with ties they are those of T's limit under these ties
    (:func:`_tied_moments`), and T stays small under the null, where the rank form scipy uses grows with
    the ties (a 7-valued integer column of 2,500 against 30 rows: p = 1e-7 for two samples of one
    distribution)."""
    nx, ny = pooled.reference.size, pooled.current.size
    if max(nx, ny) <= CVM_EXACT:
        from scipy.stats import cramervonmises_2samp

        p = float(cramervonmises_2samp(pooled.reference, pooled.current).pvalue)
        return min(1.0, max(0.0, p)) if p == p else 1.0  # NaN: scipy could not judge, which is no evidence
    k, n = nx * ny, nx + ny
    t = k / n ** 2 * float(np.sum(pooled.counts * pooled.gaps ** 2))
    if pooled.values.size == n:  # no ties: scipy's finite-sample mean and variance of T
        mean = (1 + 1 / n) / 6
        variance = (n + 1) * (4 * k * n - 3 * (nx ** 2 + ny ** 2) - 2 * k) / (45 * n ** 2 * 4 * k)
    else:
        mean, variance = _tied_moments(pooled.counts / n)
    return cvm_inf_sf(1 / 6 + (t - mean) / np.sqrt(45 * variance))


def _tied_moments(weights: np.ndarray) -> tuple[float, float]:
    """Mean and variance of T's limit under ties: T → Σ w_k B(u_k)² for a Brownian bridge B, with w_k the
    pooled share of the k-th distinct value and u_k the pooled CDF after it. Without ties these are 1/6
    and 1/45, the continuous limit's; with them an atom in the middle (a zero-inflated column) raises the
    mean, and judging T against the continuous moments flagged same-distribution samples ~8x too often.
    The variance is 2 Σᵢⱼ wᵢwⱼ (min(uᵢ,uⱼ) − uᵢuⱼ)², in one pass over the prefix sums."""
    u = np.cumsum(weights)
    mean = float(np.sum(weights * u * (1 - u)))
    below = np.concatenate([[0.0], np.cumsum(weights * u ** 2)[:-1]])  # Σ over i < j of wᵢ uᵢ²
    pairs = float(np.sum(weights ** 2 * (u * (1 - u)) ** 2) + 2 * np.sum(weights * (1 - u) ** 2 * below))
    return mean, max(2 * pairs, 1e-300)


def kolmogorov_pvalue(pooled: StepGaps) -> float:
    """Two-sample KS: the largest gap of the two step CDFs, its p-value at the effective size
    nm / (n + m) (:func:`aicd.data.tails.kolmogorov_sf`)."""
    n, m = pooled.reference.size, pooled.current.size
    return kolmogorov_sf(float(np.abs(pooled.gaps).max()), n * m / (n + m))


def bins_pvalue(reference: Sequence[float], current: Sequence[float]) -> float:
    """Chi-square test of homogeneity of a 2 × bins table; bins empty on both sides are left out."""
    table = np.asarray([reference, current], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or np.any(table.sum(axis=1) == 0):
        return 1.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return chi2_sf(statistic, table.shape[1] - 1)


def levels_pvalue(reference: Sequence[float], current: Sequence[float],
                  unseen: Sequence[float] | None = None) -> float:
    """The per-level test of the module docstring; ``reference`` and ``current`` count the same levels
    (a level with reference count 0 is one the reference never saw). ``unseen`` gives the current
    side's rows of each such level when their bins pooled them into one (as the drift rule's do)."""
    ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    big_r, big_c = ref.sum(), cur.sum()
    if big_r <= 0 or big_c <= 0:
        return 1.0
    seen = ref > 0
    total, drawn = int(big_r + big_c), (ref + cur).astype(int)
    x = cur.astype(int)
    each = [hypergeom_midp(int(k), total, int(marked), int(big_c)) for k, marked in zip(x[seen], drawn[seen],
                                                                                         strict=True)]
    p_seen = min(1.0, min(each) * len(each)) if each else 1.0
    p_unseen = unseen_pvalue(ref, cur, unseen)
    return p_seen if p_unseen is None else min(1.0, 2 * min(p_unseen, p_seen))


def unseen_pvalue(reference: Sequence[float], current: Sequence[float],
                  unseen: Sequence[float] | None = None) -> float | None:
    """How likely, were both sides one population, a level at least as large as the largest one the
    reference lacks falls wholly on the current side; None without such levels. Levels are as in
    :func:`levels_pvalue` (``unseen``: the rows of each level its bins pooled).

    Each level of τ rows in both sides together lands wholly on the current side with probability
    C(C, τ) / C(R + C, τ); the p-value is the union bound, that sum over every level with τ at least
    the largest unseen level's rows. The largest level, not the unseen rows pooled: a column of
    hundreds of levels always has rare ones that one sample lacks by chance (three of 3,000 rows
    each), and pooled they would look like one new category."""
    ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    lacking = (ref == 0) & (cur > 0)
    if not lacking.any() or ref.sum() <= 0:
        return None
    sizes = np.asarray(unseen if unseen is not None else cur[lacking], dtype=float)
    largest, big_r, big_c = float(sizes.max()), int(ref.sum()), int(cur.sum())
    totals = np.concatenate([(ref + cur)[~lacking], sizes])
    totals = totals[totals >= largest].astype(int)
    return float(min(1.0, np.exp(hypergeom_logpmf(totals, big_r + big_c, totals, big_c)).sum()))


def cohens_h(reference: Sequence[float], current: Sequence[float]) -> float:
    """The largest |2 asin √p₁ − 2 asin √p₂| over the levels (Cohen's h of each level's share)."""
    ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    if ref.sum() <= 0 or cur.sum() <= 0:
        return 0.0
    h = 2 * np.abs(np.arcsin(np.sqrt(cur / cur.sum())) - np.arcsin(np.sqrt(ref / ref.sum())))
    return float(h.max())

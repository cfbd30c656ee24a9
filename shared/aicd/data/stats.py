"""The two-sample tests and effect sizes of aicd's drift rule (pure numpy/scipy, no I/O).

Every test answers "could both sides come from one distribution?" as a p-value, with the reference
treated as a sample too (it is one: a training set, or a uniform sample of it):

    location_pvalue      Cramér-von Mises up to 20,000 values a side, Kolmogorov-Smirnov above (the
                         CvM p-value costs a rank of both sides; KS on sorted sides is two searchsorted)
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
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["CVM_MAX", "bins_pvalue", "cohens_h", "ks_sorted_pvalue", "levels_pvalue", "location_pvalue",
           "unseen_pvalue"]

CVM_MAX = 20_000


def location_pvalue(reference: np.ndarray, current: np.ndarray) -> float:
    """Cramér-von Mises (scipy) when both sorted sides hold at most CVM_MAX values, else two-sample KS."""
    if max(reference.size, current.size) <= CVM_MAX:
        from scipy.stats import cramervonmises_2samp

        return float(min(1.0, max(0.0, cramervonmises_2samp(reference, current).pvalue)))
    return ks_sorted_pvalue(reference, current)


def ks_sorted_pvalue(reference: np.ndarray, current: np.ndarray) -> float:
    """Two-sample KS on sorted sides, asymptotic p-value as scipy's ``ks_2samp(method="asymp")``."""
    from scipy.stats import kstwo

    support = np.concatenate([reference, current])
    gap = np.abs(np.searchsorted(reference, support, side="right") / reference.size
                 - np.searchsorted(current, support, side="right") / current.size)
    n, m = reference.size, current.size
    return float(min(1.0, max(0.0, kstwo.sf(float(gap.max()), round(n * m / (n + m))))))


def bins_pvalue(reference: Sequence[float], current: Sequence[float]) -> float:
    """Chi-square test of homogeneity of a 2 × bins table; bins empty on both sides are left out."""
    from scipy.stats import chi2

    table = np.asarray([reference, current], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or np.any(table.sum(axis=1) == 0):
        return 1.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return float(chi2.sf(statistic, table.shape[1] - 1))


def levels_pvalue(reference: Sequence[float], current: Sequence[float],
                  unseen: Sequence[float] | None = None) -> float:
    """The per-level test of the module docstring; ``reference`` and ``current`` count the same levels
    (a level with reference count 0 is one the reference never saw). ``unseen`` gives the current
    side's rows of each such level when their bins pooled them into one (as the drift rule's do)."""
    from scipy.stats import hypergeom

    ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    big_r, big_c = ref.sum(), cur.sum()
    if big_r <= 0 or big_c <= 0:
        return 1.0
    seen = ref > 0
    total, drawn = int(big_r + big_c), (ref + cur).astype(int)
    x = cur.astype(int)
    at = hypergeom.pmf(x[seen], total, drawn[seen], int(big_c))
    below = hypergeom.cdf(x[seen] - 1, total, drawn[seen], int(big_c)) + at / 2
    above = hypergeom.sf(x[seen], total, drawn[seen], int(big_c)) + at / 2
    p_seen = min(1.0, float(np.min(2 * np.minimum(below, above))) * int(seen.sum())) if seen.any() else 1.0
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
    from scipy.stats import hypergeom

    ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    lacking = (ref == 0) & (cur > 0)
    if not lacking.any() or ref.sum() <= 0:
        return None
    sizes = np.asarray(unseen if unseen is not None else cur[lacking], dtype=float)
    largest, big_r, big_c = float(sizes.max()), int(ref.sum()), int(cur.sum())
    totals = np.concatenate([(ref + cur)[~lacking], sizes])
    totals = totals[totals >= largest].astype(int)
    return float(min(1.0, hypergeom.pmf(totals, big_r + big_c, totals, big_c).sum()))


def cohens_h(reference: Sequence[float], current: Sequence[float]) -> float:
    """The largest |2 asin √p₁ − 2 asin √p₂| over the levels (Cohen's h of each level's share)."""
    ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    if ref.sum() <= 0 or cur.sum() <= 0:
        return 0.0
    h = 2 * np.abs(np.arcsin(np.sqrt(cur / cur.sum())) - np.arcsin(np.sqrt(ref / ref.sum())))
    return float(h.max())

"""Drift between a reference and a current dataset, column by column (no I/O).

Each side of a column is a :class:`Side`: for numeric columns a sample of its finite values (the
scan's uniform sample, the whole column when it is small) or, for a reference profile stored with a
model, its bin edges and counts; for categorical columns exact value counts. Missing values do not
take part in the distributions (the missing-ratio checks watch them), as in Evidently.

Methods (``drifted`` when the statistic passes ``threshold``):

    ks          two-sample Kolmogorov-Smirnov p-value  (scipy.stats.ks_2samp)      drift if p < 0.05
    chisquare   chi-square goodness-of-fit p-value     (as scipy.stats.chisquare)  drift if p < 0.05
    wasserstein normed Wasserstein: W1 / std(reference) (scipy wasserstein_distance) drift if > 0.1
    js          Jensen-Shannon distance, natural log   (scipy...jensenshannon)     drift if > 0.1
    kl          KL(reference || current) in nats       (scipy.stats.entropy)       drift if > 0.1
    psi         population stability index                                        drift if > 0.1
    homogeneity numeric: min(location, decile) p-value x 2 (aicd.data.stats)         drift if p < 0.05
    levels      categorical: per-level p-value, Bonferroni (aicd.data.stats)      drift if p < 0.05

Each method is one entry of :data:`METHODS` (a :class:`DriftMethod`: its function, whether it
yields a p-value, its default threshold, whether it works on bins) — the one registry the data
gate, the production gate and the alert rules all read.

``auto`` is aicd's rule: ``homogeneity`` for numeric columns, ``levels`` for categorical ones, the
columns' p-values judged together by Holm's step-down at the family level (:mod:`aicd.data.verdict`),
and a column drifts only when its change is also above an effect floor (:data:`FLOORS`) — so the
false alarms per column stay below 1 % at any size, and a million rows do not flag a trivial shift.
``evidently`` reproduces Evidently 0.7's defaults: KS / chi-square up to 1,000 rows and normed
Wasserstein / JS above. A profile reference has no raw values, so its numeric columns use their
bins (JS under ``evidently``, the bins' homogeneity under ``auto``). A method on raw values named for
a column without them (a categorical column, a profile's bins) uses its counterpart on bins
(:data:`ON_BINS`: ``ks`` → ``chisquare``, ``wasserstein`` → ``js``, so a p-value threshold stays one).
Explicit edge cases, so no inf or NaN reaches a verdict: empty bins get a proportion of ``EPSILON``
before logs are taken (KL, PSI, JS) and before they become chi-square expectations; categories
the reference never saw count together in one bin ``other`` (reference share 0, so floored) — as
the model server counts them, so both gates judge unseen levels alike; a constant reference column
has one bin and a zero spread (normed Wasserstein then falls back to the raw distance); an empty
side gives no verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..bins import MAX_LEVELS, unseen_bin
from .stats import StepGaps, bins_pvalue, cohens_h, levels_pvalue, location_pvalue, step_gaps, unseen_pvalue
from .tails import chi2_sf

__all__ = ["BINNED", "EPSILON", "FLOORS", "HANDLING", "METHODS", "ON_BINS", "RULES", "UNSEEN_SHARE", "ColumnDrift",
           "DriftMethod", "Side", "chisquare_pvalue", "column_drift", "js_distance", "kl_divergence", "ks_pvalue",
           "profile_frame", "proportions", "psi", "sides_from_profile", "unseen_significant",
           "wasserstein_normed"]

EPSILON = 1e-4
SMALL = 1000
HANDLING = {  # written into every report, so a reader knows how edge cases were treated
    "missing": "missing values are left out of the distributions; the missing-ratio checks watch them",
    "unseen_categories": "categories absent from the reference count together in one bin `other` (reference "
                         "count 0), as the model server counts them",
    "empty_bins": f"empty bins get a proportion of {EPSILON} before logs (KL, PSI, JS) and chi-square expectations",
    "constant_columns": "a constant reference column has one bin; normed Wasserstein uses the raw distance",
    "large_data": "numeric tests above 1,000 rows use a seeded uniform sample of rows (data.drift.sample-rows)",
}
RULES = ("auto", "evidently")  # the per-column choices (choose_method); every other name is one method
FLOORS = {  # (effect, least effect) of the auto rule: below it a significant change is too small to matter
    "numeric": ("normed Wasserstein or Jensen-Shannon distance on the bins", 0.05),
    "categorical": ("Cohen's h of a level's share, or Jensen-Shannon distance", 0.1),
}


def proportions(counts: Sequence[float]) -> np.ndarray:
    """Shares of ``counts`` with empty bins floored at EPSILON and renormalised (uniform when all are 0):
    the form KL and PSI take their logs of."""
    return _proportions(counts)


def _proportions(counts: Sequence[float]) -> np.ndarray:
    arr = np.asarray(counts, dtype=float)
    total = arr.sum()
    if total <= 0:
        return np.full(len(arr), 1.0 / max(len(arr), 1))
    arr = arr / total
    arr[arr == 0] = EPSILON
    return arr / arr.sum()


def kl_divergence(p: Sequence[float], q: Sequence[float]) -> float:
    """KL(p || q) in nats of two count or proportion vectors of equal length.

    The story's example: ``kl_divergence([0.6, 0.4], [0.4, 0.6])`` is 0.0811.
    """
    pp, qq = _proportions(p), _proportions(q)
    return float(np.sum(pp * np.log(pp / qq)))


def psi(reference: Sequence[float], current: Sequence[float]) -> float:
    """Population stability index: sum of (cur - ref) * ln(cur / ref)."""
    ref, cur = _proportions(reference), _proportions(current)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def js_distance(p: Sequence[float], q: Sequence[float]) -> float:
    """Jensen-Shannon distance (the square root of the divergence), natural log, like scipy's default."""
    pp, qq = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    pp, qq = pp / pp.sum(), qq / qq.sum()
    m = (pp + qq) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(pp > 0, pp * np.log(pp / m), 0.0)
        right = np.where(qq > 0, qq * np.log(qq / m), 0.0)
    return float(math.sqrt(max(0.0, (left.sum() + right.sum()) / 2)))


def ks_pvalue(reference: np.ndarray, current: np.ndarray) -> float:
    from scipy.stats import ks_2samp

    return float(ks_2samp(reference, current).pvalue)


def chisquare_pvalue(reference: Sequence[float], current: Sequence[float]) -> float:
    """Goodness of fit of the current counts to the reference proportions (empty bins smoothed), as
    ``scipy.stats.chisquare`` (k - 1 degrees of freedom) without importing it."""
    observed = np.asarray(current, dtype=float)
    expected = _proportions(reference) * observed.sum()
    if observed.size < 2 or observed.sum() <= 0:
        return 1.0
    return chi2_sf(float(((observed - expected) ** 2 / expected).sum()), observed.size - 1)


def wasserstein_normed(reference: np.ndarray, current: np.ndarray) -> float:
    """W1 distance divided by the reference's standard deviation (Evidently's normed Wasserstein)."""
    a, b = _sorted(np.asarray(reference, dtype=float)), _sorted(np.asarray(current, dtype=float))
    return _normed(step_gaps(a, b))


def _normed(pooled: StepGaps) -> float:
    spread = float(np.std(pooled.reference)) if pooled.reference.size else 0.0
    distance = pooled.wasserstein()
    return distance / spread if spread > 0 else distance


def js_floored(reference: Sequence[float], current: Sequence[float]) -> float:
    """JS distance on floored shares (:func:`proportions`), like KL and PSI — what an alert rule's
    PromQL computes from the server's bins too."""
    return js_distance(proportions(reference), proportions(current))


@dataclass(frozen=True)
class DriftMethod:
    """One drift statistic, as every gate and alert rule uses it."""

    name: str
    title: str  # words for reports and alert descriptions
    threshold: float  # the default
    p_value: bool  # a p-value: drift when it falls *below* the threshold; otherwise drift above it
    on_bins: bool  # computed from the counts of shared bins (else from raw numeric samples)
    promql: bool  # an alert rule can compute it from the server's counters
    statistic: Callable[[Sequence[float], Sequence[float]], float]  # (reference, current)
    family: bool = False  # a test of the auto rule: judged with the others by Holm, above an effect floor

    def drifted(self, statistic: float, threshold: float) -> bool:
        return statistic < threshold if self.p_value else statistic > threshold

    def worst(self, statistics: Sequence[float]) -> float:
        return min(statistics) if self.p_value else max(statistics)

    def shown(self, statistic: float | None) -> str:
        """The statistic to read: a test's is named a p-value, and one too small for a float is
        "p-value < 1e-300", not a bare 0 (which reads as 'no drift')."""
        if statistic is None or not math.isfinite(statistic):
            return "n/a"
        if not self.p_value:
            return f"{statistic:.4g}"
        return "p-value < 1e-300" if statistic == 0 else f"p-value {statistic:.4g}"

    def passing(self, threshold: float) -> str:
        """The condition that passes, in words: ``p >= 0.05`` or ``<= 0.1``."""
        return f"p >= {threshold:g}" if self.p_value else f"<= {threshold:g}"


METHODS: dict[str, DriftMethod] = {m.name: m for m in (
    DriftMethod("ks", "two-sample Kolmogorov-Smirnov p-value", 0.05, True, False, False, ks_pvalue),
    DriftMethod("chisquare", "chi-square goodness-of-fit p-value", 0.05, True, True, False, chisquare_pvalue),
    DriftMethod("wasserstein", "normed Wasserstein distance", 0.1, False, False, False, wasserstein_normed),
    DriftMethod("js", "Jensen-Shannon distance", 0.1, False, True, True, js_floored),
    DriftMethod("kl", "KL divergence (reference || live)", 0.1, False, True, True, kl_divergence),
    DriftMethod("psi", "population stability index", 0.1, False, True, True, psi),
    DriftMethod("homogeneity", "min(Cramér-von Mises or KS, decile chi-square) p-value x 2", 0.05, True, False,
                False, bins_pvalue, family=True),  # on samples: see _homogeneity
    DriftMethod("levels", "per-level hypergeometric mid-p, Bonferroni over the levels", 0.05, True, True, False,
                levels_pvalue, family=True),
)}
# The unseen-level test is the one outside Holm (aicd.data.verdict): held to a fifth of the level, so the
# rare levels a wide column's samples lack by chance raise at most ~1 % false alarms at level 0.05
UNSEEN_SHARE = 0.2
# A method on raw values, where a side has none (a categorical column, a stored profile's bins): the bins'
# method that keeps its threshold's meaning (a p-value for a p-value, a distance for a distance)
ON_BINS = {"ks": "chisquare", "wasserstein": "js"}
# what live traffic, counted in bins, can use (the family tests need the rule around them, not one bin set)
BINNED = tuple(name for name, m in METHODS.items() if m.on_bins and not m.family)


@dataclass
class Side:
    """One column of one dataset, as drift needs it (see the module docstring)."""

    kind: str  # numeric / categorical
    n: int
    sample: np.ndarray | None = None  # kept sorted: quantiles, bin counts and W1 all read it in order
    counts: dict[str, int] | None = None
    edges: list[float] | None = None
    bin_counts: list[int] | None = None
    pooled: str | None = None  # categorical from a stored profile: the bin of the levels beyond its cap

    def __post_init__(self):
        if self.sample is not None:
            self.sample = np.asarray(self.sample, dtype=float)
            if self.sample.size > 1 and not np.all(self.sample[:-1] <= self.sample[1:]):
                self.sample = np.sort(self.sample)


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    kind: str
    method: str
    statistic: float
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int
    bins: list[str]
    reference: list[float]
    current: list[float]
    note: str = ""
    effect: float | None = None  # the auto rule's effect size and its floor (aicd.data.stats)
    floor: float | None = None
    adjusted: float | None = None  # the p-value after Holm over the family, once judged
    unseen: float | None = None  # levels: the unseen levels' one-sided p-value, judged on its own (no Holm)

    def to_dict(self) -> dict:
        out = {"column": self.column, "kind": self.kind, "method": self.method, "statistic": _finite(self.statistic),
               "threshold": self.threshold, "drifted": self.drifted, "n_reference": self.n_reference,
               "n_current": self.n_current, "note": self.note}
        if self.effect is not None:
            out |= {"effect": _finite(self.effect), "floor": self.floor, "adjusted": _finite(self.adjusted)
                    if self.adjusted is not None else None, "unseen_p": self.unseen}
        return out


def choose_method(ref: Side, cur: Side, configured: str) -> str:
    """The method of one column: ``auto`` → homogeneity / levels; ``evidently`` → Evidently 0.7's choice
    by type and size; any other name is itself."""
    if configured == "auto":
        return "levels" if ref.kind == "categorical" else "homogeneity"
    if configured != "evidently":
        return configured
    small = min(ref.n, cur.n) <= SMALL
    if ref.kind == "categorical":
        return "chisquare" if small else "js"
    if ref.sample is None:
        return "js"
    return "ks" if small else "wasserstein"


def column_drift(column: str, ref: Side, cur: Side, method: str = "auto", threshold: float | None = None,
                 bins: int = 10) -> ColumnDrift | None:
    """The drift verdict of one column, or None when either side has no values."""
    if ref.n == 0 or cur.n == 0:
        return None
    method, note = choose_method(ref, cur, method), ""
    binned = ref.kind == "numeric" and (ref.sample is None or cur.sample is None)
    if binned:
        note = "binned: the reference is a stored profile without raw values"
    if method in ON_BINS and (binned or ref.kind == "categorical"):
        note = note or f"{method} needs numeric values: {ON_BINS[method]} on the levels instead"
        method = ON_BINS[method]
    how = METHODS[method]
    limit = how.threshold if threshold is None else threshold
    labels, ref_counts, cur_counts, unseen = _binned(ref, cur, bins)
    sizes = _unseen_sizes(cur, unseen) if unseen and ref.pooled not in labels else None
    pooled = step_gaps(ref.sample, cur.sample) if how.family and ref.kind == "numeric" and not binned else None
    if method == "homogeneity":
        statistic = _homogeneity(pooled, ref_counts, cur_counts)
    elif method == "levels":
        statistic = levels_pvalue(ref_counts, cur_counts, sizes)
    else:
        statistic = how.statistic(ref_counts, cur_counts) if how.on_bins else how.statistic(ref.sample, cur.sample)
    effect, floor = _effect(ref, pooled, ref_counts, cur_counts) if how.family else (None, None)
    alone = unseen_pvalue(ref_counts, cur_counts, sizes) if method == "levels" else None
    significant = how.drifted(statistic, limit) or unseen_significant(alone, limit)
    drifted = significant and (effect is None or effect >= floor)
    sampled = [s for s in (ref, cur) if s.sample is not None and len(s.sample) < s.n]
    if sampled and not note:
        note = f"on a uniform sample of {min(len(s.sample) for s in sampled):,} rows"
    if unseen:
        shown = ", ".join(unseen[:5]) + (f" and {len(unseen) - 5} more" if len(unseen) > 5 else "")
        if ref.pooled in labels:  # a stored profile keeps the levels the model encodes; the rest pool
            what = f"not among the profile's {len(labels) - 1} kept levels, counted as {ref.pooled}: {shown}"
        else:
            what = f"unseen in the reference, counted as {labels[-1]}: {shown}"
        note = "; ".join(filter(None, (note, what)))
    return ColumnDrift(column, ref.kind, method, statistic, limit, bool(drifted), ref.n, cur.n, labels,
                       list(map(float, ref_counts)), list(map(float, cur_counts)), note, effect, floor,
                       unseen=alone)


def _homogeneity(pooled: StepGaps | None, ref_counts, cur_counts) -> float:
    """Location (CvM / KS) and the decile bins' homogeneity, Bonferroni over the two; the bins alone
    without raw values on both sides (``pooled`` None: a stored profile, a categorical column)."""
    spread = bins_pvalue(ref_counts, cur_counts)
    if pooled is None:
        return spread
    return min(1.0, 2 * min(location_pvalue(pooled), spread))


def _effect(ref: Side, pooled: StepGaps | None, ref_counts, cur_counts) -> tuple[float, float]:
    """(effect, floor) of the auto rule (:data:`FLOORS`): the larger of the kind's two measures, which
    share one floor — either one passing it is a change worth a flag."""
    kind = "categorical" if ref.kind == "categorical" else "numeric"
    floor = FLOORS[kind][1]
    js = js_distance(ref_counts, cur_counts) if sum(ref_counts) and sum(cur_counts) else 0.0
    if kind == "categorical":
        return max(cohens_h(ref_counts, cur_counts), js), floor
    return (js if pooled is None else max(js, _normed(pooled))), floor


def _binned(ref: Side, cur: Side, bins: int) -> tuple[list[str], list[float], list[float], list[str]]:
    """Shared bins of both sides — levels for categorical (every unseen one in ``other``), reference
    quantile edges for numeric — and the current side's unseen levels (most frequent first)."""
    if ref.kind == "categorical":
        known, live = _levels(ref.counts), _levels(cur.counts)
        unseen = sorted((v for v in live if v not in known), key=lambda v: (-live[v], v))
        levels = sorted(known)
        ref_counts, cur_counts = [known[v] for v in levels], [live.get(v, 0) for v in levels]
        if unseen and ref.pooled in known:  # the profile pooled its rare levels: unseen ones are among them
            at = levels.index(ref.pooled)
            cur_counts[at] += sum(live[v] for v in unseen)
        elif unseen:
            levels, ref_counts = [*levels, unseen_bin(known)], [*ref_counts, 0]
            cur_counts = [*cur_counts, sum(live[v] for v in unseen)]
        return levels, ref_counts, cur_counts, unseen
    edges = ref.edges if ref.edges is not None else _quantile_edges(ref.sample, bins)
    ref_counts = ref.bin_counts if ref.bin_counts is not None else _counts_in(ref.sample, edges)
    cur_counts = _counts_in(cur.sample, edges) if cur.sample is not None else cur.bin_counts
    bounds = ["-inf", *[f"{e:.4g}" for e in edges], "inf"]
    return [f"[{bounds[i]}, {bounds[i + 1]})" for i in range(len(edges) + 1)], ref_counts, cur_counts, []


def unseen_significant(unseen: float | None, level: float) -> bool:
    """The unseen-level test's verdict (one rule for a column alone and for the family's)."""
    return unseen is not None and unseen < level * UNSEEN_SHARE


def _unseen_sizes(cur: Side, unseen: list[str]) -> list[int]:
    """The current side's rows of each level the reference lacks (its bins count them together)."""
    live = _levels(cur.counts)
    return [live[v] for v in unseen]


def _levels(counts: dict[str, int] | None) -> dict[str, int]:
    """Category counts with booleans spelled one way (a stored profile says True, a scan true)."""
    out: dict[str, int] = {}
    for level, count in (counts or {}).items():
        key = level.lower() if level in ("True", "False") else level
        out[key] = out.get(key, 0) + count
    return out


def _sorted(values: np.ndarray) -> np.ndarray:
    return values if values.size < 2 or np.all(values[:-1] <= values[1:]) else np.sort(values)


def _quantile_edges(values: np.ndarray, bins: int) -> list[float]:
    """Inner edges at quantiles (linear interpolation, as np.quantile); duplicates collapse, so a
    constant column gets one edge."""
    if values is None or values.size == 0:
        return []
    ordered = _sorted(values)
    position = np.linspace(0, 1, bins + 1)[1:-1] * (ordered.size - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, ordered.size - 1)
    edges = ordered[low] + (position - low) * (ordered[high] - ordered[low])
    return sorted({float(x) for x in edges})


def _counts_in(values: np.ndarray, edges: list[float]) -> list[int]:
    """Counts per bin [edge[i-1], edge[i]); bins are read off the sorted values in O(bins log n)."""
    ordered = _sorted(values)
    bounds = np.searchsorted(ordered, np.asarray(edges, dtype=float), side="left")
    return np.diff(np.concatenate([[0], bounds, [ordered.size]])).astype(int).tolist()


def profile_frame(frame, bins: int = 10, exclude: Sequence[str] = (), categorical: Sequence[str] = (),
                  max_levels: int = MAX_LEVELS) -> dict:
    """The drift profile stored with a model: per column, numeric bin edges and counts or categorical
    counts of the ``max_levels`` most frequent levels (as the model encodes them) and of the rest
    together (``categorical`` names numeric columns counted as levels: a classifier's label), and the
    missing count (JSON-serialisable)."""
    from pandas.api import types as ptypes

    out = {}
    for name in frame.columns:
        if name in exclude:
            continue
        series = frame[name]
        values = series.dropna()
        if ptypes.is_numeric_dtype(series) and not ptypes.is_bool_dtype(series) and name not in categorical:
            finite = values.to_numpy(dtype=float)
            finite = finite[np.isfinite(finite)]
            edges = _quantile_edges(finite, bins)
            out[str(name)] = {"kind": "numeric", "edges": edges, "counts": _counts_in(finite, edges),
                              "missing": int(series.isna().sum())}
        else:
            counts = values.astype(str).value_counts()
            kept = counts.iloc[:max_levels].sort_index()  # as the model encodes it; the rest are one "other"
            out[str(name)] = {"kind": "categorical", "levels": kept.index.tolist(),
                              "counts": [int(c) for c in kept], "other": int(counts.iloc[max_levels:].sum()),
                              "missing": int(series.isna().sum())}
    return out


def sides_from_profile(profile: dict) -> dict[str, Side]:
    """Reference sides from a stored profile (no raw values: numeric columns carry bins only)."""
    sides = {}
    for name, p in profile.items():
        if p["kind"] == "numeric":
            sides[name] = Side("numeric", int(sum(p["counts"])), edges=list(p["edges"]), bin_counts=list(p["counts"]))
        else:
            counts, pooled = dict(zip(p["levels"], p["counts"], strict=True)), None
            if p.get("other"):  # levels beyond the profile's cap: the bin unseen values fall into
                pooled = unseen_bin(counts)
                counts[pooled] = int(p["other"])
            sides[name] = Side("categorical", int(sum(counts.values())), counts=counts, pooled=pooled)
    return sides


def _finite(value: float) -> float | None:
    return round(value, 10) if math.isfinite(value) else None

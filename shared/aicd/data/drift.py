"""Drift between a reference and a current dataset, through per-column profiles (no I/O).

A *profile* is what we keep of a dataset to compare against later: for each numeric column the
reference's quantile bin edges and counts, for each categorical column its levels and counts, and
the missing count. Current data is binned with the reference's edges/levels, so a profile stored
with a model (issue: reference profile) and a raw reference file are compared the same way.

Explicit edge cases, so no inf or NaN reaches a verdict:
- missing values count in their own ``(missing)`` bin;
- current categories unseen in the reference go to an ``(unseen)`` bin;
- empty bins get a proportion of ``EPSILON`` (as Evidently does) before the logs are taken;
- a constant reference column puts all its mass in one bin; other values land in the bins around it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

__all__ = ["EPSILON", "ColumnDrift", "bin_counts", "compare_profile", "kl_divergence", "profile_frame", "psi"]

EPSILON = 1e-4
MISSING, UNSEEN = "(missing)", "(unseen)"


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


def profile_frame(frame: pd.DataFrame, bins: int = 10, exclude: Sequence[str] = ()) -> dict:
    """The drift profile of every column of ``frame`` but ``exclude`` (JSON-serialisable)."""
    return {str(name): _profile_column(frame[name], bins) for name in frame.columns if name not in exclude}


def _profile_column(series: pd.Series, bins: int) -> dict:
    missing = int(series.isna().sum())
    values = series.dropna()
    if ptypes.is_numeric_dtype(series) and not ptypes.is_bool_dtype(series):
        edges = _quantile_edges(values.to_numpy(dtype=float), bins)
        return {"kind": "numeric", "edges": edges, "counts": _numeric_counts(values, edges), "missing": missing}
    counts = values.astype(str).value_counts().sort_index()
    return {"kind": "categorical", "levels": counts.index.tolist(), "counts": [int(c) for c in counts],
            "missing": missing}


def _quantile_edges(values: np.ndarray, bins: int) -> list[float]:
    """Inner edges at reference quantiles; duplicates collapse so a constant column gets one bin."""
    if values.size == 0:
        return []
    inner = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    return sorted({float(x) for x in inner})


def _numeric_counts(values: pd.Series, edges: list[float]) -> list[int]:
    idx = np.searchsorted(np.asarray(edges, dtype=float), values.to_numpy(dtype=float), side="right")
    return np.bincount(idx, minlength=len(edges) + 1).astype(int).tolist()


def bin_counts(profile: dict, series: pd.Series) -> tuple[list[str], list[int], list[int]]:
    """Bin ``series`` like ``profile``: (bin labels, reference counts, current counts)."""
    missing = int(series.isna().sum())
    values = series.dropna()
    if profile["kind"] == "numeric":
        edges = profile["edges"]
        numeric = pd.to_numeric(values, errors="coerce")
        cur = _numeric_counts(numeric.dropna(), edges)
        bounds = ["-inf", *[f"{e:.4g}" for e in edges], "inf"]
        labels = [f"[{bounds[i]}, {bounds[i + 1]})" for i in range(len(edges) + 1)]
        ref = list(profile["counts"])
        unseen = int(numeric.isna().sum())
    else:
        levels = profile["levels"]
        observed = values.astype(str).value_counts()
        cur = [int(observed.get(level, 0)) for level in levels]
        labels, ref = list(levels), list(profile["counts"])
        unseen = int(observed[~observed.index.isin(levels)].sum())
    return [*labels, MISSING, UNSEEN], [*ref, profile["missing"], 0], [*cur, missing, unseen]


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    kl: float
    psi: float
    score: float
    threshold: float
    drifted: bool
    bins: list[str]
    reference: list[int]
    current: list[int]

    def to_dict(self) -> dict:
        return {"column": self.column, "kl": _round(self.kl), "psi": _round(self.psi), "score": _round(self.score),
                "threshold": self.threshold, "drifted": self.drifted}


def compare_profile(profile: dict, frame: pd.DataFrame, method: str, threshold: float) -> list[ColumnDrift]:
    """Per-column drift of ``frame`` against ``profile``; ``method`` (kl/psi) makes the score."""
    out = []
    for column, prof in profile.items():
        if column not in frame.columns:
            continue
        labels, ref, cur = bin_counts(prof, frame[column])
        kl, stability = kl_divergence(ref, cur), psi(ref, cur)
        score = kl if method == "kl" else stability
        out.append(ColumnDrift(column, kl, stability, score, threshold, score > threshold, labels, ref, cur))
    return out


def _round(value: float) -> float:
    return round(value, 6) if math.isfinite(value) else value

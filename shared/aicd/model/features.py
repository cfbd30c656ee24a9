"""Which columns are features, and how a bare estimator's pipeline encodes them (pure logic).

Teams' tables hold more than features: customer ids, signup dates, free text, categoricals with
thousands of levels. One-hot encoding those makes thousands of dense columns (minutes and
gigabytes for a few thousand rows) and a model that memorised ids. So, before fitting:

- an **identifier** — a text column whose values are nearly all distinct
  (:func:`aicd.bins.looks_like_identifier`, the rule the data gate's drift uses too) — is left out,
  with a note;
- a **date** — a datetime column, or text that parses as ISO-8601 dates — becomes its numeric
  parts (:mod:`aicd.dates`: year, month, weekday, day number), computed the same way by the model
  server, with a note;
- a **categorical** keeps its ``max_levels`` most frequent levels (``model.max-levels``, default
  :data:`aicd.bins.MAX_LEVELS`); the rest are "other", the rule the model server uses for its drift
  counts (:mod:`aicd.bins`), with a note when a column is wider.

The encoding follows the estimator: gradient-boosted trees get ordinal codes (they split on them,
and the model exports to ONNX; skl2onnx cannot export native categorical splits), others one-hot
columns of the kept levels, sparse when the estimator accepts sparse input and the matrix is wide.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from ..bins import MAX_LEVELS, looks_like_identifier
from ..dates import PARTS, is_date_text

__all__ = ["FeaturePlan", "plan_features"]

DATE_SAMPLE = 200  # non-missing values tried as dates
DATE_SHARE = 0.95  # of them that must parse
SPARSE_WIDTH = 200  # one-hot columns above which the matrix stays sparse, where the estimator takes it


@dataclass(frozen=True)
class FeaturePlan:
    """``numeric`` and ``categorical`` features (in the frame's order), the levels kept per
    categorical, and the columns left out with the reason for each."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    dates: tuple[str, ...] = ()  # fed to the model as their parts (aicd.dates)
    levels: dict[str, list[str]] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)
    capped: dict[str, int] = field(default_factory=dict)  # column -> its number of distinct levels
    max_levels: int = MAX_LEVELS

    @property
    def features(self) -> list[str]:
        """The raw columns the model takes (what a request to the server holds)."""
        return [*self.numeric, *self.categorical, *self.dates]

    def notes(self) -> list[str]:
        """One line per decision a user should know about."""
        out = [f"`{c}` is not a feature: {why}" for c, why in self.left_out.items()]
        out += [f"`{c}` is a date: the model sees its {', '.join(PARTS)} (days since 1970)" for c in self.dates]
        out += [f"`{c}` has {n:,} levels: the {self.max_levels} most frequent are encoded, the rest as one 'other' "
                "level (model.max-levels)" for c, n in self.capped.items()]
        return out


def plan_features(frame: pd.DataFrame, candidates: Iterable[str], keep: Iterable[str] = (),
                  max_levels: int = MAX_LEVELS) -> FeaturePlan:
    """Sort ``candidates`` (columns of ``frame``) into numeric and categorical features and columns
    left out. ``keep`` are columns the user declared (a dtype in ``data.columns``): never left out
    as ids or dates. A categorical keeps its ``max_levels`` most frequent levels."""
    keep = set(keep)
    numeric, categorical, dates, levels, left_out, capped = [], [], [], {}, {}, {}
    for name in candidates:
        series = frame[name]
        if _is_numeric(series):
            numeric.append(name)
            continue
        if name not in keep and _is_date(series):
            dates.append(name)
            continue
        why = None if name in keep else _left_out_reason(series)
        if why:
            left_out[name] = why
            continue
        # "" is no level: the server sends a missing text as "", so a kept "" would code missing values
        counts = series.dropna().astype(str).value_counts().drop("", errors="ignore")
        if counts.empty:  # nothing to learn from, and an encoder without levels cannot be built
            left_out[name] = "no values (every cell is missing or empty)"
            continue
        categorical.append(name)
        levels[name] = sorted(counts.index[:max_levels].tolist())
        if len(counts) > max_levels:
            capped[name] = len(counts)
    return FeaturePlan(tuple(numeric), tuple(categorical), tuple(dates), levels, left_out, capped, max_levels)


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series)  # booleans too: they are 0/1


def _is_date(series: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(series):
        return True
    values = series.dropna()
    return not values.empty and _looks_like_dates(values)


def _left_out_reason(series: pd.Series) -> str | None:
    values = series.dropna()
    if values.empty:
        return None
    distinct = values.astype(str).nunique()
    if looks_like_identifier(distinct, len(values)):
        return f"an identifier ({distinct:,} distinct values in {len(values):,} rows)"
    return None


def _looks_like_dates(values: pd.Series) -> bool:
    """Date objects, or ISO-8601 text ("03/04" is ambiguous) read as the server reads it."""
    sample = values.head(DATE_SAMPLE)
    if all(isinstance(v, dt.date) for v in sample):  # Arrow reads ISO dates in CSV as date objects
        return True
    if not all(isinstance(v, str) and v[:4].isdigit() and v[4:5] == "-" for v in sample):
        return False
    return sum(is_date_text(v) for v in sample) >= DATE_SHARE * len(sample)

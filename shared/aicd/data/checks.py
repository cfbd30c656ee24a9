"""Data quality checks: a frame and a DataConfig in, a list of check results out (no I/O).

Each result names its column, the measured value and the threshold, and carries the config line
it came from, so a failure can be annotated on ``aicd.yml`` where the rule was written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd
from pandas.api import types as ptypes

from ..config import ColumnSpec, DataConfig

__all__ = ["Check", "run_checks"]


@dataclass(frozen=True)
class Check:
    """One check's verdict. ``measured`` and ``threshold`` are what a human compares."""

    name: str
    column: str | None
    passed: bool
    measured: object
    threshold: object
    message: str
    config_path: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def run_checks(frame: pd.DataFrame, cfg: DataConfig) -> list[Check]:
    """All configured checks, schema first; checks of a missing column are skipped, not crashed."""
    results = _schema(frame, cfg)
    present = [c for c in cfg.columns if c.name in frame.columns]
    results += [r for spec in present for r in _column_checks(frame[spec.name], spec)]
    results += [_missing_ratio(frame[name], name, cfg.max_missing_ratio) for name in frame.columns]
    if cfg.label and cfg.label in frame.columns:
        results.append(_positive_share(frame[cfg.label], cfg))
    return results


def _schema(frame: pd.DataFrame, cfg: DataConfig) -> list[Check]:
    expected = [(spec.name, f"data.columns.{spec.name}") for spec in cfg.columns]
    if cfg.label:
        expected.append((cfg.label, "data.label"))
    out = []
    for name, path in expected:
        if name not in frame.columns:
            out.append(Check("schema", name, False, "absent", "present",
                             f"column `{name}` is not in the data (columns: {', '.join(map(str, frame.columns))})",
                             path))
    return out


def _column_checks(series: pd.Series, spec: ColumnSpec) -> list[Check]:
    path = f"data.columns.{spec.name}"
    out = []
    if spec.dtype:
        actual = _dtype_of(series)
        ok = actual == spec.dtype or (spec.dtype == "float" and actual == "int") or (
            spec.dtype == "category" and actual == "str") or (spec.dtype == "str" and actual == "category")
        out.append(Check("dtype", spec.name, ok, actual, spec.dtype,
                         f"`{spec.name}` has type {actual}, expected {spec.dtype}", f"{path}.dtype"))
    if not spec.nullable:
        missing = int(series.isna().sum())
        out.append(Check("not-null", spec.name, missing == 0, missing, 0,
                         f"`{spec.name}` has {missing} missing values but is declared not nullable",
                         f"{path}.nullable"))
    if spec.min is not None or spec.max is not None:
        out.append(_range(series, spec, path))
    if spec.allowed is not None:
        values = series.dropna()
        unknown = sorted(set(values.astype(str)) - {str(a) for a in spec.allowed})
        bad = int((~values.astype(str).isin([str(a) for a in spec.allowed])).sum())
        out.append(Check("allowed-values", spec.name, bad == 0, bad, list(spec.allowed),
                         f"`{spec.name}` has {bad} values outside the allowed set (e.g. {', '.join(unknown[:3])})"
                         if bad else f"`{spec.name}` values all allowed", f"{path}.allowed"))
    return out


def _range(series: pd.Series, spec: ColumnSpec, path: str) -> Check:
    numeric = pd.to_numeric(series, errors="coerce")
    if numeric.notna().sum() < series.notna().sum():
        return Check("range", spec.name, False, "non-numeric values", [spec.min, spec.max],
                     f"`{spec.name}` has non-numeric values, cannot check its range", path)
    below = int((numeric < spec.min).sum()) if spec.min is not None else 0
    above = int((numeric > spec.max).sum()) if spec.max is not None else 0
    lo, hi = numeric.min(), numeric.max()
    bounds = f"{spec.min} .. {spec.max}" if spec.min is not None and spec.max is not None else (
        f">= {spec.min}" if spec.min is not None else f"<= {spec.max}")
    return Check("range", spec.name, below + above == 0, f"{_num(lo)} .. {_num(hi)}", bounds,
                 f"`{spec.name}` has {below} values below {spec.min} and {above} above {spec.max} "
                 f"(observed {_num(lo)} .. {_num(hi)})", f"{path}.min" if below else f"{path}.max")


def _missing_ratio(series: pd.Series, name: str, limit: float) -> Check:
    ratio = float(series.isna().mean())
    return Check("missing-ratio", str(name), ratio <= limit, round(ratio, 6), limit,
                 f"`{name}` is {ratio:.1%} missing (max {limit:.1%})", "data.max-missing-ratio")


def _positive_share(label: pd.Series, cfg: DataConfig) -> Check:
    known = label.dropna()
    share = float((known.astype(str) == str(cfg.positive)).mean()) if len(known) else 0.0
    return Check("label-balance", cfg.label, share >= cfg.min_positive_share, round(share, 6),
                 cfg.min_positive_share,
                 f"`{cfg.label}` positive share ({cfg.positive!r}) is {share:.1%} (min {cfg.min_positive_share:.1%})",
                 "data.min-positive-share")


def _dtype_of(series: pd.Series) -> str:
    if ptypes.is_bool_dtype(series):
        return "bool"
    if ptypes.is_integer_dtype(series):
        return "int"
    if ptypes.is_float_dtype(series):
        values = series.dropna()
        return "int" if len(values) and (values == values.round()).all() else "float"
    if isinstance(series.dtype, pd.CategoricalDtype):
        return "category"
    return "str"


def _num(value: object) -> object:
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        return value
    return int(as_float) if as_float.is_integer() else round(as_float, 6)

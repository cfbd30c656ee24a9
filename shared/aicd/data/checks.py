"""Data quality checks: a :class:`Scan` and a DataConfig in, a list of check results out (no I/O).

Each result names its column, the measured value and the threshold, and carries the config path
of the rule it came from, so a failure can be annotated on ``aicd.yml`` where the rule was written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from ..config import ColumnSpec, DataConfig
from ..dates import is_date_text
from ..decision import class_key
from .scan import ColumnScan, Scan

__all__ = ["Check", "run_checks"]

# declared dtype -> the scanned kinds that satisfy it (text that reads as dates is scanned as a date)
_COMPATIBLE = {"int": {"int"}, "float": {"float", "int"}, "bool": {"bool"}, "str": {"str", "date", "timestamp"},
               "category": {"str", "bool"}, "datetime": {"date", "timestamp"}}


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
        """The check for reports; a passed check's message says it passed (each ``message`` is written
        for the failure: "has 0 missing values but is declared not nullable" would read as one)."""
        out = asdict(self)
        if self.passed:
            measured, threshold = self.shown()
            out["message"] = f"passed: {measured} against {threshold}"
        return out

    def shown(self) -> tuple[object, object]:
        """``measured`` and ``threshold`` as a reader compares them (:func:`shown`)."""
        return shown(self.name, self.measured, self.threshold)


# how each check's numbers read: the measured value's format and the threshold's, which says the
# comparison that passes ("≤ 24 h"); a check not here, or a value that is not a number, is left as it is
SHOWN = {
    "freshness": ("{:.1f} h", "≤ {:g} h"),
    "label-balance": ("{:.1%}", "≥ {:.1%}"),
    "missing-ratio": ("{:.1%}", "≤ {:.1%}"),
    "missing-total": ("{:.2%}", "≤ {:.2%}"),
    "row-change": ("{:.1%}", "≤ {:.1%}"),
    "duplicate-rows": ("{:,}", "≤ {:,}"),
    "row-count": ("{:,}", None),
    "label-missing": ("{:,} rows", None),
    **{name: ("{:,}", "{:,}") for name in ("not-null", "finite", "unique", "allowed-values", "regex", "expect")},
}


def shown(name: str, measured: object, threshold: object) -> tuple[object, object]:
    """A check's measured value and threshold with their unit and comparison, as text where they are
    numbers; anything else (a list of allowed values, a dtype) unchanged, for the table to render (pure)."""
    measured_format, threshold_format = SHOWN.get(name, (None, None))
    return _formatted(measured_format, measured), _formatted(threshold_format, threshold)


def _formatted(template: str | None, value: object) -> object:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return template.format(value) if template and number else value


def run_checks(s: Scan, cfg: DataConfig, reference_rows: int | None = None,
               now: dt.datetime | None = None, task: str = "classification",
               max_missing_label_ratio: float = 0.0) -> list[Check]:
    """Every configured check, schema first; rules of a missing column are skipped, not crashed.
    The label's checks follow ``task``: classes and the positive share for classification, a
    numeric non-constant value for regression; missing labels for both."""
    results = _schema(s, cfg)
    for spec in cfg.columns:
        if spec.name in s.columns:
            results += _column(s.columns[spec.name], spec, s.rows)
    results += [_finite(c) for c in s.columns.values() if c.kind == "float"]
    results += [_missing(c, s.rows, cfg.max_missing_ratio) for c in s.columns.values() if c.name != cfg.label]
    results += _dataset(s, cfg, reference_rows, now or dt.datetime.now(dt.UTC))
    if cfg.label and cfg.label in s.columns:
        results += _label(s.columns[cfg.label], s.rows, cfg, task, max_missing_label_ratio)
    return results


def _label(col: ColumnScan, rows: int, cfg: DataConfig, task: str, max_missing: float) -> list[Check]:
    missing = col.nulls + col.nans
    out = [Check("label-missing", col.name, not rows or missing / rows <= max_missing, missing,
                 f"≤ {max_missing:.1%} of rows",
                 f"label `{col.name}` is missing in {missing:,} of {rows:,} rows (training allows "
                 f"{max_missing:.1%}: model.max-missing-label-ratio)", "model.max-missing-label-ratio")]
    if task == "regression":
        numeric = col.kind in ("int", "float")
        out.append(Check("label-type", col.name, numeric, col.kind, "int or float",
                         f"label `{col.name}` is {col.kind}, but a regression label must be numeric", "model.task"))
        if numeric:
            constant = col.min is not None and col.min == col.max
            out.append(Check("label-values", col.name, not constant, _num(col.min), "at least two values",
                             f"label `{col.name}` has a single value ({_num(col.min)}): nothing to learn",
                             "data.label"))
        return out
    classes = len(col.counts) if not col.high_cardinality else None
    if classes is not None and classes < 2:
        only = f" ({next(iter(col.counts))!r})" if classes else ""
        out.append(Check("label-classes", col.name, False, classes, "at least 2",
                         f"label `{col.name}` has a single class{only}: a classifier has nothing to learn",
                         "data.label"))
    elif classes == 2:  # the positive share is a binary label's measure; multi-class labels have none
        out.append(_positive_present(col, cfg) or _positive_share(col, cfg))
    return out


def _positive_present(col: ColumnScan, cfg: DataConfig) -> Check | None:
    """A check that fails when ``data.positive`` is not one of the label's two classes, else None."""
    if _positive_key(col, cfg) is not None:
        return None
    shown = ", ".join(sorted(map(str, col.counts)))
    return Check("label-balance", col.name, False, "absent", str(cfg.positive),
                 f"the positive value {cfg.positive!r} never occurs in label `{col.name}` (classes: {shown})",
                 "data.positive")


def _positive_key(col: ColumnScan, cfg: DataConfig) -> str | None:
    """The label's count key that is ``data.positive``: the same class however each side spells it
    (``true`` in a boolean column is ``True``/``"true"`` in aicd.yml; ``1.0`` is ``1``)."""
    def same(value: object) -> str:
        text = class_key(value)
        return text.lower() if text.lower() in ("true", "false") else text

    wanted = same(cfg.positive)
    return next((key for key in col.counts if same(key) == wanted), None)


def _schema(s: Scan, cfg: DataConfig) -> list[Check]:
    expected = [(c.name, f"data.columns.{c.name}") for c in cfg.columns]
    expected += [(k, "data.keys") for k in cfg.keys]
    expected += [(cfg.label, "data.label")] if cfg.label else []
    expected += [(cfg.freshness.column, "data.freshness.column")] if cfg.freshness.column else []
    return [Check("schema", name, False, "absent", "present",
                  f"column `{name}` is not in the data ({_nearest(name, s.names)}columns: {', '.join(s.names)})", path)
            for name, path in dict(expected).items() if name not in s.columns]


def _nearest(name: str, names: list[str]) -> str:
    """``did you mean `x`? `` for a near miss of a column name, else nothing."""
    import difflib

    found = difflib.get_close_matches(name, names, n=1)
    return f"did you mean `{found[0]}`? " if found else ""


def _column(col: ColumnScan, spec: ColumnSpec, rows: int) -> list[Check]:
    path, out = f"data.columns.{spec.name}", []
    if spec.dtype:
        ok = col.kind in _COMPATIBLE[spec.dtype]
        empty = rows > 0 and col.nulls + col.nans >= rows
        message = (f"`{spec.name}` is entirely missing (all {rows:,} values are empty), so it cannot be "
                   f"{spec.dtype}" if empty else f"`{spec.name}` has type {col.kind}, expected {spec.dtype}")
        out.append(Check("dtype", spec.name, ok, "all missing" if empty else col.kind, spec.dtype, message,
                         f"{path}.dtype"))
    if not spec.nullable:
        missing = col.nulls + col.nans
        out.append(Check("not-null", spec.name, missing == 0, missing, 0,
                         f"`{spec.name}` has {missing:,} missing values but is declared not nullable",
                         f"{path}.nullable"))
    if (spec.min is not None or spec.max is not None) and col.kind in ("int", "float"):
        out.append(_range(col, spec, path))
    elif spec.min is not None or spec.max is not None:
        out.append(Check("range", spec.name, False, col.kind, "numeric",
                         f"`{spec.name}` is {col.kind}, so its range cannot be checked", path))
    if spec.allowed is not None:
        examples = ", ".join(sorted(map(str, col.not_allowed_examples))[:3])
        out.append(Check("allowed-values", spec.name, col.not_allowed == 0, col.not_allowed, list(spec.allowed),
                         f"`{spec.name}` has {col.not_allowed:,} values outside the allowed set (e.g. {examples})"
                         if col.not_allowed else f"`{spec.name}` values all allowed", f"{path}.allowed"))
    if spec.regex is not None:
        out.append(Check("regex", spec.name, col.not_matching == 0, col.not_matching, spec.regex,
                         f"`{spec.name}` has {col.not_matching:,} values not matching /{spec.regex}/", f"{path}.regex"))
    if spec.expect is not None:
        out.append(Check("expect", spec.name, col.expect_failed == 0, col.expect_failed, spec.expect,
                         f"`{spec.name}`: {col.expect_failed:,} values fail `{spec.expect}`", f"{path}.expect"))
    return out


def _range(col: ColumnScan, spec: ColumnSpec, path: str) -> Check:
    if spec.min is not None and spec.max is not None:
        bounds = f"{spec.min} .. {spec.max}"
    else:
        bounds = f">= {spec.min}" if spec.min is not None else f"<= {spec.max}"
    observed = f"{_num(col.min)} .. {_num(col.max)}"
    outside = [f"{n:,} values below {bound}" for n, bound in ((col.below, spec.min),) if bound is not None]
    outside += [f"{n:,} above {bound}" for n, bound in ((col.above, spec.max),) if bound is not None]
    return Check("range", spec.name, col.below + col.above == 0, observed, bounds,
                 f"`{spec.name}` has {' and '.join(outside)} (observed {observed})",
                 f"{path}.min" if col.below or spec.max is None else f"{path}.max")  # the rule that was broken


def _finite(col: ColumnScan) -> Check:
    return Check("finite", col.name, col.infs == 0, col.infs, 0,
                 f"`{col.name}` has {col.infs:,} infinite values", None)


def _missing(col: ColumnScan, rows: int, limit: float) -> Check:
    ratio = (col.nulls + col.nans) / rows if rows else 0.0
    return Check("missing-ratio", col.name, ratio <= limit, round(ratio, 6), limit,
                 f"`{col.name}` is entirely missing (every value is empty; max {limit:.1%} missing)"
                 if rows and ratio >= 1 else f"`{col.name}` is {ratio:.1%} missing (max {limit:.1%})",
                 "data.max-missing-ratio")


def _dataset(s: Scan, cfg: DataConfig, reference_rows: int | None, now: dt.datetime) -> list[Check]:
    out = []
    if cfg.max_missing_total is not None:
        cells = s.rows * len(s.columns)
        ratio = sum(c.nulls + c.nans for c in s.columns.values()) / cells if cells else 0.0
        out.append(Check("missing-total", None, ratio <= cfg.max_missing_total, round(ratio, 6),
                         cfg.max_missing_total, f"{ratio:.2%} of all cells are missing "
                         f"(max {cfg.max_missing_total:.2%})", "data.max-missing-total"))
    for key, dupes in s.key_duplicates.items():
        out.append(Check("unique", key, dupes == 0, dupes, 0, f"key `{key}` repeats {dupes:,} times", "data.keys"))
    if s.duplicate_rows is not None:
        out.append(Check("duplicate-rows", None, s.duplicate_rows <= cfg.max_duplicate_rows, s.duplicate_rows,
                         cfg.max_duplicate_rows, f"{s.duplicate_rows:,} rows repeat an earlier row "
                         f"(max {cfg.max_duplicate_rows:,})", "data.max-duplicate-rows"))
    if cfg.min_rows is not None or cfg.max_rows is not None:
        low, high = cfg.min_rows or 0, cfg.max_rows
        ok = s.rows >= low and (high is None or s.rows <= high)
        out.append(Check("row-count", None, ok, s.rows, f"{low:,} .. {high:,}" if high is not None else f">= {low:,}",
                         f"{s.rows:,} rows (allowed {low:,} .. {high if high is not None else 'any'})",
                         "data.min-rows" if s.rows < low else "data.max-rows"))
    if cfg.max_row_change is not None and reference_rows:
        change = abs(s.rows - reference_rows) / reference_rows
        out.append(Check("row-change", None, change <= cfg.max_row_change, round(change, 6), cfg.max_row_change,
                         f"{s.rows:,} rows against {reference_rows:,} in the reference ({change:+.1%})",
                         "data.max-row-change"))
    if cfg.freshness.column and cfg.freshness.column in s.columns:
        out.append(_freshness(s.columns[cfg.freshness.column], cfg.freshness.max_age_hours, now))
    return out


def _freshness(col: ColumnScan, max_hours: float | None, now: dt.datetime) -> Check:
    newest = col.newest
    if newest is None:
        return Check("freshness", col.name, False, col.kind, "timestamp", _no_timestamps(col), "data.freshness.column")
    if isinstance(newest, dt.date) and not isinstance(newest, dt.datetime):
        newest = dt.datetime.combine(newest, dt.time())
    if newest.tzinfo is None:
        newest = newest.replace(tzinfo=dt.UTC)
    age = (now - newest).total_seconds() / 3600
    limit = max_hours if max_hours is not None else float("inf")
    if age < -FUTURE_HOURS:  # a clock or time-zone mistake upstream, not fresh data
        return Check("freshness", col.name, False, round(age, 2), limit,
                     f"newest `{col.name}` is {-age:.1f} h in the future ({newest.isoformat()}): a wrong clock or "
                     "time zone where the data is written", "data.freshness.column")
    return Check("freshness", col.name, age <= limit, round(age, 2), limit,
                 f"newest `{col.name}` is {age:.1f} h old (max {limit} h)", "data.freshness.max-age-hours")


def _no_timestamps(col: ColumnScan) -> str:
    """Why a freshness column has no timestamps: text that is not all ISO-8601 is read as text."""
    if col.kind != "str":
        return f"`{col.name}` has no timestamp values (type {col.kind})"
    bad = [v for v in col.counts if not is_date_text(str(v))]
    shown = ", ".join(repr(str(v))[:40] for v in bad[:3])
    some = f"{len(bad):,} of its {len(col.counts):,} distinct values are not, e.g. {shown}" if bad else \
        "its values are text"
    return (f"`{col.name}` is read as text, not timestamps: every value must be ISO-8601 (2026-03-01 or "
            f"2026-03-01T10:00:00Z); {some}")


FUTURE_HOURS = 1.0  # how far ahead of this runner's clock a newest timestamp may be (clock skew)


def _positive_share(col: ColumnScan, cfg: DataConfig) -> Check:
    total = sum(col.counts.values())
    key = _positive_key(col, cfg)
    share = col.counts[key] / total if total and key is not None else 0.0
    return Check("label-balance", cfg.label, share >= cfg.min_positive_share, round(share, 6),
                 cfg.min_positive_share,
                 f"`{cfg.label}` positive share ({cfg.positive!r}) is {share:.1%} (min {cfg.min_positive_share:.1%})",
                 "data.min-positive-share")


def _num(value: object) -> object:
    if value is None:
        return "n/a"
    as_float = float(value)
    return int(as_float) if as_float.is_integer() else round(as_float, 6)

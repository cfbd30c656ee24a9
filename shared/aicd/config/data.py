"""The ``data:`` section of aicd.yml: what the data gate checks, and how drift is measured.

Each key is a field below (see :mod:`aicd.config.reader`); the defaults are the story's and the
README documents them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..data.drift import METHODS, RULES
from .reader import Entry, Reader, kind_of, setting

__all__ = ["DRIFT_METHODS", "DTYPES", "ColumnSpec", "DataConfig", "DriftConfig", "DriftOverride", "FreshnessConfig",
           "SqlConfig"]

DTYPES = ("int", "float", "bool", "str", "category", "datetime")
DRIFT_METHODS = (*RULES, *METHODS)  # auto and evidently pick per column (aicd.data.drift.choose_method)


def _regex(e: Entry) -> str | None:
    text = e.text()
    if text is not None:
        try:
            re.compile(text)
        except re.error as exc:
            raise e.fail(f"invalid regular expression: {exc}") from None
    return text


def _allowed(e: Entry) -> tuple[Any, ...] | None:
    if not e.given:
        return None
    if not isinstance(e.value, list):
        raise e.fail(f"must be a list of values, got {kind_of(e.value)}")
    return tuple(e.value)


def _expectation(e: Entry) -> str | None:
    from ..data.expect import ExpressionError, parse_expectation

    text = e.text()
    if text is not None:
        try:
            parse_expectation(text)
        except ExpressionError as exc:
            raise e.fail(f"{text!r} {exc}", "an expectation uses `value`, constants, arithmetic, comparisons, "
                         "and/or/not, `in [...]`, abs() and len()") from None
    return text


@dataclass(frozen=True)
class ColumnSpec:
    """``data.columns.<name>``: the column's type, bounds and rules."""

    name: str = field()
    dtype: str | None = setting(None, choices=DTYPES)
    nullable: bool = setting(True)
    min: float | None = setting(None)
    max: float | None = setting(None)
    allowed: tuple[Any, ...] | None = setting(None, parse=_allowed)
    regex: str | None = setting(None, parse=_regex)
    expect: str | None = setting(None, parse=_expectation)
    line: int | None = field(default=None)

    def check(self, r: Reader, path: str) -> None:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise r.fail(f"{path}.min", f"min {self.min} is greater than max {self.max}")


@dataclass(frozen=True)
class DriftOverride:
    """``data.drift.columns.<name>``: another method or threshold for one column, or ``skip: true``
    to leave it out of drift (a column that changes by design, such as a batch date)."""

    method: str | None = setting(None, choices=tuple(METHODS))
    threshold: float | None = setting(None, low=0)
    skip: bool = setting(False)


def _overrides(e: Entry) -> dict[str, DriftOverride]:
    return {column: e.section_at(DriftOverride, f"{e.path}.{column}", spec) for column, spec in e.mapping().items()}


@dataclass(frozen=True)
class DriftConfig:
    """``method: auto`` is aicd's rule (:mod:`aicd.data.drift`, :mod:`aicd.data.verdict`): homogeneity
    (numeric) and per-level (categorical) p-values, Holm over the columns at ``threshold`` (0.05),
    an effect floor, and a dataset verdict on the drifted columns' importance weight (``share``
    0.2). ``method: evidently`` picks per column by type and size as Evidently 0.7 does: KS and
    chi-square p-values below 0.05 up to 1,000 rows, normed Wasserstein and Jensen-Shannon distance
    above 0.1 beyond; the dataset drifts when half the columns do. ``threshold`` is then the chosen
    method's default unless set. The label is judged apart, at ``label-threshold`` under auto."""

    reference: str | None = setting(None)
    method: str = setting("auto", choices=DRIFT_METHODS)
    threshold: float | None = setting(None, low=0)
    label_threshold: float = setting(0.005, low=0, high=1)
    bins: int = setting(10, low=2, high=1000)
    share: float | None = setting(None, low=0, high=1)
    sample_rows: int = setting(100_000, low=1000, high=10_000_000)
    columns: dict[str, DriftOverride] = setting(factory=dict, parse=_overrides)

    @property
    def level(self) -> float:
        """The auto rule's family level: ``threshold``, 0.05 unless set."""
        return 0.05 if self.threshold is None else self.threshold

    @property
    def dataset_share(self) -> float:
        """``share`` as set, else the method's default: 0.2 of the importance weight under auto and the
        family tests, half the columns otherwise (Evidently's)."""
        if self.share is not None:
            return self.share
        return 0.2 if self.method == "auto" or METHODS.get(self.method, METHODS["ks"]).family else 0.5


@dataclass(frozen=True)
class FreshnessConfig:
    """``data.freshness``: the newest value of a timestamp column is at most this old."""

    column: str | None = setting(None)
    max_age_hours: float | None = setting(None, low=0)

    def check(self, r: Reader, path: str) -> None:
        if self.max_age_hours is not None and not self.column:
            raise r.fail(path, "needs `column` (a timestamp column) and `max-age-hours`")


@dataclass(frozen=True)
class SqlConfig:
    """``data.sql``: where a SQL query in ``data`` (a .sql file or ``sql: ...``) runs. The database URL
    is never written here: it is read from the environment variable ``url-env`` names."""

    url_env: str = setting("AICD_DATABASE_URL")
    fetch_rows: int = setting(65_536, low=1000, high=10_000_000)

    def check(self, r: Reader, path: str) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.url_env):
            raise r.fail(f"{path}.url-env", f"{self.url_env!r} is not an environment variable name",
                         "name the variable holding the URL, e.g. AICD_DATABASE_URL")


def _delimiter(e: Entry) -> str:
    text = e.text()
    text = "\t" if text in ("\\t", "tab") else text
    if len(text) != 1 or text in "\r\n\"":
        raise e.fail(f"must be one character such as ';', '|' or '\\t', got {text!r}")
    return text


def _columns(e: Entry) -> tuple[ColumnSpec, ...]:
    return tuple(e.section_at(ColumnSpec, f"{e.path}.{name}", spec, name=name, line=e.line(f"{e.path}.{name}"))
                 for name, spec in e.mapping().items())


@dataclass(frozen=True)
class DataConfig:
    source: str | None = setting(None)  # the dataset when the stage's `data` input is empty
    label: str | None = setting(None)
    positive: Any = setting(1, parse=Entry.raw)
    max_missing_ratio: float = setting(0.05, low=0, high=1)
    min_positive_share: float = setting(0.30, low=0, high=1)
    delimiter: str = setting(",", parse=_delimiter)  # CSV field separator
    columns: tuple[ColumnSpec, ...] = setting((), parse=_columns)
    drift: DriftConfig = setting(factory=DriftConfig)
    max_missing_total: float | None = setting(None, low=0, high=1)
    keys: tuple[str, ...] = setting(())
    max_duplicate_rows: int | None = setting(None, low=0)
    min_rows: int | None = setting(None, low=0)
    max_rows: int | None = setting(None, low=0)
    max_row_change: float | None = setting(None, low=0)
    freshness: FreshnessConfig = setting(factory=FreshnessConfig)
    sql: SqlConfig = setting(factory=SqlConfig)

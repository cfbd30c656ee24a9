"""Dates as model features: each date column becomes numeric parts, the same way at training and in
the model server (pure; the serving image carries it).

A raw date says only when a row was written; its parts say what a model can use: the year and
month (seasons, cohorts), the weekday, and the day number (days since 1970-01-01 UTC, with the time
of day as a fraction), from which trees learn ages and recency. The parts of column ``signup`` are
``signup.year``, ``signup.month``, ``signup.weekday`` (Monday 0) and ``signup.days``; a missing
or unreadable value gives NaN parts, which the pipeline imputes like any missing number.

The pipeline step that applies it at training is :class:`aicd.dateparts.DateParts`.

Values may be ISO-8601 text (``2026-03-01``, ``2026-03-01T10:00:00Z``, ``+02:00`` offsets; a time
without an offset is UTC), ``datetime`` / ``date`` objects (pandas Timestamps are datetimes) or
numpy datetime64 values.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

__all__ = ["MISSING_PARTS", "PARTS", "expand", "is_date_text", "part_names", "parts_of"]

PARTS = ("year", "month", "weekday", "days")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MISSING_PARTS = _MISSING = (math.nan,) * len(PARTS)  # a missing or unreadable value's parts

def part_names(column: str) -> list[str]:
    return [f"{column}.{part}" for part in PARTS]


def parts_of(value: object) -> tuple[float, ...]:
    """(year, month, weekday, days) of one value; NaN parts when it is missing or unreadable."""
    when = _as_datetime(value)
    if when is None:
        return _MISSING
    days = (when - _EPOCH).total_seconds() / 86400
    return float(when.year), float(when.month), float(when.weekday()), days


def is_date_text(value: str) -> bool:
    return _as_datetime(value) is not None


def expand(columns: Mapping[str, Sequence], dates: Sequence[str]) -> dict[str, list]:
    """``columns`` with each of ``dates`` replaced by its parts (other columns unchanged)."""
    out = {}
    for name, values in columns.items():
        if name not in dates:
            out[name] = values
            continue
        parts = [parts_of(v) for v in values]
        for i, part in enumerate(part_names(name)):
            out[part] = [p[i] for p in parts]
    return out


def _as_datetime(value: object) -> dt.datetime | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    elif hasattr(value, "astype") and type(value).__name__ == "datetime64":  # numpy, without importing it
        if str(value) == "NaT":
            return None
        value = dt.datetime.fromisoformat(str(value.astype("datetime64[us]")))
    if isinstance(value, dt.datetime):
        if value != value:  # pandas NaT compares unequal to itself
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return None

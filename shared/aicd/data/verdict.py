"""From column verdicts to the dataset's: multiple testing over the columns, and the drifted weight.

Judging a dozen columns at p < 0.05 each raises a false alarm in about every second stable batch.
The auto rule's columns are one family instead: Holm's step-down keeps the chance of any false
alarm among them at the family level ``data.drift.threshold`` (so each column's stays below
level / columns), and a column drifts only when it is significant after Holm *and* above its effect
floor. One exception, on purpose: a level the reference never had is judged on its own at a fifth of
the level (its one-sided p-value, :func:`aicd.data.stats.unseen_pvalue`; ``UNSEEN_SHARE``) — a new
category is news however many columns there are: ten rows of it in 200 against a 200-row reference
have p = 0.001, while the rare levels a wide column's samples lack by chance stay below ~1 % alarms.
The dataset drifts when the drifted columns carry at least ``data.drift.share`` of the
weight — each column's permutation importance stored with the model, or equal weights without one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from .drift import METHODS, ColumnDrift, unseen_significant

__all__ = ["holm", "judge_family", "weighted_share"]


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given: the i-th smallest times (k - i + 1), kept monotone."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [1.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def judge_family(results: Sequence[ColumnDrift], level: float) -> list[ColumnDrift]:
    """The family's columns judged together (Holm at ``level``, then the floor); others as they came.

    A column is in the family when its method is a family test and its threshold is the family's
    level (a column with a threshold of its own is judged alone at it)."""
    family = [i for i, r in enumerate(results) if METHODS[r.method].family and r.threshold == level]
    adjusted = holm([results[i].statistic for i in family])
    out = list(results)
    for i, p in zip(family, adjusted, strict=True):
        r = results[i]
        significant = p < level or unseen_significant(r.unseen, level)
        drifted = significant and r.effect is not None and r.effect >= r.floor
        note = r.note
        if significant and not drifted:
            note = "; ".join(filter(None, (note, f"significant, but below the effect floor ({r.effect:.3g} < "
                                                 f"{r.floor:g})")))
        out[i] = replace(r, adjusted=p, drifted=drifted, note=note)
    return out


def weighted_share(results: Sequence[ColumnDrift], weights: Mapping[str, float] | None = None) -> float:
    """The drifted columns' share of the compared columns' weight (equal weights without ``weights``,
    or when the compared columns weigh nothing in them)."""
    if not results:
        return 0.0
    given = {r.column: max(0.0, float((weights or {}).get(r.column, 0.0))) for r in results}
    total = sum(given.values())
    if total <= 0:
        return sum(r.drifted for r in results) / len(results)
    return sum(given[r.column] for r in results if r.drifted) / total

"""The bin of categories a reference never saw, named the same by the model server and both gates
(pure, import-free: the serving image carries it too)."""

from __future__ import annotations

from collections.abc import Collection

__all__ = ["ID_DISTINCT_SHARE", "MAX_LEVELS", "OTHER", "looks_like_identifier", "unseen_bin"]

OTHER = "other"
MAX_LEVELS = 50  # levels of a categorical kept by the model's encoding; the rest are one "other"
ID_DISTINCT_SHARE = 0.9


def looks_like_identifier(distinct: int, rows: int) -> bool:
    """Text whose values are nearly all distinct — more than MAX_LEVELS of them, in at least
    ID_DISTINCT_SHARE of its non-missing rows — is an identifier (a customer id, an order number):
    neither a feature nor something drift can judge."""
    return distinct > MAX_LEVELS and distinct >= ID_DISTINCT_SHARE * rows


def unseen_bin(levels: Collection[str]) -> str:
    """``other`` — unless the reference has a real level of that name, which keeps its own bin: then
    ``other (unseen)`` (and so on), so unseen values never pool with a real category."""
    name = OTHER
    while name in levels:
        name = f"{name} (unseen)"
    return name

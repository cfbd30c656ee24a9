"""The bin of categories a reference never saw, named the same by the model server and both gates
(pure, import-free: the serving image carries it too)."""

from __future__ import annotations

from collections.abc import Collection

__all__ = ["MAX_LEVELS", "OTHER", "unseen_bin"]

OTHER = "other"
MAX_LEVELS = 50  # levels of a categorical kept by the model's encoding; the rest are one "other"


def unseen_bin(levels: Collection[str]) -> str:
    """``other`` — unless the reference has a real level of that name, which keeps its own bin: then
    ``other (unseen)`` (and so on), so unseen values never pool with a real category."""
    name = OTHER
    while name in levels:
        name = f"{name} (unseen)"
    return name

"""What the production gate can judge (pure, import-light: the CLI's parser reads it too)."""

from __future__ import annotations

__all__ = ["GROUPS", "MODES"]

MODES = ("none", "canary", "ab")
GROUPS = {"none": ("served", "served"), "canary": ("stable", "canary"), "ab": ("a", "b")}  # (baseline, candidate)

"""What a deploy or a rollback left behind, for any target whose revisions are of type ``R``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Rollout"]

R = TypeVar("R")


@dataclass(frozen=True)
class Rollout(Generic[R]):
    serving: R
    standby: R | None  # the revision a plain rollback would return to, kept running
    ready_seconds: float  # start (or wake) to answering /readyz; about 0 for an instant switch
    rolled_back: R | None = None  # rollback: the revision it left (now retired)

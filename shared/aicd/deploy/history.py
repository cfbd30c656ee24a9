"""Which revisions of a deployment can be returned to: one rule for every deploy target (pure).

A deployment's history is a stack of revision numbers, oldest first, the serving one on top:

- ``deployed(n)`` pushes the new revision once it serves; only the newest ``limit`` stay
  (the ones pushed out are ``dropped``: their containers, processes or records go).
- ``rolled_back(to)`` returns to ``to`` (default: the one below the top) and *retires* every
  revision above it — a revision rolled back from is not offered again, so two rollbacks in a row
  walk back two releases (3 → 2 → 1) instead of flipping between the last two.
- Numbers are never given twice: ``last`` remembers the highest one ever handed out, a failed
  or retired revision's included, so a revision number names one image for the deployment's life.

Targets keep the top two warm (serving and standby: an instant switch) and may keep the rest
cold (stopped, restarted on rollback); this module only says which numbers are which.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_KEEP", "History", "NothingToRollBackTo"]

DEFAULT_KEEP = 5


class NothingToRollBackTo(LookupError):
    """The wanted revision is not kept (or is the serving one); ``kept`` says what is."""

    def __init__(self, wanted: int | None, kept: tuple[int, ...], current: int | None):
        self.wanted, self.kept, self.current = wanted, kept, current
        if wanted is None:
            why = "nothing to roll back to: no earlier revision is kept"
        elif wanted == current:
            why = f"cannot roll back to revision {wanted}: it is the one serving"
        else:
            why = f"cannot roll back to revision {wanted}: it is not kept (retired by a rollback, failed, or " \
                  "older than deploy.keep-revisions)"
        super().__init__(why)

    @property
    def hint(self) -> str:
        others = [str(n) for n in self.kept if n != self.current]
        if not others:
            return "deploy another revision first"
        return f"revisions that can be returned to: {', '.join(others)} (serving: {self.current})"


@dataclass(frozen=True)
class History:
    kept: tuple[int, ...] = ()  # rollback-able revisions, oldest first; the serving one is last
    last: int = 0  # the highest revision number ever handed out

    @property
    def current(self) -> int | None:
        return self.kept[-1] if self.kept else None

    @property
    def previous(self) -> int | None:
        """The revision a plain rollback returns to: the standby."""
        return self.kept[-2] if len(self.kept) > 1 else None

    def next_number(self) -> int:
        return max(self.last, *self.kept, 0) + 1

    def started(self, number: int) -> History:
        """``number`` was handed out (it may still fail): it is never handed out again."""
        return History(self.kept, max(self.last, number))

    def deployed(self, number: int, limit: int = DEFAULT_KEEP) -> tuple[History, tuple[int, ...]]:
        """``number`` serves now; returns the new history and the revisions no longer kept."""
        stack = (*(n for n in self.kept if n != number), number)
        return History(stack[-limit:], max(self.last, number)), stack[:-limit]

    def rolled_back(self, to: int | None = None) -> tuple[History, tuple[int, ...]]:
        """Return to ``to`` (default: the previous revision); returns the new history and the
        revisions retired (every one above ``to``). NothingToRollBackTo when ``to`` is not kept."""
        wanted = to if to is not None else self.previous
        if wanted is None or wanted not in self.kept or wanted == self.current:
            raise NothingToRollBackTo(wanted, self.kept, self.current)
        cut = self.kept.index(wanted) + 1
        return History(self.kept[:cut], self.last), self.kept[cut:]

    def to_json(self) -> dict:
        return {"kept": list(self.kept), "last": self.last}

    @classmethod
    def from_json(cls, raw: object) -> History:
        """Tolerant of a missing or older state: anything unreadable is an empty history."""
        if not isinstance(raw, dict):
            return cls()
        kept = tuple(n for n in raw.get("kept") or () if isinstance(n, int) and not isinstance(n, bool) and n > 0)
        last = raw.get("last")
        return cls(kept, last if isinstance(last, int) and not isinstance(last, bool) and last > 0 else 0)

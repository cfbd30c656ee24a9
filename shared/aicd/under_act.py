"""Where a step keeps what must outlive its job when the workflow runs under act rather than on GitHub.

act (nektos/act) runs each job in a folder of its own, ``~/.cache/act/<hash>/`` (``hostexecutor`` is
the workspace, ``tmp`` is RUNNER_TEMP), and deletes that folder when the job succeeds; it keeps no job
summary either, only echoing GITHUB_STEP_SUMMARY into the log. So under act the local target's
state-dir in the workspace would vanish while its model server keeps running from it, and a later
deploy or rollback would know nothing of that revision; the reports and summaries would vanish too.

Under act (act sets ``ACT=true``) a step therefore takes a *relative* state-dir or report path relative
to the **act home** — ``$AICD_ACT_HOME``, else ``~/.aicd/act/<owner>+<name>`` of the repository — which
mirrors the workspace's layout and outlives every run; job summaries go to ``<act home>/aicd-summaries/``.
An absolute state-dir inside the job's own folder is refused in one line: it cannot survive. Off act
nothing here changes anything.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from .errors import ConfigError

__all__ = ["home", "placed", "state_dir", "summary_file"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def home(env: Mapping[str, str]) -> Path | None:
    """The act home when the step runs under act; None on GitHub and outside Actions."""
    if env.get("ACT") != "true":
        return None
    if env.get("AICD_ACT_HOME"):
        return Path(env["AICD_ACT_HOME"]).expanduser()
    parts = [_name(part) for part in env.get("GITHUB_REPOSITORY", "").split("/")]
    repo = "+".join(part for part in parts if part) or "repository"
    return Path(env.get("HOME") or os.path.expanduser("~")) / ".aicd" / "act" / repo


def _name(text: str) -> str:
    """``text`` as one harmless file name part (no separators, never . or ..)."""
    return _UNSAFE.sub("-", text).strip(".-")


def placed(path: str, env: Mapping[str, str]) -> str:
    """``path`` as the step should use it: under act a relative path is taken inside the act home."""
    where = home(env)
    if where is None or not path or os.path.isabs(path):
        return path
    return str(where / path)


def state_dir(path: str, env: Mapping[str, str]) -> Path:
    """The local target's state folder (:func:`placed`); under act, ConfigError when it lies in the
    job's own folder, which act deletes when the job succeeds."""
    where = Path(placed(path, env))
    if home(env) is None:
        return where
    real = Path(os.path.realpath(where))
    for name in ("GITHUB_WORKSPACE", "RUNNER_TEMP"):
        doomed = env.get(name)
        if doomed and real.is_relative_to(os.path.realpath(doomed)):
            raise ConfigError(f"input `state-dir`: {path!r} is inside act's {name} ({doomed}), which act deletes "
                              "when the job succeeds: the revision would serve from a deleted folder and no later "
                              "run could roll it back",
                              hint=f"give a relative state-dir (under act it lives in {home(env)}) or a folder "
                                   "outside act's job folder")
    return where


def summary_file(env: Mapping[str, str], now: datetime, stage: str = "") -> Path | None:
    """Under act, the file a step's job summary goes to: ``<time>-<job>[-<stage>].md`` (``now`` orders
    them; the stage tells apart the steps of one job, which a pipeline job has several of); None
    elsewhere (GITHUB_STEP_SUMMARY is used)."""
    where = home(env)
    if where is None:
        return None
    parts = [_name(env.get("GITHUB_JOB", "")) or "job", _name(stage)]
    return where / "aicd-summaries" / f"{now.strftime('%Y%m%dT%H%M%S.%fZ')}-{'-'.join(p for p in parts if p)}.md"

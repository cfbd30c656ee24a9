"""Which commit a step runs from: one answer for training and the release, on a runner or not.

``GITHUB_SHA`` on a runner; otherwise the checkout's ``HEAD`` (a laptop, act in host mode, a plain
CI system); empty when there is no git checkout. The same commit then names the same image tag
(``<model-version>-<sha7>``) and labels, wherever the step ran.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping

__all__ = ["commit_of"]


def commit_of(env: Mapping[str, str], cwd: str | None = None) -> str:
    """The full commit SHA the step runs from, or "" outside a git checkout."""
    if env.get("GITHUB_SHA"):
        return env["GITHUB_SHA"]
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=cwd,
                              check=True)
    except (OSError, subprocess.SubprocessError):
        return ""
    sha = done.stdout.strip()
    return sha if len(sha) == 40 and all(c in "0123456789abcdef" for c in sha) else ""

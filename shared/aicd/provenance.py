"""Which commit a step runs from: one answer for training and the release, on a runner or not.

``GITHUB_SHA`` on a runner; otherwise the checkout's ``HEAD`` (a laptop, act in host mode, a plain
CI system); empty when there is no git checkout. The same commit then names the same image tag
(``<model-version>-<sha7>``) and labels, wherever the step ran.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping

__all__ = ["commit_of", "source_of"]


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


def source_of(env: Mapping[str, str], cwd: str | None = None) -> str:
    """The repository's web address: the runner's, else the checkout's ``origin`` remote as https
    (``git@host:owner/name.git`` → ``https://host/owner/name``); "" when neither is known. Credentials
    in a remote URL are never returned."""
    if env.get("GITHUB_REPOSITORY"):
        return f"{env.get('GITHUB_SERVER_URL', 'https://github.com')}/{env['GITHUB_REPOSITORY']}"
    try:
        done = subprocess.run(["git", "remote", "get-url", "origin"], capture_output=True, text=True, timeout=5,
                              cwd=cwd, check=True)
    except (OSError, subprocess.SubprocessError):
        return ""
    return web_address(done.stdout.strip())


def web_address(remote: str) -> str:
    """An https address for a git remote URL (scp-like or URL form), without user or password; "" for a
    local path or anything else."""
    import re
    import urllib.parse

    scp = re.fullmatch(r"[\w.-]+@([\w.-]+):([\w./-]+?)(?:\.git)?/?", remote)
    if scp:
        return f"https://{scp.group(1)}/{scp.group(2)}"
    url = urllib.parse.urlsplit(remote)
    if url.scheme in ("https", "http", "ssh", "git") and url.hostname:
        path = url.path.removesuffix("/").removesuffix(".git")
        return f"https://{url.hostname}{path}" if path.strip("/") else ""
    return ""

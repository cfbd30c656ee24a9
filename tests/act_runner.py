"""Running a workflow of this checkout under act (host mode), the one way the act tests do it.

``org/aicd/action-*@v1`` is mapped to this checkout with ``--local-repository``, exactly as a user's
workflow references the released actions. Every third-party node action the workflows pin
(``actions/upload-artifact``, ``actions/download-artifact``) is served from a copy built at its pinned
commit by ``scripts/install-act-actions``: act resolves every action of a job before running it, even
a step its ``if:`` skips, and it cannot clone them without GitHub.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
ACT_CACHE = Path.home() / ".cache" / "act"
_PINNED = re.compile(r"uses: (actions/[\w-]+)@([0-9a-f]{40})")


# Never fetched under act: act skips checkout itself, and a job of the other is skipped under act by its
# `if: ... !github.event.act` (tests/unit/test_template_outputs.py checks that every such job says so).
NOT_RUN_UNDER_ACT = frozenset({"actions/checkout", "actions/attest-build-provenance"})


def pinned_actions() -> dict[str, str]:
    """``owner/name -> sha`` of every ``actions/*`` action a workflow here pins that act runs (built by
    scripts/install-act-actions)."""
    found = (_PINNED.findall(path.read_text(encoding="utf-8")) for path in sorted(WORKFLOWS.glob("*.yml")))
    return {name: sha for pairs in found for name, sha in pairs if name not in NOT_RUN_UNDER_ACT}


@functools.cache
def local_copies() -> tuple[str, ...]:
    """``--local-repository`` arguments serving each pinned action from its built copy. Building needs
    a clone of each action and npm; when that fails, the act tests fail with the script's reason."""
    built = subprocess.run([str(ROOT / "scripts/install-act-actions")], capture_output=True, text=True,
                           timeout=1200)
    if built.returncode != 0:
        raise RuntimeError(f"scripts/install-act-actions failed: {built.stderr.strip()[-600:]}")
    folder = Path(built.stdout.strip().splitlines()[-1])
    return tuple(arg for name, sha in pinned_actions().items()
                 for arg in ("--local-repository", f"{name}@{sha}={folder / (name.replace('/', '+') + '@' + sha)}"))


def run_act(workflow: str | Path, inputs: Mapping[str, str], home: Path, *, secrets: Iterable[str] = (),
            env: Mapping[str, str] | None = None, extra: Iterable[str] = (),
            timeout: float = 600) -> subprocess.CompletedProcess:
    """act's ``workflow_dispatch`` of ``workflow`` with ``inputs``. ``home`` is the act home
    (AICD_ACT_HOME, through act's --env) where the steps keep their relative state, reports and
    summaries, never the user's ~/.aicd/act; ``secrets`` are names act reads from ``env``."""
    act = Path(sys.executable).parent / "act"
    cmd = [str(act), "workflow_dispatch", "-W", str(workflow), "-P", "ubuntu-latest=-self-hosted",
           "--cache-server-addr", "127.0.0.1", "--local-repository", f"org/aicd@v1={ROOT}",
           *local_copies(), "--env", f"AICD_ACT_HOME={home}", *extra]
    for name in secrets:
        cmd += ["-s", name]
    before = set(ACT_CACHE.iterdir()) if ACT_CACHE.exists() else set()
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="aicd-act-event-") as event:
        json.dump(dispatch_event(inputs), event)
        event.flush()
        try:
            return subprocess.run([*cmd, "-e", event.name], cwd=ROOT, capture_output=True, text=True,
                                  env={**os.environ, **(env or {}), "ACT_DISABLE_VERSION_CHECK": "1"},
                                  timeout=timeout)
        finally:
            _remove_new_job_folders(before)


def dispatch_event(inputs: Mapping[str, str]) -> dict:
    """The workflow_dispatch event act is given: the inputs, and ``"act": true``, which the README's act
    command also passes: jobs of remote actions act cannot fetch offline (build provenance) test
    ``github.event.act`` and are skipped, as act's own documentation suggests. (act ignores ``--input``
    once an event file is given, so the inputs travel in the event.)"""
    return {"act": True, "inputs": {key: str(value) for key, value in inputs.items()}}


def _remove_new_job_folders(before: set[Path]) -> None:
    """act leaves the folders of failed jobs behind."""
    for path in (set(ACT_CACHE.iterdir()) if ACT_CACHE.exists() else set()) - before:
        if path.is_dir() and re.fullmatch(r"[0-9a-f]{16}", path.name):
            shutil.rmtree(path, ignore_errors=True)

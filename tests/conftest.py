"""Shared fixtures: the repository layout, the coffee example on disk, and a CLI runner.

Integration fixtures (a real MLflow server, the action venv) live in tests/integration/conftest.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT / "shared"
# As on a runner, RUNNER_TEMP names a place steps may write: the tests' reports live under pytest's
# temp folders, which are inside it. STEP_ENV is the whole environment of a step called in process.
os.environ.setdefault("RUNNER_TEMP", tempfile.gettempdir())
STEP_ENV = {"RUNNER_TEMP": os.environ["RUNNER_TEMP"]}
# The bearer token the tests' model servers are deployed with; FEEDBACK_AUTH is its request header.
FEEDBACK_TOKEN = "aicd-tests-feedback-token"
FEEDBACK_AUTH = {"authorization": f"Bearer {FEEDBACK_TOKEN}"}


@dataclass
class Completed:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_aicd(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120) -> Completed:
    """Run ``python -m aicd`` in a child process, the way an action does (inputs may come via env)."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("AICD_", "GITHUB_", "MLFLOW_"))}
    child_env.update(PYTHONPATH=str(SHARED), **(env or {}))
    proc = subprocess.run([sys.executable, "-m", "aicd", *args], capture_output=True, text=True, env=child_env,
                          cwd=cwd, timeout=timeout)
    return Completed(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def coffee(tmp_path_factory) -> dict[str, Path]:
    """The coffee example (training, reference and production data, aicd.yml) in a temp folder."""
    from aicd.demo import write_example

    return write_example(tmp_path_factory.mktemp("coffee"))

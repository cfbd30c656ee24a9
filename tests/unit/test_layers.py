"""The layer contracts (pyproject.toml's [tool.importlinter], run by ./scripts/test) hold, and they
would catch the imports they exist for: a pure module reaching the runner I/O module through
``from .. import gha``, a stdlib client imported inside a function, a stage importing another."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import aicd

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(shared: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", str(ROOT / "pyproject.toml")],
                          env={"PYTHONPATH": str(shared), "PATH": "/usr/bin:/bin"}, cwd=shared,
                          capture_output=True, text=True, timeout=120)


def test_the_contracts_hold():
    result = lint(ROOT / "shared")
    assert result.returncode == 0, result.stdout[-2000:]


@pytest.mark.parametrize(("module", "line", "broken"), [
    ("data/drift.py", "from .. import gha", "aicd.data.drift -> aicd.gha"),
    ("monitor/stats.py", "def _probe():\n    import subprocess\n", "aicd.monitor.stats -> subprocess"),
    ("model/gate.py", "from ..datasets import open_source", "aicd.model.gate -> aicd.datasets"),
    ("steps/train.py", "from .deploy import run as deploy_run", "aicd.steps.train is not allowed to import "
                                                                   "aicd.steps.deploy"),
    ("deploy/local.py", "from ..steps import summary", "aicd.deploy.local -> aicd.steps.summary"),
])
def test_a_bad_import_breaks_a_contract(tmp_path, module, line, broken):
    shutil.copytree(ROOT / "shared" / "aicd", tmp_path / "aicd", ignore=shutil.ignore_patterns("__pycache__"))
    path = tmp_path / "aicd" / module
    path.write_text(path.read_text() + "\n" + line + "\n")
    result = lint(tmp_path)
    assert result.returncode == 1 and broken in " ".join(result.stdout.split()), result.stdout[-2000:]


def test_public_surface_is_pinned():
    assert aicd.__all__ == ["__version__"]

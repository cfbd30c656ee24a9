"""The README's demo command's main job: `aicd demo` on the embedded default, under two minutes."""

import json
import time

from aicd.deploy.local import LocalTarget
from tests.conftest import run_aicd


def test_the_demo_runs_the_whole_chain(tmp_path):
    started = time.monotonic()
    result = run_aicd("demo", "--workdir", str(tmp_path / "demo"), timeout=180)
    elapsed = time.monotonic() - started
    assert result.code == 0, result.output
    assert elapsed < 120
    for stage in ("1 validate", "2 train", "3 deploy", "4 traffic", "5 monitor"):
        assert f"{stage}" in result.stdout
    assert "decision: PROMOTE" in result.stdout
    assert "Traceback" not in result.output
    assert (tmp_path / "demo" / "mlflow" / "mlflow.db").is_file()
    assert "aicd production gate" in (tmp_path / "demo" / "summary.md").read_text()
    assert LocalTarget(tmp_path / "demo" / "deploy").current() is not None
    state = json.loads((tmp_path / "demo" / "deploy" / "state.json").read_text())
    assert state["revisions"] and all(r["pid"] == 0 for r in state["revisions"])  # the demo stopped its server

"""Validate and monitor run from their own locks (requirements/validate.lock, monitor.lock), which lack
scikit-learn, MLflow and ONNX: each stage runs for real in a venv built from its lock by the script the
actions use, and must neither fail on a missing import nor import what the lock lacks."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sklearn", "mlflow", "onnx", "onnxruntime", "skl2onnx", "skops", "docker", "scipy", "pandas")
# Runs `aicd STAGE` in-process as aicd-action does (aicd/__main__.py's main; its leave, which ends the
# process without the interpreter's teardown, imports nothing), then reports which heavy modules were imported.
PROBE = """
import json, sys
sys.argv = ["aicd", *sys.argv[1:]]
from aicd.cli import main
try:
    code = main()
except SystemExit as exc:
    code = exc.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(HEAVY)))
print("PROBE " + json.dumps({"code": code, "heavy": heavy}))
"""


def stage_venv(stage: str) -> Path:
    """The venv aicd-action builds for ``stage`` (cached by the lock's hash, like every other venv)."""
    out = subprocess.run([str(ROOT / "shared/bin/aicd-venv"), str(ROOT / f"requirements/{stage}.lock")],
                         capture_output=True, text=True, check=True, timeout=600)
    return Path(out.stdout.strip())


def probe(stage: str, env: dict[str, str], cwd: Path) -> tuple[dict, str]:
    venv = stage_venv(stage)
    code = PROBE.replace("json.loads(HEAVY)", repr(list(HEAVY)))
    done = subprocess.run([str(venv / "bin/python"), "-P", "-c", code, stage], capture_output=True, text=True,
                          cwd=cwd, timeout=300,
                          env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
                               "PYTHONPATH": str(ROOT / "shared"), "PYTHONNOUSERSITE": "1", **env})
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("PROBE ")]
    assert lines, done.stdout + done.stderr
    return json.loads(lines[-1][6:]), done.stdout + done.stderr


@pytest.mark.parametrize(("stage", "lacks"), [("validate", ("sklearn", "mlflow", "onnx")),
                                             ("monitor", ("sklearn", "mlflow", "onnx")),
                                             ("deploy", ("sklearn", "scipy", "pandas", "pyarrow", "onnx"))])
def test_stage_lock_lacks_the_heavy_packages(stage, lacks):
    venv = stage_venv(stage)
    found = subprocess.run([str(venv / "bin/python"), "-c",
                            f"import importlib.util as u; print([m for m in {lacks!r} if u.find_spec(m)])"],
                           capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_validate_runs_from_its_lock(coffee, tmp_path):
    result, log = probe("validate", {"AICD_DATA": str(coffee["data"]), "AICD_CONFIG": str(coffee["config"]),
                                     "AICD_REFERENCE": str(coffee["reference"]),
                                     "AICD_REPORT": str(tmp_path / "validate.json")}, tmp_path)
    assert result == {"code": 0, "heavy": []}, log
    report = json.loads((tmp_path / "validate.json").read_text())
    assert report["passed"] is True and report["drift"], report


def test_aicd_action_runs_validate_from_its_lock(coffee, tmp_path):
    """The action's own entry point: Python's import log shows none of what validate.lock lacks."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1", "AICD_DATA": str(coffee["data"]),
           "AICD_REFERENCE": str(coffee["reference"]), "AICD_CONFIG": str(coffee["config"]),
           "AICD_REPORT": str(tmp_path / "validate.json")}
    done = subprocess.run([str(ROOT / "shared/bin/aicd-action"), "validate"], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines()
                if line.startswith("import time:")}
    assert "pyarrow" in imported and not imported & set(HEAVY), sorted(imported & set(HEAVY))


# Every drift method a stage offers, on small and large sides (CvM below 20,000 values, KS above), numeric
# and categorical (with a level the reference never saw), and the family judged by Holm: from the
# stage's own lock, so a method that imports what the lock lacks fails here, not in a user's step.
METHODS_PROBE = """
import json, sys
import numpy as np
from aicd.data.drift import BINNED, METHODS, RULES, Side, column_drift
from aicd.data.verdict import judge_family

rng = np.random.default_rng(1)
names = [*METHODS, *RULES] if sys.argv[1] == "validate" else list(BINNED)
done = {}
for size in (300, 30_000):
    numeric = (Side("numeric", size, sample=rng.normal(0, 1, size)),
               Side("numeric", size, sample=rng.normal(0.2, 1, size)))
    levels = (Side("categorical", size, counts={"a": size // 2, "b": size - size // 2}),
              Side("categorical", size, counts={"a": size // 3, "b": size // 3, "new": size - 2 * (size // 3)}))
    for name in names:
        results = [column_drift(f"{name}-{size}-{i}", ref, cur, name) for i, (ref, cur) in enumerate((levels, numeric))]
        judged = judge_family(results, 0.05)
        done[f"{name}-{size}"] = [bool(r.drifted) for r in judged]
print("METHODS " + json.dumps(done))
"""


@pytest.mark.parametrize("stage", ["validate", "monitor"])
def test_every_drift_method_a_stage_offers_runs_from_its_lock(stage):
    venv = stage_venv(stage)
    done = subprocess.run([str(venv / "bin/python"), "-P", "-c", METHODS_PROBE, stage], capture_output=True,
                          text=True, timeout=300, env={"PATH": os.environ["PATH"], "PYTHONNOUSERSITE": "1",
                                                       "PYTHONPATH": str(ROOT / "shared")})
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(next(ln for ln in done.stdout.splitlines() if ln.startswith("METHODS "))[8:])
    assert len(found) == 2 * (4 if stage == "monitor" else 10), found  # 8 methods and 2 rules; monitor: bins
    # a third of 30,000 rows in a level the reference never saw is drift by every method
    assert all(found[name][0] for name in found if name.endswith("-30000")), found


def test_validate_from_its_lock_judges_drift_by_the_default_rule(tmp_path):
    """The churn table (an id, a date, numeric usage, wide and narrow categoricals) against a shifted copy,
    with no drift method configured: the default rule (CvM/KS, chi-square, per-level tests) from validate.lock."""
    from aicd.examples.churn import churn_frame

    reference, current = churn_frame(3000, seed=1), churn_frame(3000, seed=2)
    current["usage_hours"] = current["usage_hours"] * 1.5
    reference.to_csv(tmp_path / "reference.csv", index=False)
    current.to_csv(tmp_path / "current.csv", index=False)
    (tmp_path / "aicd.yml").write_text("data:\n  label: churned\n  columns:\n    signup_date: {dtype: datetime}\n"
                                       "model:\n  name: churn\n  task: classification\n")
    result, log = probe("validate", {"AICD_DATA": str(tmp_path / "current.csv"),
                                     "AICD_REFERENCE": str(tmp_path / "reference.csv"),
                                     "AICD_CONFIG": str(tmp_path / "aicd.yml"),
                                     "AICD_REPORT": str(tmp_path / "validate.json")}, tmp_path)
    assert result["code"] in (0, 1) and "Traceback" not in log, log
    report = json.loads((tmp_path / "validate.json").read_text())
    methods = {d["column"]: d["method"] for d in report["drift"]}
    assert methods.get("usage_hours") == "homogeneity" and methods.get("plan") == "levels", methods
    assert [d["column"] for d in report["drift"] if d["drifted"]] == ["usage_hours"], report["drift"]


def test_monitor_runs_from_its_lock(tmp_path):
    """Against a model server's /metrics with too little traffic to judge: a real decision, no install."""
    body = (b'aicd_model_info{model="m",version="1",variant="stable"} 1\n'
            b'aicd_requests_total{route="predict",status="200"} 3\n'
            b'aicd_server_start_time_seconds 1\n')

    class Metrics(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result, log = probe("monitor", {"AICD_ENDPOINT": f"http://127.0.0.1:{server.server_port}",
                                        "AICD_REPORT": str(tmp_path / "monitor.json")}, tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    assert result["heavy"] == [] and result["code"] in (0, 1), log
    assert "Traceback" not in log and "installing" not in log, log
    assert (tmp_path / "monitor.json").is_file(), log


def test_registry_extra_matches_aicd_lock():
    """The on-demand sets install the versions train and deploy run (compiled against aicd.lock)."""
    def pins(name: str) -> dict[str, str]:
        text = (ROOT / f"requirements/{name}.lock").read_text()
        return dict(line.split(" ")[0].split("==") for line in text.splitlines() if "==" in line[:60]
                    and not line.startswith((" ", "#")))

    full = pins("aicd")
    for name in ("validate", "monitor", "deploy", "registry", "docker", "signing", "pandas"):
        assert {k: v for k, v in pins(name).items() if k in full and full[k] != v} == {}, name


def test_registry_installs_on_demand_into_a_stage_venv(tmp_path):
    """A validate venv of its own (not the cached one, which must stay without MLflow) opening the registry:
    registry.lock is installed with one line saying why, and MLflow's sqlite store then works."""
    env = {**os.environ, "AICD_CACHE_DIR": str(tmp_path / "cache")}
    venv = Path(subprocess.run([str(ROOT / "shared/bin/aicd-venv"), str(ROOT / "requirements/validate.lock")],
                               capture_output=True, text=True, check=True, timeout=600, env=env).stdout.strip())
    code = (f"from aicd.registry import MlflowRegistry; r = MlflowRegistry('sqlite:///{tmp_path}/mlflow.db'); "
            "print('versions', r.client.search_registered_models())")
    done = subprocess.run([str(venv / "bin/python"), "-c", code], capture_output=True, text=True, timeout=600,
                          env={**env, "PYTHONPATH": str(ROOT / "shared")}, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "installing mlflow, sqlalchemy, alembic for the model registry (registry.lock)" in done.stdout
    assert "versions []" in done.stdout


def test_full_python_is_the_aicd_lock_venv(action_venv):
    """What a monitor step starts a local model server with: the aicd.lock venv, not its own."""
    venv = stage_venv("monitor")
    code = "from aicd.installs import full_python; print(full_python())"
    done = subprocess.run([str(venv / "bin/python"), "-c", code], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "shared")})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == str(action_venv / "bin" / "python")


def test_validate_installs_pandas_for_the_checks_that_hash_or_evaluate_values(tmp_path):
    """data.keys, data.max-duplicate-rows and `expect` hash or evaluate values with pandas, which validate.lock
    lacks (they crashed in the action's venv): a validate venv of its own installs pandas.lock once, says
    so, and the checks then judge the data (here a repeated key, a repeated row and a failed expectation)."""
    import pandas as pd

    env = {**os.environ, "AICD_CACHE_DIR": str(tmp_path / "cache")}
    venv = Path(subprocess.run([str(ROOT / "shared/bin/aicd-venv"), str(ROOT / "requirements/validate.lock")],
                               capture_output=True, text=True, check=True, timeout=600, env=env).stdout.strip())
    rows = pd.DataFrame({"order_id": ["a1", "a2", "a3", "a3", "a5"], "items": [1, 2, 3, 3, -4]})
    rows.to_parquet(tmp_path / "orders.parquet")
    (tmp_path / "aicd.yml").write_text("data:\n  keys: [order_id]\n  max-duplicate-rows: 0\n  columns:\n"
                                       "    items: {dtype: int, expect: value > 0}\n")
    done = subprocess.run([str(venv / "bin/python"), "-P", "-m", "aicd", "validate"], capture_output=True,
                          text=True, timeout=600, cwd=tmp_path,
                          env={**env, "PYTHONPATH": str(ROOT / "shared"), "AICD_DATA": str(tmp_path / "orders.parquet"),
                               "AICD_CONFIG": str(tmp_path / "aicd.yml"), "AICD_REPORT": str(tmp_path / "v.json")})
    log = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in log, log
    assert "installing pandas for the key, duplicate-row and expect checks (pandas.lock)" in log
    failed = {c["name"] for c in json.loads((tmp_path / "v.json").read_text())["checks"] if not c["passed"]}
    assert {"unique", "duplicate-rows", "expect"} <= failed, failed

"""The pipeline workflow end to end under act (host mode), asserting every output of every step.

act runs `.github/workflows/coffee-example.yml`, which calls the reusable `aicd-pipeline.yml`, which
uses `org/aicd/action-*@v1` — mapped to this checkout with --local-repository, exactly as a user's
workflow would reference the released actions.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from aicd.datasets import content_hash, open_source
from aicd.deploy.local import LocalTarget
from tests import act_runner
from tests.conftest import FEEDBACK_TOKEN, ROOT

WORKFLOW = ".github/workflows/coffee-example.yml"


def run_act(inputs: dict[str, str], home: Path, timeout: float = 600,
            workflow: str = WORKFLOW) -> subprocess.CompletedProcess:
    return act_runner.run_act(workflow, inputs, home, timeout=timeout)


def pipeline_outputs(log: str) -> dict[str, str]:
    match = re.search(r"AICD_OUTPUTS=(\{.*\})", log)
    assert match, log[-3000:]
    return json.loads(match.group(1))


@pytest.fixture
def act_ready(action_venv, mlflow_server):
    """act's steps reuse the action venv built by the fixture (same lock, same cache)."""
    return mlflow_server


def test_the_pipeline_runs_under_act_and_every_output_checks_out(act_ready, tmp_path):
    """With the default (relative) state-dir and reports: they live in the act home, so the served
    revision, its state, the reports and the job summaries outlive the workspaces act deletes."""
    mlflow_server, home = act_ready, tmp_path / "act-home"
    state = home / ".aicd" / "deploy"
    try:
        proc = run_act({"tracking-uri": mlflow_server.uri}, home)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        out = pipeline_outputs(proc.stdout)
        assert set(out) == set(yaml.safe_load((ROOT / ".github/workflows/aicd-pipeline.yml").read_text())[True][
            "workflow_call"]["outputs"])
        assert out["validate-passed"] == out["train-passed"] == "true" and out["dataset-drifted"] == "false"
        assert json.loads(out["drifted-columns"]) == [] and out["reused"] == "false"
        assert out["model-name"] == "coffee-recommender" and out["deployed-model-version"] == out["model-version"]
        assert out["previous-revision"] == "" and float(out["ready-seconds"]) > 0
        assert out["image"] == out["digest"] == out["sbom"] == ""  # the local target builds no image
        assert out["rolled-back"] == "false" and out["promoted"] == "" and out["retrain-dispatched"] == "false"
        for report in ("validate-report", "html-report", "monitor-report"):
            assert Path(out[report]).is_relative_to(home) and Path(out[report]).is_file(), report
        summaries = sorted((home / "aicd-summaries").iterdir())
        assert len(summaries) == 4 and "## " in summaries[0].read_text()  # one per action step
        assert [s.stem.rsplit("-", 1)[1] for s in summaries] == ["validate", "train", "deploy", "monitor"]
        assert proc.stdout.count("job summary (act keeps none)") == 4 and "Summary - " not in proc.stdout
        assert LocalTarget(state).current().revision == 1  # the state survived act's cleanup
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        assert LocalTarget(state).current().commit == head
        assert f"| {head[:7]} |" in summaries[2].read_text()  # the deploy's revisions table names the commit
        assert out["data-version"] == content_hash(open_source(str(ROOT / "examples/coffee/data/user_behavior.csv")))
        assert 0 <= float(out["drift-score"]) < 0.1
        client = mlflow_server.client()
        run = client.get_run(out["run-id"])
        assert run.info.status == "FINISHED" and run.data.tags["aicd.data_version"] == out["data-version"]
        version = client.get_model_version("coffee-recommender", out["model-version"])
        assert out["model-uri"] == f"models:/coffee-recommender/{out['model-version']}"
        assert version.run_id == out["run-id"]
        metrics = json.loads(out["metrics"])
        assert metrics["accuracy"] >= 0.9 and metrics["accuracy"] == pytest.approx(run.data.metrics["accuracy"])
        with urllib.request.urlopen(f"{out['endpoint']}/healthz", timeout=10) as resp:
            assert json.loads(resp.read())["model_version"] == out["model-version"]
        assert out["revision"] == "1"
        evidence = json.loads(out["evidence"])
        assert out["decision"] == "hold" == evidence["decision"]  # no traffic yet: never promote on nothing
        assert "not enough samples" in evidence["reason"]
        assert evidence["model"]["version"] == out["model-version"]
    finally:
        LocalTarget(state).stop()


def test_missing_values_fail_the_data_gate_and_training_never_runs(act_ready, tmp_path):
    from aicd.examples.coffee import generate

    data = tmp_path / "user_behavior.csv"
    generate(1500, missing={"avg_spend": 0.10}).to_csv(data, index=False)
    before = len(act_ready.client().search_runs(
        [e.experiment_id for e in act_ready.client().search_experiments()]))
    proc = run_act({"tracking-uri": act_ready.uri, "data": str(data), "state-dir": str(tmp_path / "deploy")},
                   tmp_path / "act-home")
    assert proc.returncode != 0
    assert re.search(r"`avg_spend` is \d+\.\d% missing \(max 5\.0%\)", proc.stdout), proc.stdout[-3000:]
    assert "Job 'Data gate' failed" in proc.stdout + proc.stderr
    assert "[pipeline/aicd pipeline/Model gate]" not in proc.stdout  # the job never started
    after = len(act_ready.client().search_runs([e.experiment_id for e in act_ready.client().search_experiments()]))
    assert after == before


@pytest.mark.parametrize("payload", ['"; touch {marker} #', "$(touch {marker})", "`touch {marker}`"])
def test_shell_metacharacters_in_an_input_are_data(act_ready, tmp_path, payload):
    marker = Path("/tmp") / f"aicd-pwned-{uuid.uuid4().hex}"
    value = payload.format(marker=marker)
    proc = run_act({"tracking-uri": act_ready.uri, "data": value, "state-dir": str(tmp_path / "deploy")},
                   tmp_path / "act-home")
    assert proc.returncode != 0
    assert not marker.exists()
    assert "data file not found" in proc.stdout
    assert value in proc.stdout  # reported verbatim, as a file name


def test_the_scheduled_monitor_workflow_runs_under_act_against_prometheus(action_venv, prometheus, tmp_path):
    """coffee-monitor.yml → aicd-monitor.yml → action-monitor, reading a real Prometheus that scrapes a
    real model server which has answered real traffic."""
    import pandas as pd

    from aicd.examples.coffee import LABEL, generate
    from aicd.simulate import send_traffic
    from tests.integration.model_server import coffee_model_dir, start_model_server

    model_dir, sha = coffee_model_dir(tmp_path / "model")
    with start_model_server(model_dir, sha, tmp_path / "server.log", model_name="coffee-recommender",
                            model_version="4") as server:
        prometheus.set_targets([server.target])
        send_traffic(server.wait_ready(), pd.DataFrame(generate(300)), LABEL, requests=300, seed=5,
                     feedback_token=FEEDBACK_TOKEN)
        prometheus.wait_for('sum(aicd_feedback_total{model="coffee-recommender"})',
                            lambda r: r and float(r[0]["value"][1]) >= 300)
        proc = run_act({"prometheus-url": prometheus.url, "state-dir": str(tmp_path / "deploy")},
                       tmp_path / "act-home", workflow=".github/workflows/coffee-monitor.yml")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    out = pipeline_outputs(proc.stdout)
    evidence = json.loads(out["evidence"])
    assert out["decision"] == evidence["decision"] in ("promote", "hold")
    assert evidence["source"] == f"Prometheus at {prometheus.url}"
    assert evidence["model"]["name"] == "coffee-recommender" and evidence["model"]["version"] == "4"
    assert evidence["samples"]["served"]["feedback"] == 300
    assert {c["metric"] for c in evidence["checks"]} == {"online-accuracy", "error-rate", "latency-p95"}
    assert out["rolled-back"] == "false" and out["retrain-dispatched"] == "false"

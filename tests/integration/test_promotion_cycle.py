"""The cycle the README documents, in process against a real MLflow server and real model servers: the
pipeline deploys and its immediate production gate holds (no samples yet, so no champion); the
scheduled monitor, once the delayed labels are in, promotes; the next training run compares with that
champion on its holdout."""

import json

from aicd.datasets import read_frame
from aicd.errors import GateFailed
from aicd.gha import Actions
from aicd.simulate import send_traffic
from aicd.steps import deploy, monitor, train, validate
from tests.conftest import FEEDBACK_TOKEN, STEP_ENV

MODEL = "promotion-cycle"  # a registered model of its own: the MLflow server is shared by the session


def pipeline(coffee, mlflow_server, deploy_dir, tmp_path):
    """What aicd-pipeline.yml runs: data gate, model gate, release, the immediate production gate with
    its defaults (on-success: promote, on-failure: rollback). Returns the outputs of train, deploy, monitor."""
    gh = Actions({"GITHUB_STEP_SUMMARY": str(tmp_path / "summary-1.md")})
    v = validate.run({"data": str(coffee["data"]), "config": str(coffee["config"]),
                      "reference": str(coffee["reference"]), "report": str(tmp_path / "v.json")}, gh)
    t = train.run({"data": str(coffee["data"]), "config": str(coffee["config"]), "data-version": v["data-version"],
                   "tracking-uri": mlflow_server.uri, "model-name": MODEL}, gh, env=STEP_ENV)
    d = deploy.run({"model-uri": t["model-uri"], "tracking-uri": mlflow_server.uri, "state-dir": str(deploy_dir),
                    "feedback-token": FEEDBACK_TOKEN}, gh, env=STEP_ENV)
    return t, d, scheduled_monitor(coffee, d["endpoint"], mlflow_server, deploy_dir, tmp_path / "m.json", gh)


def scheduled_monitor(coffee, endpoint, mlflow_server, deploy_dir, report, gh=None):
    """What aicd-monitor.yml runs in coffee-monitor.yml (on-success: promote, on-failure: rollback)."""
    gh = gh or Actions({})
    return monitor.run({"endpoint": endpoint, "config": str(coffee["config"]), "state-dir": str(deploy_dir),
                        "on-failure": "rollback", "on-success": "promote", "tracking-uri": mlflow_server.uri,
                        "report": str(report)}, gh, env=STEP_ENV)


def test_deploy_then_the_scheduled_monitor_promotes_and_the_next_training_compares_with_that_champion(
        mlflow_server, coffee, deploy_dir, tmp_path):
    client = mlflow_server.client()
    first, release, gate = pipeline(coffee, mlflow_server, deploy_dir, tmp_path)
    assert "No champion yet" in (tmp_path / "summary-1.md").read_text()
    assert gate["decision"] == "hold" and gate["promoted"] == ""  # right after the deploy nothing is measured
    assert "not enough samples" in json.loads(gate["evidence"])["reason"]
    assert "champion" not in client.get_registered_model(MODEL).aliases

    send_traffic(release["endpoint"], read_frame(str(coffee["production"])), "clicked", requests=600, seed=3,
                 feedback_token=FEEDBACK_TOKEN)
    later = scheduled_monitor(coffee, release["endpoint"], mlflow_server, deploy_dir, tmp_path / "scheduled.json")
    assert later["decision"] == "promote", later["evidence"]
    assert later["promoted"] == first["model-uri"]
    assert client.get_model_version_by_alias(MODEL, "champion").version == first["model-version"]

    # new data (a new data-version, so a new model), the same model gate: it meets the champion on its holdout
    log = tmp_path / "log-2.txt"
    with log.open("w") as stream:
        gh = Actions({"GITHUB_STEP_SUMMARY": str(tmp_path / "summary-2.md")}, stream)
        try:
            second = train.run({"data": str(coffee["reference"]), "config": str(coffee["config"]),
                                "tracking-uri": mlflow_server.uri, "model-name": MODEL}, gh, env=STEP_ENV)
            refused = ""
        except GateFailed as failed:  # a model that is not non-inferior to the champion is refused: also the cycle
            second, refused = {}, str(failed)
    assert f"comparing with champion version {first['model-version']}" in log.read_text()
    assert f"Compared with champion version {first['model-version']}" in (tmp_path / "summary-2.md").read_text()
    assert second.get("reused") == "false" or "accuracy vs champion" in refused
    assert client.get_model_version_by_alias(MODEL, "champion").version == first["model-version"]

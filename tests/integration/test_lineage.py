"""Lineage on a real MLflow server: the run's dataset input, the version's deployments, ``aicd lineage``."""

from __future__ import annotations

import json

from aicd.gha import Actions
from aicd.steps import deploy, train
from tests.conftest import FEEDBACK_TOKEN, STEP_ENV, run_aicd


def test_which_data_made_the_model_that_serves(mlflow_server, coffee, deploy_dir, tmp_path):
    gh = Actions({})
    t = train.run({"data": str(coffee["data"]), "config": str(coffee["config"]), "tracking-uri": mlflow_server.uri,
                   "model-name": "lineage-coffee"}, gh, env={**STEP_ENV, "GITHUB_SHA": "a1b2c3d4e5f6a7b8"})
    run = mlflow_server.client().get_run(t["run-id"])
    (dataset,) = [i.dataset for i in run.inputs.dataset_inputs]
    version = run.data.tags["aicd.data_version"]
    assert dataset.digest == version and dataset.name == "user_behavior" and dataset.source_type == "local"
    assert json.loads(dataset.source) == {"kind": "file", "uri": str(coffee["data"])}
    assert "clicked" in dataset.schema and json.loads(dataset.profile)["num_rows"] == 3000

    base = {"tracking-uri": mlflow_server.uri, "state-dir": str(deploy_dir), "feedback-token": FEEDBACK_TOKEN,
            "model-uri": t["model-uri"]}
    deploy.run(base, gh, env=STEP_ENV)
    deploy.run(base, gh, env=STEP_ENV)  # the same version again: a second revision of it
    result = run_aicd("lineage", t["model-uri"], "--tracking-uri", mlflow_server.uri, "--json")
    assert result.code == 0, result.output
    found = json.loads(result.stdout)
    assert found["run_id"] == t["run-id"] and found["commit"] == "a1b2c3d4e5f6a7b8"
    assert found["data"][0]["data_version"] == version and found["data"][0]["uri"] == str(coffee["data"])
    assert [(d["target"], d["revision"], d["command"]) for d in found["deployments"]] == \
        [("local", 1, "deploy"), ("local", 2, "deploy")]
    text = run_aicd("lineage", "models:/lineage-coffee@candidate", "--tracking-uri", mlflow_server.uri)
    assert text.code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[0].startswith(f"data      {version}  {coffee['data']}")
    assert lines[1].startswith(f"run       {t['run-id']}  commit a1b2c3d4e5f6")
    assert lines[2] == f"model     {t['model-uri']}  (gate passed)"
    assert [line.split(", deploy at ")[0] for line in lines[3:]] == [
        f"revision  r{n}  the deployment in {deploy_dir} (local)" for n in (1, 2)]


def test_lineage_of_a_missing_version_is_one_line(mlflow_server):
    result = run_aicd("lineage", "models:/no-such-model/7", "--tracking-uri", mlflow_server.uri)
    assert result.code == 1 and "Traceback" not in result.output
    assert [line for line in result.output.splitlines() if line.startswith("error:")], result.output

"""action-train against a real MLflow server: register on pass, nothing on fail, clear errors."""

import json
import time

import pytest

from aicd.datasets import content_hash, open_source
from aicd.errors import GateFailed, ServiceError
from aicd.gha import Actions
from aicd.registry import MlflowRegistry
from aicd.steps import train
from tests.conftest import STEP_ENV
from tests.integration.conftest import free_port


def gh(tmp_path):
    return Actions({"GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "GITHUB_OUTPUT": str(tmp_path / "out")})


def test_a_passing_model_is_logged_registered_and_aliased(mlflow_server, coffee, tmp_path):
    before = mlflow_server.version_count("coffee-recommender")
    out = train.run({"data": str(coffee["data"]), "config": str(coffee["config"]),
                     "tracking-uri": mlflow_server.uri}, gh(tmp_path), env={"GITHUB_SHA": "abc123"})
    client = mlflow_server.client()
    version = client.get_model_version("coffee-recommender", out["model-version"])
    assert out["model-uri"] == f"models:/coffee-recommender/{out['model-version']}"
    assert mlflow_server.version_count("coffee-recommender") == before + 1
    assert client.get_model_version_by_alias("coffee-recommender", "candidate").version == out["model-version"]
    run = client.get_run(out["run-id"])
    assert run.info.status == "FINISHED" and version.run_id == out["run-id"]
    assert run.data.tags["aicd.data_version"] == content_hash(open_source(str(coffee["data"])))
    assert run.data.tags["aicd.git_sha"] == "abc123"
    assert json.loads(out["metrics"])["accuracy"] == pytest.approx(run.data.metrics["accuracy"])
    assert run.data.metrics["accuracy"] >= 0.9
    assert run.data.params["estimator"] == "sklearn.ensemble.RandomForestClassifier"
    summary = (tmp_path / "summary.md").read_text()
    assert "aicd model gate — passed" in summary and out["model-uri"] in summary


def test_a_model_below_threshold_registers_nothing(mlflow_server, coffee, tmp_path):
    strict = tmp_path / "aicd.yml"
    strict.write_text(coffee["config"].read_text().replace("accuracy: 0.9 ", "accuracy: 0.99 "))
    before = mlflow_server.version_count("coffee-recommender")
    with pytest.raises(GateFailed, match="accuracy"):
        train.run({"data": str(coffee["data"]), "config": str(strict), "tracking-uri": mlflow_server.uri},
                  gh(tmp_path), env={})
    assert mlflow_server.version_count("coffee-recommender") == before
    runs = mlflow_server.client().search_runs(
        [mlflow_server.client().get_experiment_by_name("coffee-recommender").experiment_id],
        "tags.`aicd.gate` = 'failed'")
    assert runs and runs[0].info.status == "FINISHED"
    assert "Nothing was registered" in (tmp_path / "summary.md").read_text()


def test_an_unreachable_tracking_server_fails_fast_and_names_it(coffee, tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(ServiceError) as info:
        train.run({"data": str(coffee["data"]), "config": str(coffee["config"]), "tracking-uri": uri},
                  gh(tmp_path), env={})
    assert time.monotonic() - started < 15
    assert f"MLflow at {uri}" in str(info.value) and "unreachable" in str(info.value)


def test_a_fetched_model_is_checked_against_its_registered_checksum(mlflow_server, coffee, tmp_path):
    out = train.run({"data": str(coffee["data"]), "config": str(coffee["config"]),
                     "tracking-uri": mlflow_server.uri}, gh(tmp_path), env={})
    registry = MlflowRegistry(mlflow_server.uri)
    model_dir, meta = registry.fetch_model("models:/coffee-recommender@candidate", tmp_path / "fetched")
    assert meta["model_version"] == out["model-version"] and meta["run_id"] == out["run-id"]
    assert (model_dir / "model.skops").is_file()
    mlmodel = (model_dir / "MLmodel").read_text()
    assert "signature:" in mlmodel and '"name": "coffee_price"' in mlmodel  # signature from the input example
    assert (model_dir / "input_example.json").is_file()
    assert meta["features"][0] == "age"
    profile = json.loads((model_dir / "reference_profile.json").read_text())
    assert set(profile) == set(meta["features"]) and profile["age"]["kind"] == "numeric"


def test_what_a_failed_training_job_registered_is_taken_back_and_a_reused_run_is_left_alone(mlflow_server, coffee,
                                                                                            tmp_path):
    """The cleanup of model.runner: kubernetes, against the real server: versions of the runs a Job created
    (tag aicd.job) go, the run is marked FAILED; a version a Job only reused (aicd.reused_by_job) stays."""
    name, job_id = "job-takeback", "aicd-acme/job-takeback-train-1a2b3c"
    env = {**STEP_ENV, "AICD_TRAINING_JOB": job_id}
    registry = MlflowRegistry(mlflow_server.uri)
    reused = train.run({"data": str(coffee["data"]), "config": str(coffee["config"]),
                        "tracking-uri": mlflow_server.uri, "model-name": name}, Actions({}), env=STEP_ENV)
    client = mlflow_server.client()
    client.set_tag(reused["run-id"], "aicd.reused_by_job", job_id)
    made = train.run({"data": str(coffee["data"]), "config": str(coffee["config"]), "tracking-uri": mlflow_server.uri,
                      "model-name": name, "data-version": "other-data"}, Actions({}), env=env)
    assert client.get_run(made["run-id"]).data.tags["aicd.job"] == job_id
    assert registry.job_result(name, job_id)[0]["model-uri"] == made["model-uri"]
    removed, checked = registry.discard_job(name, job_id)
    assert checked and removed == [made["model-version"]]
    assert [v.version for v in client.search_model_versions(f"name = '{name}'")] == [reused["model-version"]]
    assert client.get_run(made["run-id"]).info.status == "FAILED"
    assert registry.discard_job(name, job_id) == ([], True)  # idempotent

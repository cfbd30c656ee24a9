"""The model gate against a real MLflow server: champion/challenger, idempotency, faults, tenants, auth."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
import time

import pytest

from aicd.errors import ConfigError, GateFailed, ServiceError
from aicd.gha import Actions
from aicd.registry import MlflowRegistry
from aicd.steps import train
from aicd.steps.promote import promote
from tests.integration.conftest import MlflowServer, free_port, wait_http

BASE = """data:
  label: clicked
model:
  name: {name}
  estimator: {estimator}
  params: {params}
  thresholds: {{accuracy: {threshold}}}
  compare: {{margin: 0.03}}
"""
FOREST = "sklearn.ensemble.RandomForestClassifier"


def config(tmp_path, name, estimator=FOREST, params="{n_estimators: 60, max_depth: 12, random_state: 0}",
           threshold=0.9, extra=""):
    path = tmp_path / f"{name}-{abs(hash((estimator, params, threshold, extra)))}.yml"
    path.write_text(BASE.format(name=name, estimator=estimator, params=params, threshold=threshold) + extra)
    return path


def run_train(server, data, cfg, tmp_path, sha="c0ffee", tenant="", env=None, progress=lambda p: None,
              **extra):
    summary = tmp_path / f"summary-{time.monotonic_ns()}.md"
    gh = Actions({"GITHUB_STEP_SUMMARY": str(summary)}, io.StringIO())
    inputs = {"data": str(data), "config": str(cfg), "tracking-uri": server.uri, "tenant": tenant, **extra}
    try:
        return train.run(inputs, gh, env={"GITHUB_SHA": sha, **(env or {})}, progress=progress), summary
    except GateFailed as exc:
        exc.summary = summary.read_text()
        raise


def test_promotion_flow_over_three_versions(mlflow_server, coffee, tmp_path):
    name = "flow"
    registry = MlflowRegistry(mlflow_server.uri)
    first, summary = run_train(mlflow_server, coffee["data"], config(tmp_path, name), tmp_path)
    assert "No champion yet: gated on thresholds alone" in summary.read_text()
    promote(registry, "", first["model-uri"], Actions({}, io.StringIO()))
    assert registry.alias_version(name, "champion") == first["model-version"]

    # A differently seeded forest: statistically the same model → non-inferior → accepted.
    second, summary = run_train(mlflow_server, coffee["data"], config(
        tmp_path, name, params="{n_estimators: 60, max_depth: 12, random_state: 1}"), tmp_path)
    text = summary.read_text()
    assert f"Compared with champion version {first['model-version']}" in text
    assert "non-inferior" in text or "superior" in text
    promote(registry, "", second["model-uri"], Actions({}, io.StringIO()))
    assert registry.alias_version(name, "champion") == second["model-version"]
    assert registry.alias_version(name, "previous-champion") == first["model-version"]

    # A much weaker model that still clears a lax threshold: refused by the comparison, with its interval.
    before = registry.versions(name)
    weak = config(tmp_path, name, estimator="sklearn.tree.DecisionTreeClassifier",
                  params="{max_depth: 2, random_state: 0}", threshold=0.5)
    with pytest.raises(GateFailed, match=r"accuracy vs champion: difference -0\.\d+, interval \[-0\.\d+, -0\.\d+\]"):
        run_train(mlflow_server, coffee["data"], weak, tmp_path)
    assert registry.versions(name) == before
    assert registry.alias_version(name, "champion") == second["model-version"]


def champion_and_weak_config(mlflow_server, coffee, tmp_path, name):
    """A forest trained and promoted to champion, and the config of a much weaker tree that still clears
    a lax threshold (so only the champion comparison refuses it): (registry, champion outputs, config)."""
    registry = MlflowRegistry(mlflow_server.uri)
    first, _ = run_train(mlflow_server, coffee["data"], config(tmp_path, name), tmp_path)
    promote(registry, "", first["model-uri"], Actions({}, io.StringIO()))
    weak = config(tmp_path, name, estimator="sklearn.tree.DecisionTreeClassifier",
                  params="{max_depth: 2, random_state: 0}", threshold=0.5)
    return registry, first, weak


def test_a_worse_model_can_be_registered_on_purpose_as_a_challenger_never_a_candidate(mlflow_server, coffee,
                                                                                     tmp_path):
    """on-failure: register — the way to canary a model the gate refuses: registered with alias challenger
    and tag aicd.gate=failed, the step passes with passed=false; the comparison stays in the summary."""
    name = "challenged"
    registry, first, weak = champion_and_weak_config(mlflow_server, coffee, tmp_path, name)
    out, summary = run_train(mlflow_server, coffee["data"], weak, tmp_path, **{"on-failure": "register"})
    assert out["passed"] == "false" and out["model-uri"] == f"models:/{name}/{out['model-version']}"
    assert registry.alias_version(name, "challenger") == out["model-version"]
    assert registry.alias_version(name, "candidate") == first["model-version"]  # untouched
    assert registry.alias_version(name, "champion") == first["model-version"]
    text = summary.read_text()
    assert "aicd model gate — failed" in text and "registered **" in text and "alias `challenger`" in text
    assert "inferior" in text  # the champion comparison, as it was
    again, _ = run_train(mlflow_server, coffee["data"], weak, tmp_path, **{"on-failure": "register"})
    assert (again["reused"], again["passed"], again["model-version"]) == ("true", "false", out["model-version"])
    with pytest.raises(GateFailed, match="nothing was registered"):  # without the flag: refused, not reused
        run_train(mlflow_server, coffee["data"], weak, tmp_path)
    with pytest.raises(ConfigError, match="on-failure"):
        run_train(mlflow_server, coffee["data"], weak, tmp_path, **{"on-failure": "ignore"})
    promote(registry, "", out["model-uri"], Actions({}, io.StringIO()))  # it won its canary
    assert registry.alias_version(name, "champion") == out["model-version"]
    assert registry.alias_version(name, "challenger") is None


def test_the_refusal_summary_shows_metric_threshold_champion_difference_interval_verdict(
        mlflow_server, coffee, tmp_path):
    name = "explained"
    _, _, weak = champion_and_weak_config(mlflow_server, coffee, tmp_path, name)
    with pytest.raises(GateFailed) as info:
        run_train(mlflow_server, coffee["data"], weak, tmp_path)
    summary = info.value.summary
    header = "| metric | candidate | threshold | champion | difference | interval | verdict |"
    assert header in summary
    row = next(line for line in summary.splitlines() if line.startswith("| accuracy |"))
    cells = [re.sub(r"\\(.)", r"\1", c.strip()) for c in row.strip("|").split("|")]  # undo Markdown escapes
    assert cells[2] == ">= 0.5" and float(cells[3]) > float(cells[1])
    assert cells[4].startswith("-") and "inferior" in cells[5] and cells[6] == "❌"


def test_an_identical_rerun_reuses_the_version(mlflow_server, coffee, tmp_path):
    cfg = config(tmp_path, "idempotent")
    first, _ = run_train(mlflow_server, coffee["data"], cfg, tmp_path, sha="abc")
    again, summary = run_train(mlflow_server, coffee["data"], cfg, tmp_path, sha="abc")
    assert again["reused"] == "true" and again["model-uri"] == first["model-uri"]
    assert again["run-id"] == first["run-id"] and again["metrics"] == first["metrics"]
    assert "aicd model gate — reused" in summary.read_text()
    assert MlflowRegistry(mlflow_server.uri).versions("idempotent") == [first["model-version"]]
    other, _ = run_train(mlflow_server, coffee["data"], cfg, tmp_path, sha="def")  # a new commit trains again
    assert other["reused"] == "false" and other["model-version"] != first["model-version"]


@pytest.fixture
def restartable_mlflow(tmp_path):
    server = MlflowServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("phase", ["model-logged", "version-registered", "alias-set"])
def test_mlflow_killed_mid_run_leaves_a_failed_run_and_no_version(restartable_mlflow, coffee, tmp_path, phase):
    server = restartable_mlflow
    cfg = config(tmp_path, "faulty")
    restarter = threading.Timer(6.0, server.start)

    def kill_at(reached):
        if reached == phase:
            server.stop()
            restarter.start()  # back after the step's retry budget (2 s) has run out

    with pytest.raises(ServiceError, match="failed after retrying"):
        run_train(server, coffee["data"], cfg, tmp_path, env={"AICD_MLFLOW_RETRY_SECONDS": "2"}, progress=kill_at)
    restarter.join()
    wait_http(f"{server.uri}/health", 60)
    client = server.client()
    runs = client.search_runs([client.get_experiment_by_name("faulty").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]
    assert client.search_model_versions("name='faulty'") == []


def test_a_registration_whose_answer_was_lost_is_not_made_twice(mlflow_server):
    """The server registered the version but the answer never arrived: the retry finds it by run id."""
    registry = MlflowRegistry(mlflow_server.uri)
    client = mlflow_server.client()
    client.create_registered_model("lost-answer")
    run = client.create_run(client.create_experiment("lost-answer"))
    real, calls = registry.client.create_model_version, []

    def answer_lost_once(*args, **kwargs):
        calls.append(args)
        made = real(*args, **kwargs)
        if len(calls) == 1:
            raise ConnectionError("connection reset by peer")  # after the server did the work
        return made

    registry.client.create_model_version = answer_lost_once
    version = registry._call("registering the model version", registry._create_version_once, "lost-answer",
                             run.info.artifact_uri + "/model", run.info.run_id, {})
    assert str(version.version) == "1" and len(calls) == 1
    assert registry.versions("lost-answer") == ["1"]


def test_transient_outage_is_ridden_out_by_retries(restartable_mlflow, coffee, tmp_path):
    server = restartable_mlflow
    restarter = threading.Timer(1.0, server.start)

    def blip(reached):
        if reached == "model-logged":
            server.stop()
            restarter.start()

    out, _ = run_train(server, coffee["data"], config(tmp_path, "blip"), tmp_path, progress=blip)
    restarter.join()
    assert out["model-version"] == "1"
    assert server.client().get_run(out["run-id"]).info.status == "FINISHED"


def test_two_tenants_side_by_side(mlflow_server, coffee, tmp_path):
    cfg = config(tmp_path, "shared-name")
    a, _ = run_train(mlflow_server, coffee["data"], cfg, tmp_path, tenant="acme")
    b, _ = run_train(mlflow_server, coffee["data"], cfg, tmp_path, tenant="globex")
    assert a["model-name"] == "acme__shared-name" and b["model-name"] == "globex__shared-name"
    registry = MlflowRegistry(mlflow_server.uri)
    promote(registry, "acme", a["model-uri"], Actions({}, io.StringIO()))
    with pytest.raises(ConfigError, match="does not belong to tenant 'acme'"):
        promote(registry, "acme", b["model-uri"], Actions({}, io.StringIO()))
    assert registry.alias_version("globex__shared-name", "champion") is None
    assert registry.alias_version("acme__shared-name", "champion") == a["model-version"]
    for bad in ("../globex", "Acme", "a__b", "x" * 41):
        with pytest.raises(ConfigError, match="not a valid tenant id"):
            run_train(mlflow_server, coffee["data"], cfg, tmp_path, tenant=bad)


@pytest.fixture(scope="module")
def auth_mlflow(tmp_path_factory):
    """A real MLflow server with the basic-auth app (admin password set here)."""
    root = tmp_path_factory.mktemp("mlflow-auth")
    port = free_port()
    env = {**os.environ, "MLFLOW_AUTH_ADMIN_PASSWORD": "s3cret-Adm1n", "MLFLOW_FLASK_SERVER_SECRET_KEY": "test",
           "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    cmd = [str(sys.executable.rsplit("/", 1)[0] + "/mlflow"), "server", "--app-name", "basic-auth",
           "--backend-store-uri", f"sqlite:///{root / 'db'}", "--artifacts-destination", str(root / "artifacts"),
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with open(root / "log", "ab") as log:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", 90, proc, root / "log")
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(15)


def test_wrong_credentials_fail_at_once_and_are_masked(auth_mlflow, coffee, tmp_path):
    stream = io.StringIO()
    gh = Actions({"GITHUB_ACTIONS": "true"}, stream)
    env = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": "wrong-password"}
    started = time.monotonic()
    with pytest.raises(ServiceError) as info, _env(env):
        train.run({"data": str(coffee["data"]), "config": str(config(tmp_path, "guarded")),
                   "tracking-uri": auth_mlflow}, gh, env=env)
    assert time.monotonic() - started < 10
    assert "authentication or permission refused" in str(info.value) and not info.value.retryable
    assert "::add-mask::wrong-password" in stream.getvalue()


def test_right_credentials_register(auth_mlflow, coffee, tmp_path):
    env = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": "s3cret-Adm1n"}
    with _env(env):
        out = train.run({"data": str(coffee["data"]), "config": str(config(tmp_path, "guarded")),
                         "tracking-uri": auth_mlflow}, Actions({}, io.StringIO()), env=env)
    assert out["model-version"] == "1"


class _env:
    """MLflow's client reads credentials from os.environ; set them for one block only."""

    def __init__(self, values):
        self.values, self.saved = values, {}

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in self.values}
        os.environ.update(self.values)

    def __exit__(self, *exc):
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

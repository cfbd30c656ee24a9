"""action-monitor against a real Prometheus scraping real model servers.

Every test runs two (or one) ``python -m aicd.serve`` processes with the coffee model, sends real
predictions and delayed feedback over HTTP, lets a real Prometheus scrape them (1 s interval) and runs
the monitor step reading Prometheus's HTTP API. The worse canary is "worse under simulated feedback":
a share of its delayed labels says the prediction was wrong, exactly what a worse model produces.
The executed rollback aborts a canary rollout on the real Kubernetes control plane
(tests/integration/kube_infra.py); kwok does not run containers, so the servers that Prometheus
scrapes stand in for the canary's pods.
"""

import json
import re
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from aicd.config import CanaryConfig, KubernetesConfig
from aicd.deploy.kube.target import KubeTarget
from aicd.deploy.target import Candidate
from aicd.errors import GateFailed, ServiceError, UserError
from aicd.examples import coffee as coffee_example
from aicd.gha import Actions
from aicd.simulate import send_traffic
from aicd.steps import monitor
from tests.conftest import FEEDBACK_TOKEN, STEP_ENV
from tests.integration.model_server import coffee_model_dir, coffee_regressor_dir, start_model_server
from tests.integration.prom_infra import PrometheusServer

CONFIG = """\
monitor:
  min-samples: 100
  min-accuracy: 0.7   # the small test model scores about 0.8 on this traffic
deploy:
  kubernetes: {replicas: 10, strategy: canary, canary: {steps: [10, 50, 100]}, progress-deadline-seconds: 20}
"""


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    """One Prometheus for the module; each test scrapes its own servers under its own model name."""
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return coffee_model_dir(tmp_path_factory.mktemp("model") / "coffee")


@pytest.fixture(scope="module")
def production(coffee):
    return pd.read_csv(coffee["production"])


@pytest.fixture
def servers(model, prom, tmp_path, request):
    """``servers(variant=version, ...)`` starts one model server per variant, all scraped by ``prom``."""
    started = []
    name = "gate-" + request.node.name[5:30].replace("_", "-").strip("-")

    def start(**variants: str) -> dict:
        urls = {}
        for variant, version in variants.items():
            proc = start_model_server(*model, tmp_path / f"{variant}.log", variant=variant, model_name=name,
                                      model_version=version)
            started.append(proc)
            urls[variant] = proc.wait_ready()
        prom.set_targets([p.target for p in started])
        prom.wait_for(f'count(aicd_model_info{{model="{name}"}})', lambda r: r and float(r[0]["value"][1]) ==
                      len(started), timeout=30)
        return urls

    start.model = name
    yield start
    prom.set_targets([])
    for proc in started:
        proc.stop()


def scraped(prom, model: str, feedback: int) -> None:
    """Waits until Prometheus holds the final feedback count of ``model``."""
    prom.wait_for(f'sum(aicd_feedback_total{{model="{model}"}})',
                  lambda r: r and float(r[0]["value"][1]) >= feedback, timeout=30)


def gate(prom, tmp_path, model: str, **inputs) -> tuple[dict, str]:
    config = tmp_path / "aicd.yml"
    config.write_text(CONFIG)
    summary = tmp_path / "summary.md"
    env = {**STEP_ENV, **inputs.pop("env", {})}
    try:
        outputs = monitor.run({"prometheus-url": prom.url, "model": model, "config": str(config),
                               "report": str(tmp_path / "monitor.json"), **inputs},
                              Actions({"GITHUB_STEP_SUMMARY": str(summary)}), env=env)
    except GateFailed as refused:  # a rollback decision fails the step (exit 1); its outputs are published
        outputs = {**refused.outputs, "step-failed": "true"}
    return outputs, summary.read_text() if summary.exists() else ""


def test_a_worse_canary_is_rolled_back_and_the_rollout_aborted(servers, prom, production, tmp_path, kube_cluster):
    kube_cluster.create_namespace("gate-canary")
    cfg = replace(KubernetesConfig(), replicas=10, strategy="canary", canary=CanaryConfig(steps=(10, 50, 100)))
    kube = KubeTarget(kube_cluster.api(), servers.model, "gate-canary", cfg, poll=0.25)
    for version in ("1", "2"):
        canary_started = kube.deploy(Candidate(f"models:/{servers.model}/{version}", Path("/nonexistent"),
                                               {"model_version": version, "run_id": ""},
                                               f"registry.example/coffee:{version}-abc"))
    assert "canary" in canary_started.state

    urls = servers(stable="1", canary="2")
    send_traffic(urls["stable"], production, coffee_example.LABEL, requests=300, seed=1, feedback_token=FEEDBACK_TOKEN)
    send_traffic(urls["canary"], production, coffee_example.LABEL, requests=300, seed=2, flip_share=0.4,
                 feedback_token=FEEDBACK_TOKEN)
    scraped(prom, servers.model, 600)

    out, summary = gate(prom, tmp_path, servers.model, compare="canary", **{
        "on-failure": "rollback", "target": "kubernetes", "kubeconfig": str(kube_cluster.kubeconfig),
        "namespace": "gate-canary"})
    assert out["decision"] == "rollback" and out["rolled-back"] == "true" and out["step-failed"] == "true"
    evidence = json.loads(out["evidence"])
    failed = {(c["metric"], c["test"]) for c in evidence["checks"] if c["verdict"] == "fail"}
    assert ("online-accuracy", "vs stable") in failed
    assert evidence["samples"]["canary"]["feedback"] == 300 and evidence["samples"]["stable"]["feedback"] == 300
    assert "canary aborted" in evidence["rolled_back"]
    state = kube.status()
    assert not state.get("phase")  # no canary in progress any more
    deployments = {d["metadata"]["name"] for d in kube_cluster.api().list("Deployment", "gate-canary")}
    assert f"{servers.model}-canary" not in deployments
    assert "| test | stable | canary | difference | interval | threshold | samples (smaller side) | verdict |" \
        in summary
    assert "**Rolled back:**" in summary and "— rollback, carried out" in summary
    assert "| feedback labels | 300 | 300 |" in summary and "Confidence 0.99 family-wise" in summary
    assert "since canary started" in summary


def test_a_canary_of_the_same_model_is_never_rolled_back_however_often_the_gate_looks(
        servers, prom, production, tmp_path):
    urls = servers(stable="1", canary="2")
    decisions = []
    for look in range(4):
        for variant, url in urls.items():
            send_traffic(url, production, coffee_example.LABEL, requests=100, seed=10 * look + len(variant),
                         feedback_token=FEEDBACK_TOKEN)
        scraped(prom, servers.model, 200 * (look + 1))
        out, _ = gate(prom, tmp_path, servers.model, compare="canary", **{"on-failure": "rollback"})
        decisions.append(out["decision"])
    assert "rollback" not in decisions, decisions
    assert decisions[-1] in ("hold", "promote")


def test_low_traffic_holds_and_says_not_enough_samples(servers, prom, production, tmp_path):
    urls = servers(stable="1", canary="2")
    for url in urls.values():
        send_traffic(url, production, coffee_example.LABEL, requests=20, seed=3, feedback_token=FEEDBACK_TOKEN)
    scraped(prom, servers.model, 40)
    out, summary = gate(prom, tmp_path, servers.model, compare="canary", **{"on-failure": "rollback"})
    assert out["decision"] == "hold" and out["rolled-back"] == "false"
    assert "not enough samples" in json.loads(out["evidence"])["reason"]
    assert "not enough samples: 20 feedback labels of 100 needed" in summary


def test_drifted_traffic_sends_a_retrain_event_with_the_evidence(servers, prom, production, tmp_path,
                                                                 fake_github):
    url = servers(stable="3")["stable"]
    drifted = production[production["preferred_roast"] == "dark"]  # one roast only: its share jumps to 100 %
    send_traffic(url, drifted, coffee_example.LABEL, requests=600, seed=4, feedback_token=FEEDBACK_TOKEN)
    scraped(prom, servers.model, 600)
    out, summary = gate(prom, tmp_path, servers.model, **{
        "on-drift": "retrain", "github-token": fake_github.token, "repository": fake_github.repository,
        "env": {"GITHUB_API_URL": fake_github.api_url}})
    assert out["decision"] == "retrain" and out["retrain-dispatched"] == "true"
    assert fake_github.violations == []
    [(event_type, payload)] = fake_github.events
    assert event_type == "aicd-retrain"
    assert payload["model"] == servers.model and payload["version"] == "3"
    drifted_features = {d["metric"] for d in payload["drift"]}
    assert "drift:preferred_roast" in drifted_features
    assert all(d["candidate"] > 0.1 for d in payload["drift"])  # KL above the story's 0.1
    assert "### Drift of live traffic" in summary and "**Retraining requested:**" in summary


def test_prometheus_down_fails_safe_and_says_so(tmp_path):
    own = PrometheusServer(tmp_path / "prom-down")
    (tmp_path / "prom-down").mkdir()
    own.start()
    url = own.url
    own.stop()
    summary = tmp_path / "summary.md"
    outputs = tmp_path / "outputs"
    began = time.monotonic()
    with pytest.raises(ServiceError, match=r"Prometheus at .* cannot be reached") as failed:
        monitor.run({"prometheus-url": url, "model": "gate-down", "on-success": "promote",
                     "on-failure": "rollback", "tracking-uri": "http://127.0.0.1:9"},
                    Actions({"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)}), env=STEP_ENV,
                    sleep=lambda s: None)
    assert "nothing was promoted or rolled back" in str(failed.value)
    assert time.monotonic() - began < 30
    assert re.search(r"^decision<<(\S+)\nhold\n\1$", outputs.read_text(), re.MULTILINE)
    assert "Nothing was promoted or rolled back" in summary.read_text()


def test_a_model_prometheus_does_not_know_is_a_clear_error_not_a_decision(prom, tmp_path):
    with pytest.raises(UserError, match="has no series for the served model"):
        gate(prom, tmp_path, "no-such-model")


@pytest.fixture
def guarded_prometheus(model, tmp_path, production):
    """A real Prometheus behind its own basic auth, scraping one model server that answered 200 requests."""
    root = tmp_path / "guarded"
    root.mkdir()
    prom = PrometheusServer(root, basic_auth=("aicd", "pr0m-s3cret"))
    prom.start()
    server = start_model_server(*model, tmp_path / "guarded.log", model_name="gate-guarded", model_version="5")
    try:
        prom.set_targets([server.target])
        send_traffic(server.wait_ready(), production, coffee_example.LABEL, requests=200, seed=6,
                     feedback_token=FEEDBACK_TOKEN)
        scraped(prom, "gate-guarded", 200)
        yield prom
    finally:
        server.stop()
        prom.stop()


def test_prometheus_basic_auth_is_sent_and_a_wrong_password_is_a_clear_error(guarded_prometheus, tmp_path):
    inputs = {"prometheus-username": "aicd", "prometheus-password": "pr0m-s3cret"}
    out, _ = gate(guarded_prometheus, tmp_path, "gate-guarded", **inputs)
    assert json.loads(out["evidence"])["samples"]["served"]["feedback"] == 200
    with pytest.raises(ServiceError, match=r"refused the credentials \(HTTP 401\)") as refused:
        gate(guarded_prometheus, tmp_path, "gate-guarded", **{**inputs, "prometheus-password": "wr0ng-guess"})
    assert "wr0ng-guess" not in str(refused.value) and "prometheus-token" in str(refused.value)


class BearerProxy:
    """An auth proxy in front of Prometheus (what a hosted Prometheus or oauth2-proxy does): it wants
    ``Authorization: Bearer <token>`` and answers 503 to the first ``failures`` requests."""

    def __init__(self, upstream: str, token: str, failures: int):
        import threading
        import urllib.request
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        proxy = self
        self.seen, self.failures = [], failures

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                proxy.seen.append(self.headers.get("authorization"))
                if self.headers.get("authorization") != f"Bearer {token}":
                    return self._answer(401, b'{"status":"error","error":"unauthorized"}')
                if proxy.failures > 0:
                    proxy.failures -= 1
                    return self._answer(503, b'{"status":"error","error":"upstream busy"}')
                forwarded = urllib.request.Request(upstream + self.path, data=body, method="POST",
                                                   headers={"content-type": self.headers["content-type"]})
                with urllib.request.urlopen(forwarded, timeout=10) as resp:
                    return self._answer(resp.status, resp.read())

            def _answer(self, status, payload):
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_bearer_token_is_sent_and_busy_answers_are_retried(servers, prom, production, tmp_path):
    url = servers(stable="6")["stable"]
    send_traffic(url, production, coffee_example.LABEL, requests=150, seed=7, feedback_token=FEEDBACK_TOKEN)
    scraped(prom, servers.model, 150)
    proxy = BearerProxy(prom.url, "t0ken-for-prom", failures=2)
    try:
        config = tmp_path / "aicd.yml"
        config.write_text(CONFIG)
        out = monitor.run({"prometheus-url": proxy.url, "prometheus-token": "t0ken-for-prom", "model": servers.model,
                           "config": str(config), "report": str(tmp_path / "m.json")}, Actions({}), env=STEP_ENV)
        assert json.loads(out["evidence"])["samples"]["served"]["requests"] == 150
        assert set(proxy.seen) == {"Bearer t0ken-for-prom"} and len(proxy.seen) > 2  # two 503s, then answers
        with pytest.raises(ServiceError, match=r"refused the credentials \(HTTP 401\)"):
            monitor.run({"prometheus-url": proxy.url, "prometheus-token": "stale", "model": servers.model,
                         "report": str(tmp_path / "m.json")}, Actions({}), env=STEP_ENV)
    finally:
        proxy.close()


def test_when_acting_fails_the_decision_and_evidence_are_still_published(model, production, tmp_path):
    """A rollback the target refuses (nothing deployed in this state dir) fails the step clearly, and the
    outputs and summary still say what was decided and why."""
    with start_model_server(*model, tmp_path / "s.log", model_name="gate-refused", model_version="8") as server:
        send_traffic(server.wait_ready(), production, coffee_example.LABEL, requests=300, seed=8, flip_share=0.6,
                     feedback_token=FEEDBACK_TOKEN)
        summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
        config = tmp_path / "aicd.yml"
        config.write_text(CONFIG)
        with pytest.raises(UserError, match="holds no deployment, so there is nothing to roll back"):
            monitor.run({"endpoint": server.url, "config": str(config), "on-failure": "rollback",
                         "state-dir": str(tmp_path / "empty"), "report": str(tmp_path / "m.json")},
                        Actions({"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)}), env=STEP_ENV)
    assert re.search(r"^decision<<(\S+)\nrollback\n\1$", outputs.read_text(), re.MULTILINE)
    assert "Acting on the decision failed" in summary.read_text()
    assert "holds no deployment" in json.loads((tmp_path / "m.json").read_text())["action_failed"]


@pytest.fixture
def regressors(prom, tmp_path, tmp_path_factory):
    """Stable and canary servers of one coffee regressor (it predicts ``avg_spend``), scraped by ``prom``."""
    model_dir = coffee_regressor_dir(tmp_path_factory.mktemp("regressor") / "spend")
    name, procs = "gate-regressor", []
    for variant, version in (("stable", "1"), ("canary", "2")):
        procs.append(start_model_server(*model_dir, tmp_path / f"{variant}.log", variant=variant, model_name=name,
                                        model_version=version))
    urls = {variant: p.wait_ready() for variant, p in zip(("stable", "canary"), procs, strict=True)}
    prom.set_targets([p.target for p in procs])
    prom.wait_for(f'count(aicd_model_info{{model="{name}",task="regression"}})',
                  lambda r: r and float(r[0]["value"][1]) == 2, timeout=30)
    yield name, urls
    prom.set_targets([])
    for proc in procs:
        proc.stop()


def test_a_regressor_canary_that_errs_more_is_rolled_back_on_its_online_mae(regressors, prom, production,
                                                                           tmp_path):
    """A regressor has no online accuracy: the gate judges the MAE fed back as true values. The canary's
    true values come with noise (a worse model's errors), so its MAE is well above stable's."""
    name, urls = regressors
    frame = production.drop(columns=coffee_example.LABEL)
    for variant, noise in (("stable", 0.0), ("canary", 3.0)):
        send_traffic(urls[variant], frame, "avg_spend", requests=300, seed=7, label_noise=noise,
                     feedback_token=FEEDBACK_TOKEN)
    prom.wait_for(f'sum(aicd_feedback_error_total{{model="{name}",moment="count"}})',
                  lambda r: r and float(r[0]["value"][1]) >= 600, timeout=30)
    out, summary = gate(prom, tmp_path, name, compare="canary", **{"on-failure": "report"})
    checks = {(c["metric"], c["test"]): c for c in json.loads(out["evidence"])["checks"]}
    assert out["decision"] == "rollback", out["evidence"]
    assert checks[("online-mae", "vs stable")]["verdict"] == "fail"
    assert not any(metric == "online-accuracy" for metric, _ in checks)
    assert "Online mean absolute error" in summary and "feedback labels | 300 | 300" in summary

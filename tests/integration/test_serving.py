"""action-deploy (target local) with real model servers fetched from a real MLflow server."""

import json
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aicd.deploy.local import LocalTarget
from aicd.deploy.target import Candidate
from aicd.errors import ServiceError, UserError
from aicd.gha import Actions
from aicd.registry import MlflowRegistry
from aicd.steps import deploy, train
from tests.conftest import FEEDBACK_AUTH, FEEDBACK_TOKEN

ROW = {"age": 25, "visits_per_week": 3.5, "avg_spend": 5.0, "preferred_roast": "dark", "hour": 8,
       "coffee_roast": "dark", "coffee_price": 3.2, "coffee_sweetness": 0.7}


def call(url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data, {"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


@pytest.fixture(scope="module")
def model_uri(mlflow_server, coffee, tmp_path_factory):
    out = train.run({"data": str(coffee["data"]), "config": str(coffee["config"]), "tracking-uri": mlflow_server.uri},
                    Actions({}), env={})
    return out["model-uri"]


def deploy_once(mlflow_server, model_uri, state):
    return deploy.run({"model-uri": model_uri, "tracking-uri": mlflow_server.uri, "state-dir": str(state),
                       "feedback-token": FEEDBACK_TOKEN}, Actions({}), env={})


def test_the_served_model_predicts_validates_and_takes_feedback(mlflow_server, model_uri, deploy_dir):
    out = deploy_once(mlflow_server, model_uri, deploy_dir)
    url = out["endpoint"]
    status, headers, body = call(f"{url}/predict", ROW)
    answer = json.loads(body)
    assert status == 200 and answer["predictions"][0] in (0, 1)
    assert headers["x-request-id"] == answer["request_id"] and headers["x-model-version"] == out["model-version"]
    status, _, body = call(f"{url}/predict", {"instances": [ROW, {**ROW, "hour": 20}]})
    assert status == 200 and len(json.loads(body)["predictions"]) == 2
    status, _, body = call(f"{url}/predict", {k: v for k, v in ROW.items() if k != "hour"})
    assert status == 400 and "`instances[0].hour` is missing" in body
    status, _, body = call(f"{url}/predict", {**ROW, "age": "old"})
    assert status == 400 and "instances[0].age" in body
    feedback = {"request_id": answer["request_id"], "label": answer["predictions"][0]}
    assert call(f"{url}/feedback", feedback)[0] == 401  # a stranger cannot move online accuracy
    status, _, body = call(f"{url}/feedback", feedback, FEEDBACK_AUTH)
    assert status == 200 and json.loads(body)["outcome"] == "correct"
    assert call(f"{url}/feedback", {"request_id": "nope", "label": 1}, FEEDBACK_AUTH)[0] == 404
    metrics = call(f"{url}/metrics")[2]
    v = out["model-version"]
    base = {"model": "coffee-recommender", "variant": "stable", "version": v}
    samples = {(s.name, frozenset(s.labels.items())): s.value
               for family in text_string_to_metric_families(metrics) for s in family.samples}
    assert samples[("aicd_feedback_total", frozenset({"outcome": "correct", **base}.items()))] == 1
    assert samples[("aicd_requests_total", frozenset({"route": "predict", "status": "400", **base}.items()))] == 2
    assert 'runtime="onnx"' in metrics
    # three rows were predicted; each feature value is counted in its reference-profile bin
    assert sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith('aicd_feature_values_total{bin=') and 'feature="hour"' in line) == 3
    assert 'aicd_feature_values_total{bin="dark",feature="preferred_roast"' in metrics


def test_a_tampered_model_refuses_to_start_and_the_current_revision_keeps_serving(
        mlflow_server, model_uri, deploy_dir, tmp_path):
    good = deploy_once(mlflow_server, model_uri, deploy_dir)
    target = LocalTarget(deploy_dir, ready_timeout=20)
    model_dir, meta = MlflowRegistry(mlflow_server.uri).fetch_model(model_uri, tmp_path / "fetched")
    with open(model_dir / "model.onnx", "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(ServiceError, match="did not become ready"):
        target.deploy(Candidate(model_uri, model_dir, meta))
    folder = deploy_dir / "revisions" / str(int(good["revision"]) + 1)
    assert "refusing to start" in (folder / "server.log").read_text()
    assert target.current().revision == int(good["revision"])
    assert call(f"{good['endpoint']}/readyz")[0] == 200


def test_rollback_switches_back_to_the_previous_revision_at_once(mlflow_server, model_uri, deploy_dir):
    first = deploy_once(mlflow_server, model_uri, deploy_dir)
    second = deploy_once(mlflow_server, model_uri, deploy_dir)
    assert second["previous-revision"] == first["revision"]
    assert call(f"{first['endpoint']}/readyz")[0] == 200  # kept warm for rollback
    back = deploy.run({"command": "rollback", "state-dir": str(deploy_dir)}, Actions({}), env={})
    assert back["revision"] == first["revision"] and back["endpoint"] == first["endpoint"]
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{second['endpoint']}/healthz", timeout=3)


def test_two_rollbacks_in_a_row_walk_back_and_a_number_is_never_reused(mlflow_server, model_uri, deploy_dir):
    outs = [deploy_once(mlflow_server, model_uri, deploy_dir) for _ in range(3)]
    assert [o["revision"] for o in outs] == ["1", "2", "3"]
    with pytest.raises(urllib.error.URLError):  # revision 1: kept, but stopped (cold)
        call(f"{outs[0]['endpoint']}/readyz")
    rollback = {"command": "rollback", "state-dir": str(deploy_dir)}
    first = deploy.run(rollback, Actions({}), env={})
    assert (first["revision"], first["previous-revision"]) == ("2", "1")
    assert call(f"{LocalTarget(deploy_dir).current().address}/readyz")[0] == 200
    second = deploy.run(rollback, Actions({}), env={})
    assert (second["revision"], second["previous-revision"]) == ("1", "")
    assert float(second["ready-seconds"]) < 1  # revision 1 was woken as the standby by the first rollback
    assert call(f"{second['endpoint']}/readyz")[0] == 200
    with pytest.raises(UserError, match="nothing to roll back to"):
        deploy.run(rollback, Actions({}), env={})
    assert sorted(p.name for p in (deploy_dir / "revisions").iterdir()) == ["1"]  # retired folders are gone
    again = deploy_once(mlflow_server, model_uri, deploy_dir)
    assert (again["revision"], again["previous-revision"]) == ("4", "1")


def test_prometheus_follows_the_serving_revision_through_deploys_and_rollbacks(mlflow_server, model_uri,
                                                                               deploy_dir, tmp_path):
    """The local target writes <state-dir>/prometheus-targets.json (file_sd) on every change: a real
    Prometheus pointed at it scrapes the serving revision, and only it, after a deploy and a rollback."""
    from tests.integration.prom_infra import PrometheusServer

    first = deploy_once(mlflow_server, model_uri, deploy_dir)
    (tmp_path / "prom").mkdir()
    prom = PrometheusServer(tmp_path / "prom", targets=deploy_dir / "prometheus-targets.json")
    prom.start()

    def scraped(endpoint, revision):
        want = {(endpoint.removeprefix("http://"), revision)}
        prom.wait_for("aicd_model_info", lambda r: {(s["metric"]["instance"], s["metric"]["aicd_revision"])
                                                    for s in r} == want, timeout=30)

    try:
        scraped(first["endpoint"], "1")
        second = deploy_once(mlflow_server, model_uri, deploy_dir)
        scraped(second["endpoint"], "2")  # the standby (revision 1) is not scraped: one served version
        back = deploy.run({"command": "rollback", "state-dir": str(deploy_dir)}, Actions({}), env={})
        scraped(back["endpoint"], "1")
    finally:
        prom.stop()


def stable_and_canary(mlflow_server, model_uri, tmp_path, **canary_inputs) -> dict[str, dict]:
    """Two local deployments of ``model_uri``, each in its own state-dir: the deploy outputs by variant."""
    return {variant: deploy.run({"model-uri": model_uri, "tracking-uri": mlflow_server.uri,
                                 "state-dir": str(tmp_path / variant), "variant": variant,
                                 "feedback-token": FEEDBACK_TOKEN, **(canary_inputs if variant == "canary" else {})},
                                Actions({}), env={})
            for variant in ("stable", "canary")}


def test_a_local_canary_is_judged_through_prometheus_and_its_rollback_stops_it(mlflow_server, model_uri, tmp_path):
    """Stable and canary as two local deployments (own state dirs, `variant: canary`), scraped by a real
    Prometheus; the canary's answers turn out wrong, so the gate rolls it back: the canary deployment is
    stopped, stable keeps serving, and the step fails (exit 1) as a gate that said no."""
    from aicd.errors import GateFailed
    from aicd.steps import monitor
    from tests.integration.prom_infra import PrometheusServer

    sides = stable_and_canary(mlflow_server, model_uri, tmp_path)
    (tmp_path / "prom").mkdir()
    prom = PrometheusServer(tmp_path / "prom")
    prom.start()
    try:
        prom.set_targets([s["endpoint"].removeprefix("http://") for s in sides.values()])
        prom.wait_for('aicd_model_info{variant="canary"}', timeout=30)
        for variant, right in (("stable", True), ("canary", False)):
            for i in range(150):
                _, _, body = call(f"{sides[variant]['endpoint']}/predict", {**ROW, "hour": i % 24})
                answer = json.loads(body)
                label = answer["predictions"][0] if right else 1 - answer["predictions"][0]
                call(f"{sides[variant]['endpoint']}/feedback", {"request_id": answer["request_id"], "label": label},
                     FEEDBACK_AUTH)
        prom.wait_for('sum(aicd_feedback_total{variant="canary"})', lambda r: r and float(r[0]["value"][1]) >= 150)
        prom.wait_for('sum(aicd_feedback_total{variant="stable"})', lambda r: r and float(r[0]["value"][1]) >= 150)
        stopped = r"stopped the canary deployment \(the deployment in .*\); the stable keeps serving"
        with pytest.raises(GateFailed, match=stopped):
            monitor.run({"prometheus-url": prom.url, "model": "coffee-recommender", "compare": "canary",
                         "on-failure": "rollback", "target": "local", "state-dir": str(tmp_path / "canary"),
                         "report": str(tmp_path / "m.json")}, Actions({}), env={"RUNNER_TEMP": str(tmp_path)})
        assert call(f"{sides['stable']['endpoint']}/readyz")[0] == 200
    finally:
        prom.stop()
        for variant in sides:
            LocalTarget(tmp_path / variant).stop()
    assert json.loads((tmp_path / "m.json").read_text())["rolled_back"].startswith("stopped the canary deployment")


def test_a_local_canary_with_stables_model_as_its_shadow_is_judged_on_the_same_requests(mlflow_server, model_uri,
                                                                                         tmp_path):
    """`shadow-model-uri`: the canary's server also scores every request with stable's model; the labels
    fed back count which of the two was right, Prometheus scrapes the pairs, and the gate judges online
    accuracy paired — here two identical models, so they never disagree and 400 labels settle it."""
    from aicd.steps import monitor
    from tests.integration.prom_infra import PrometheusServer

    sides = stable_and_canary(mlflow_server, model_uri, tmp_path, **{"shadow-model-uri": model_uri})
    (tmp_path / "prom").mkdir()
    prom = PrometheusServer(tmp_path / "prom")
    prom.start()
    try:
        prom.set_targets([s["endpoint"].removeprefix("http://") for s in sides.values()])
        prom.wait_for('aicd_paired_feedback_total{variant="canary"}', timeout=30)
        for variant in sides:
            for i in range(600):
                _, _, body = call(f"{sides[variant]['endpoint']}/predict", {**ROW, "hour": i % 24, "age": 18 + i % 50})
                answer = json.loads(body)
                label = answer["predictions"][0] if i % 25 else 1 - answer["predictions"][0]  # 96 % right
                call(f"{sides[variant]['endpoint']}/feedback", {"request_id": answer["request_id"], "label": label},
                     FEEDBACK_AUTH)
        prom.wait_for('sum(aicd_paired_feedback_total{variant="canary"})',
                      lambda r: r and float(r[0]["value"][1]) >= 600)
        prom.wait_for('sum(aicd_feedback_total{variant="stable"})', lambda r: r and float(r[0]["value"][1]) >= 600)
        monitor.run({"prometheus-url": prom.url, "model": "coffee-recommender", "compare": "canary",
                     "on-failure": "report", "report": str(tmp_path / "m.json")}, Actions({}),
                    env={"RUNNER_TEMP": str(tmp_path)})
    finally:
        prom.stop()
        for variant in sides:
            LocalTarget(tmp_path / variant).stop()
    checks = json.loads((tmp_path / "m.json").read_text())["checks"]
    paired = next(c for c in checks if c["metric"] == "online-accuracy" and c["test"] != "absolute")
    assert (paired["test"], paired["verdict"], paired["samples"]) == ("vs stable, paired", "pass", 600)
    assert paired["baseline"] == paired["candidate"] == 0.96 and "disagree on 0.0%" in paired["note"]

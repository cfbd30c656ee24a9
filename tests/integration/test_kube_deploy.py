"""action-deploy with target kubernetes, against a real control plane (tests/integration/kube_infra.py).

kwok runs the pods without containers, so the images need not exist; everything else — the
Deployment controller, the scheduler, RBAC, admission, server-side apply — is the real thing.
"""

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from aicd.config import AbConfig, BlueGreenConfig, CanaryConfig, KubernetesConfig
from aicd.deploy.kube.client import KubeClient
from aicd.deploy.kube.lease import deploy_lease
from aicd.deploy.kube.login import Credentials
from aicd.deploy.kube.manifests import tenant_manifests
from aicd.deploy.kube.target import KubeTarget
from aicd.deploy.target import Candidate
from aicd.errors import GateFailed, KubeError, RolloutFailed, ServiceError, UserError
from tests.conftest import FEEDBACK_AUTH, FEEDBACK_TOKEN, STEP_ENV

IMAGE = "registry.example/coffee:{}-0123abc"


@pytest.fixture
def namespace(kube_cluster, request):
    name = "t-" + request.node.name.replace("_", "-")[5:40].strip("-")
    kube_cluster.create_namespace(name)
    return name


def acting_as(admin: KubeClient, token: str, who: str) -> KubeClient:
    """The same cluster, acting only as the owner of ``token`` (a ServiceAccount's): the client
    certificate is dropped, since the API server would authenticate that first."""
    trust = admin.trust_only or admin.context
    return KubeClient(admin.server, trust, Credentials(who, token=token), trust, admin.proxy)


def target(cluster, namespace, **cfg) -> KubeTarget:
    base = KubernetesConfig(replicas=cfg.pop("replicas", 3), progress_deadline_seconds=cfg.pop("deadline", 10))
    return KubeTarget(cluster.api(), "coffee", namespace, replace(base, **cfg), poll=0.25)


def candidate(image: str, version: int | str = "", model_uri: str = "") -> Candidate:
    meta = {"model_version": str(version), "run_id": f"run-{version}" if version else ""}
    return Candidate(model_uri, Path("/nonexistent"), meta, image, "c0ffee" if version else "")


def ship(t: KubeTarget, version: int):
    return t.deploy(candidate(IMAGE.format(version), version, f"models:/coffee/{version}"))


def ready_pods(cluster, namespace) -> dict[tuple[str, str], int]:
    """Ready pods by (track, model version)."""
    counts: dict[tuple[str, str], int] = {}
    for pod in cluster.api().list("Pod", namespace, "app.kubernetes.io/name=coffee"):
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))
        if ready and not pod["metadata"].get("deletionTimestamp"):
            key = (pod["metadata"]["labels"]["aicd.dev/track"], pod["metadata"]["labels"]["aicd.dev/model-version"])
            counts[key] = counts.get(key, 0) + 1
    return counts


def test_a_rollout_that_never_gets_ready_is_rolled_back_and_the_old_version_never_loses_capacity(
        kube_cluster, namespace):
    first = ship(target(kube_cluster, namespace), 1)
    assert first.serving.revision == 1 and ready_pods(kube_cluster, namespace) == {("stable", "1"): 3}
    lowest, stop = [3], threading.Event()

    def watch():
        while not stop.is_set():
            lowest[0] = min(lowest[0], ready_pods(kube_cluster, namespace).get(("stable", "1"), 0))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with pytest.raises(RolloutFailed, match="rolled back to revision 1") as failed:
            unready = candidate("registry.example/coffee:2-unready", 2, "models:/coffee/2")
            target(kube_cluster, namespace).deploy(unready)
    finally:
        stop.set()
        watcher.join()
    assert lowest[0] == 3  # the old version kept its full ready count during the whole attempt
    recovered = failed.value.result.recovered_seconds
    assert recovered is not None and recovered < 30
    print(f"failed rollout detected -> previous revision fully serving: {recovered:.1f} s")
    assert ready_pods(kube_cluster, namespace) == {("stable", "1"): 3}
    deployment = kube_cluster.api().get("Deployment", namespace, "coffee")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE.format(1)


def test_canary_steps_change_replica_ratios_exactly_then_promote_leaves_only_the_new_version(
        kube_cluster, namespace):
    t = target(kube_cluster, namespace, replicas=10, strategy="canary", canary=CanaryConfig(steps=(10, 50, 100)))
    ship(t, 1)
    out = ship(t, 2)
    assert "10 % (1 of 10 pods), step 1 of 3" in out.state
    assert ready_pods(kube_cluster, namespace) == {("stable", "1"): 9, ("canary", "2"): 1}
    out = t.promote()
    assert ready_pods(kube_cluster, namespace) == {("stable", "1"): 5, ("canary", "2"): 5}
    out = t.promote()
    assert "promoted" in out.state and out.serving.revision == 2
    _wait_for(lambda: ready_pods(kube_cluster, namespace) == {("stable", "2"): 10})
    assert kube_cluster.api().get("Deployment", namespace, "coffee-canary") is None


def test_canary_abort_restores_all_traffic_to_stable(kube_cluster, namespace):
    t = target(kube_cluster, namespace, replicas=10, strategy="canary", canary=CanaryConfig(steps=(10, 50, 100)))
    ship(t, 1)
    ship(t, 2)
    out = t.abort()
    assert "aborted" in out.state and out.serving.revision == 1
    _wait_for(lambda: ready_pods(kube_cluster, namespace) == {("stable", "1"): 10})


def test_an_inexact_canary_ratio_is_refused_before_anything_changes(kube_cluster, namespace):
    t = target(kube_cluster, namespace, replicas=2, strategy="canary", canary=CanaryConfig(steps=(10, 100)))
    ship(t, 1)
    with pytest.raises(Exception, match="10 % of 2 replicas is not a whole number"):
        ship(t, 2)
    assert ready_pods(kube_cluster, namespace) == {("stable", "1"): 2}


def test_blue_green_switches_the_service_and_switches_back_instantly(kube_cluster, namespace):
    t = target(kube_cluster, namespace, replicas=2, strategy="blue-green",
               blue_green=BlueGreenConfig(keep_seconds=600))
    ship(t, 1)
    out = ship(t, 2)
    service = kube_cluster.api().get("Service", namespace, "coffee")
    assert service["spec"]["selector"]["aicd.dev/track"] == "green" and "green (revision 2) active" in out.state
    assert ready_pods(kube_cluster, namespace) == {("blue", "1"): 2, ("green", "2"): 2}  # blue kept warm
    started = time.monotonic()
    back = t.rollback()
    assert time.monotonic() - started < 5 and back.serving.revision == 1
    service = kube_cluster.api().get("Service", namespace, "coffee")
    assert service["spec"]["selector"]["aicd.dev/track"] == "blue"


def test_rollback_to_revision_n_minus_2_restores_its_image_and_model_version(kube_cluster, namespace):
    t = target(kube_cluster, namespace, replicas=2)
    for version in (1, 2, 3):
        ship(t, version)
    back = t.rollback(to=1)
    assert (back.serving.revision, back.serving.image, back.serving.model_version) == (1, IMAGE.format(1), "1")
    _wait_for(lambda: ready_pods(kube_cluster, namespace) == {("stable", "1"): 2})
    history = t.status()  # 2 and 3 were rolled back from: retired, their numbers never handed out again
    assert [r["revision"] for r in history["revisions"]] == [1] and history["current"] == 1
    assert [r["run_id"] for r in history["revisions"]] == ["run-1"]
    again = ship(t, 4)
    assert (again.serving.revision, again.standby.revision) == (4, 1)


def test_two_rollbacks_in_a_row_walk_back_two_releases(kube_cluster, namespace):
    t = target(kube_cluster, namespace, replicas=1)
    for version in (1, 2, 3):
        ship(t, version)
    first, second = t.rollback(), t.rollback()
    assert (first.serving.revision, first.standby.revision, second.serving.revision, second.standby) == (2, 1, 1, None)
    _wait_for(lambda: ready_pods(kube_cluster, namespace) == {("stable", "1"): 1})
    with pytest.raises(UserError, match="nothing to roll back to: no earlier revision is kept") as nothing:
        t.rollback()
    assert "deploy another revision first" in nothing.value.hint


def test_ab_runs_both_variants_behind_the_router_and_promote_keeps_b(kube_cluster, namespace):
    t = target(kube_cluster, namespace, replicas=2, strategy="ab", ab=AbConfig(split=20))
    ship(t, 1)
    out = ship(t, 2)
    assert "20 % of users" in out.state
    assert ready_pods(kube_cluster, namespace) == {("a", "1"): 2, ("b", "2"): 2, ("router", "none"): 2}
    router = kube_cluster.api().get("Deployment", namespace, "coffee-router")
    env = {e["name"]: e["value"] for e in router["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["AICD_AB_SPLIT"] == "20"
    assert env["AICD_AB_B"] == "http://$(COFFEE_B_SERVICE_HOST):$(COFFEE_B_SERVICE_PORT)"  # kubelet expands it
    t.promote()
    _wait_for(lambda: ready_pods(kube_cluster, namespace) == {("a", "2"): 2, ("router", "none"): 2})


def test_two_deploys_never_interleave(kube_cluster, namespace):
    t = target(kube_cluster, namespace, replicas=1)
    with deploy_lease(kube_cluster.api(), namespace, "coffee"):
        t.lock_timeout = 2
        with pytest.raises(ServiceError, match="holds Lease"):
            ship(t, 1)
    assert ship(t, 1).serving.revision == 1  # released: the next deploy goes through


def test_a_tenant_cannot_read_or_change_another_tenants_deployment(kube_cluster):
    admin = kube_cluster.api()
    for tenant in ("acme", "globex"):
        for obj in tenant_manifests(tenant, f"aicd-{tenant}"):
            admin.apply(obj)
        kube_cluster.create_namespace(f"aicd-{tenant}")  # exists: waits for its default ServiceAccount
    acme = acting_as(admin, kube_cluster.token_for("aicd-acme", "aicd-deployer"), "acme's deployer")
    globex = acting_as(admin, kube_cluster.token_for("aicd-globex", "aicd-deployer"), "globex's deployer")
    cfg = KubernetesConfig(replicas=1, progress_deadline_seconds=10)
    for api, own in ((globex, "aicd-globex"), (acme, "aicd-acme")):
        assert KubeTarget(api, "coffee", own, cfg, poll=0.25).deploy(candidate(IMAGE.format(1))).serving.revision == 1
    with pytest.raises(KubeError) as read:
        acme.get("Deployment", "aicd-globex", "coffee")
    assert read.value.status == 403 and "acme's deployer may not GET" in str(read.value)
    with pytest.raises(KubeError) as change:
        KubeTarget(acme, "coffee", "aicd-globex", cfg, poll=0.25).deploy(candidate(IMAGE.format(2)))
    assert change.value.status == 403
    image = admin.get("Deployment", "aicd-globex", "coffee")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == IMAGE.format(1)  # untouched


def _wait_for(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.25)


def test_action_deploy_to_kubernetes_writes_outputs_labels_and_a_summary(kube_cluster, mlflow_server, coffee,
                                                                           tmp_path):
    from aicd.gha import Actions
    from aicd.steps import deploy, train

    trained = train.run({"data": str(coffee["data"]), "config": str(coffee["config"]),
                         "tracking-uri": mlflow_server.uri, "model-name": "kube-coffee"}, Actions({}), env=STEP_ENV)
    kube_cluster.create_namespace("aicd")
    config = tmp_path / "aicd.yml"
    config.write_text("deploy:\n  kubernetes:\n    replicas: 2\n    labels: {team: ml}\n"
                      "    annotations: {owner: ml@acme.example}\n    node-selector: {type: kwok}\n")
    summary = tmp_path / "summary.md"
    out = deploy.run({"model-uri": trained["model-uri"], "tracking-uri": mlflow_server.uri, "target": "kubernetes",
                      "kubeconfig": str(kube_cluster.kubeconfig), "image": "registry.example/kube-coffee:1-0123abc",
                      "config": str(config)}, Actions({"GITHUB_STEP_SUMMARY": str(summary)}),
                     env={"GITHUB_SHA": "0123abcdef"})
    assert out["revision"] == "1" and out["previous-revision"] == "" and out["model-version"] == "1"
    assert out["endpoint"] == "http://kube-coffee.aicd.svc.cluster.local:8080"
    assert out["strategy-state"] == "rolling: revision 1 serving"
    deployment = kube_cluster.api().get("Deployment", "aicd", "kube-coffee")
    template = deployment["spec"]["template"]
    assert template["metadata"]["labels"]["team"] == "ml"
    assert template["metadata"]["annotations"]["aicd.dev/run-id"] == trained["run-id"]
    assert template["metadata"]["annotations"]["aicd.dev/commit"] == "0123abcdef"
    assert template["spec"]["nodeSelector"] == {"type": "kwok"}
    managers = {m["manager"] for m in deployment["metadata"]["managedFields"]}
    assert "aicd" in managers  # server-side apply, field manager aicd
    text = summary.read_text()
    assert "Revisions kept for rollback" in text and trained["run-id"][:8] in text


@pytest.fixture(scope="module")
def gateway_api(kube_cluster):
    """The Gateway API's HTTPRoute and Gateway CRDs, installed into the test cluster."""
    import subprocess
    from pathlib import Path

    import yaml

    from tests.conftest import ROOT

    crds = Path(subprocess.run([str(ROOT / "scripts/gateway-api-crds")], capture_output=True, text=True,
                               check=True).stdout.strip())
    api = kube_cluster.api()
    for name in ("gateways", "httproutes"):
        crd = yaml.safe_load((crds / f"gateway.networking.k8s.io_{name}.yaml").read_text())
        api.request("PATCH", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}"
                    "?fieldManager=aicd-test&force=true", crd, "application/apply-patch+yaml")
    _wait_for(lambda: api.has_api("gateway.networking.k8s.io/v1"))


def route_weights(cluster, namespace) -> dict[str, int]:
    route = cluster.api().get("HTTPRoute", namespace, "coffee")
    return {b["name"]: b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]}


def test_with_the_gateway_api_canary_steps_are_httproute_weights(kube_cluster, gateway_api, namespace):
    t = target(kube_cluster, namespace, replicas=2, strategy="canary",
               canary=CanaryConfig(steps=(10, 50, 100), gateway="infra/public"))
    ship(t, 1)
    out = ship(t, 2)
    assert "HTTPRoute weights 90/10" in out.state
    assert route_weights(kube_cluster, namespace) == {"coffee-stable": 90, "coffee-canary": 10}
    route = kube_cluster.api().get("HTTPRoute", namespace, "coffee")
    assert route["spec"]["parentRefs"][0] == {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                              "name": "public", "namespace": "infra"}
    assert ready_pods(kube_cluster, namespace) == {("stable", "1"): 2, ("canary", "2"): 1}  # stable keeps capacity
    t.promote()
    assert route_weights(kube_cluster, namespace) == {"coffee-stable": 50, "coffee-canary": 50}
    t.promote()
    assert route_weights(kube_cluster, namespace) == {"coffee-stable": 100, "coffee-canary": 0}
    _wait_for(lambda: ready_pods(kube_cluster, namespace) == {("stable", "2"): 2})


def test_aborting_a_weighted_canary_sends_every_request_to_stable(kube_cluster, gateway_api, namespace):
    t = target(kube_cluster, namespace, replicas=2, strategy="canary", canary=CanaryConfig(gateway="public"))
    ship(t, 1)
    ship(t, 2)
    t.abort()
    assert route_weights(kube_cluster, namespace) == {"coffee-stable": 100, "coffee-canary": 0}
    _wait_for(lambda: ready_pods(kube_cluster, namespace) == {("stable", "1"): 2})


def test_the_production_gate_rolls_the_kubernetes_target_back(kube_cluster, mlflow_server, coffee, tmp_path,
                                                               deploy_dir):
    """kwok runs no containers, so the judged traffic comes from a real local server of the same version."""
    import json
    import urllib.request

    from aicd.gha import Actions
    from aicd.steps import deploy, monitor, train

    uris = []
    for seed in (0, 1):
        config = tmp_path / f"aicd-{seed}.yml"
        config.write_text(coffee["config"].read_text().replace("random_state: 0", f"random_state: {seed}"))
        uris.append(train.run({"data": str(coffee["data"]), "config": str(config), "tracking-uri": mlflow_server.uri,
                               "model-name": "gate-coffee"}, Actions({}), env=STEP_ENV)["model-uri"])
    kube_cluster.create_namespace("gate")
    kube = {"target": "kubernetes", "kubeconfig": str(kube_cluster.kubeconfig), "namespace": "gate",
            "tracking-uri": mlflow_server.uri}
    for version, uri in enumerate(uris, 1):
        deploy.run({**kube, "model-uri": uri, "image": f"registry.example/gate-coffee:{version}-abc"}, Actions({}),
                   env=STEP_ENV)
    local = deploy.run({"model-uri": uris[1], "tracking-uri": mlflow_server.uri, "state-dir": str(deploy_dir),
                        "feedback-token": FEEDBACK_TOKEN}, Actions({}), env=STEP_ENV)
    for i in range(150):  # every prediction of version 2 turns out wrong
        req = urllib.request.Request(f"{local['endpoint']}/predict", json.dumps({
            "age": 30, "visits_per_week": 2.0, "avg_spend": 5.0, "preferred_roast": "dark", "hour": i % 24,
            "coffee_roast": "dark", "coffee_price": 3.0, "coffee_sweetness": 0.5}).encode(),
            {"content-type": "application/json"})
        answer = json.loads(urllib.request.urlopen(req, timeout=10).read())
        urllib.request.urlopen(urllib.request.Request(f"{local['endpoint']}/feedback", json.dumps(
            {"request_id": answer["request_id"], "label": 1 - answer["predictions"][0]}).encode(),
            {"content-type": "application/json", **FEEDBACK_AUTH}), timeout=10)
    with pytest.raises(GateFailed, match="production gate: rollback") as refused:
        monitor.run({**kube, "endpoint": local["endpoint"], "config": str(coffee["config"]),
                     "on-failure": "rollback", "report": str(tmp_path / "m.json")}, Actions({}), env=STEP_ENV)
    out = refused.value.outputs
    assert out["decision"] == "rollback" and out["rolled-back"] == "true"
    deployment = kube_cluster.api().get("Deployment", "gate", "gate-coffee")
    assert deployment["spec"]["template"]["metadata"]["labels"]["aicd.dev/model-version"] == "1"

"""The kubernetes target on a real kubelet node (tests/integration/kube_node.py): real containers from
the images action-deploy built and pushed, real probes, Services through kube-proxy.

Every test runs in a namespace of its own holding the registry's pull Secret; the namespace is deleted
afterwards and its pods are gone from the node before the next test starts.
"""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import replace

import pandas as pd
import pytest
import yaml

from aicd.config import AbConfig, CanaryConfig, KubernetesConfig
from aicd.deploy.kube.client import KubeClient, KubeError
from aicd.deploy.kube.target import KubeTarget
from aicd.deploy.target import Candidate
from aicd.errors import GateFailed, RolloutFailed
from aicd.examples import coffee as coffee_example
from aicd.gha import Actions
from aicd.simulate import send_traffic
from aicd.steps import deploy, monitor, train
from tests.act_runner import run_act
from tests.conftest import FEEDBACK_TOKEN, STEP_ENV
from tests.conftest import ROOT as REPO
from tests.integration.kube_node import RealNode
from tests.integration.prom_infra import PrometheusServer, kubernetes_prometheus

MODEL = "node-coffee"
ROW = {"age": 25, "visits_per_week": 3.5, "avg_spend": 5.0, "preferred_roast": "dark", "hour": 8,
       "coffee_roast": "dark", "coffee_price": 3.2, "coffee_sweetness": 0.7}
GH_ENV = {"GITHUB_SHA": "0123456789abcdef", "GITHUB_REPOSITORY": "acme/shop"}


@pytest.fixture(scope="module")
def images(mlflow_server, coffee, docker_engine, docker_registry, base_image):
    """Serving images of two versions of the model, built and pushed by action-deploy, and two broken
    derivatives: one whose server exits at start (crash loop), one that never answers /readyz."""
    uris, refs = [], []
    for seed in (0, 1):
        config = coffee["config"].parent / f"aicd-node-{seed}.yml"
        config.write_text(coffee["config"].read_text().replace("random_state: 0", f"random_state: {seed}"))
        trained = train.run({"data": str(coffee["data"]), "config": str(config), "tracking-uri": mlflow_server.uri,
                             "model-name": MODEL}, Actions({}), env=STEP_ENV)
        built = deploy.run({"model-uri": trained["model-uri"], "tracking-uri": mlflow_server.uri, "command": "build",
                            "base-image": base_image, "registry": docker_registry.host,
                            "registry-username": docker_registry.username,
                            "registry-password": docker_registry.password}, Actions({}), env=GH_ENV)
        uris.append(trained["model-uri"])
        refs.append(built["image"])
    crash = _derived(docker_engine, docker_registry, refs[1], "crash",
                     'ENTRYPOINT ["python3", "-c", "import sys; sys.exit(\'model file missing\')"]')
    silent = _derived(docker_engine, docker_registry, refs[1], "silent", 'ENTRYPOINT ["sleep", "3600"]')
    return {"uris": uris, "images": refs, "crash": crash, "silent": silent}


def _derived(engine, registry, image: str, tag: str, entrypoint: str) -> str:
    """``image`` with another entrypoint, pushed to the registry as ``<repo>:<tag>``."""
    ref = f"{image.rsplit(':', 1)[0]}:{tag}"
    engine.images.build(fileobj=io.BytesIO(f"FROM {image}\n{entrypoint}\n".encode()), tag=ref, rm=True)
    auth = {"username": registry.username, "password": registry.password}
    for line in engine.images.push(ref, stream=True, decode=True, auth_config=auth):
        assert "error" not in line, line
    return ref


@pytest.fixture
def namespace(node_namespace):
    return node_namespace


def node_config(**changes) -> KubernetesConfig:
    base = KubernetesConfig(replicas=2, progress_deadline_seconds=90, node_selector=dict(RealNode.SELECTOR),
                            tolerations=(dict(RealNode.TOLERATION),), image_pull_secrets=("registry",))
    return replace(base, **changes)


def target(cluster, namespace, **changes) -> KubeTarget:
    return KubeTarget(cluster.api(), MODEL, namespace, node_config(**changes), poll=0.25)


def candidate(images, index: int, image: str = "") -> Candidate:
    version = str(index + 1)
    return Candidate(images["uris"][index], None, {"model_version": version, "run_id": f"run-{version}"},
                     image or images["images"][index], "0123456789abcdef")


def pods(cluster, namespace) -> list[dict]:
    return [p for p in cluster.api().list("Pod", namespace, f"app.kubernetes.io/name={MODEL}")
            if not p["metadata"].get("deletionTimestamp")]


def ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def serving_versions(cluster, namespace) -> dict[str, int]:
    """Ready pods behind the Service, by model version (what the endpoints route to)."""
    counts: dict[str, int] = {}
    for pod in pods(cluster, namespace):
        if ready(pod):
            version = pod["metadata"]["labels"]["aicd.dev/model-version"]
            counts[version] = counts.get(version, 0) + 1
    return counts


def predict(url: str, timeout: float = 10) -> tuple[int, dict]:
    req = urllib.request.Request(f"{url}/predict", json.dumps(ROW).encode(), {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, dict(resp.headers)


def predict_soon(url: str, timeout: float = 10) -> tuple[int, dict]:
    """``predict`` once kube-proxy has written the Service's rules (it follows the EndpointSlices a moment
    after the pods get ready, as in any cluster). Each try waits 3 s at most: until kube-proxy drops a
    replaced pod from the rules, a connection it sends to that pod's address goes nowhere and only a
    timeout ends it, and one 10 s try would outlast the whole wait."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return predict(url, timeout=3)
        except urllib.error.URLError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def cluster_ip(cluster, namespace, service: str = MODEL) -> str:
    svc = cluster.api().get("Service", namespace, service)
    return f"http://{svc['spec']['clusterIP']}:8080"


def eventually(condition, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} not met within {timeout} s"
        time.sleep(0.25)


def test_the_node_pulls_the_image_action_deploy_built_and_runs_it_locked_down(
        kube_cluster, kube_node, mlflow_server, images, namespace, tmp_path):
    config = tmp_path / "aicd.yml"
    config.write_text(
        "deploy:\n  kubernetes:\n    replicas: 2\n    node-selector: {aicd.dev/node: real}\n"
        "    tolerations: [{key: aicd.dev/real-node, operator: Equal, value: 'true', effect: NoSchedule}]\n"
        "    image-pull-secrets: [registry]\n")
    out = deploy.run({"model-uri": images["uris"][0], "tracking-uri": mlflow_server.uri, "target": "kubernetes",
                      "kubeconfig": str(kube_cluster.kubeconfig), "namespace": namespace,
                      "image": images["images"][0], "config": str(config)}, Actions({}), env=GH_ENV)
    assert out["revision"] == "1" and out["image"] == images["images"][0]
    running = pods(kube_cluster, namespace)
    assert len(running) == 2 and all(ready(p) and p["spec"]["nodeName"] == kube_node.name for p in running)
    status = running[0]["status"]["containerStatuses"][0]
    assert status["imageID"].startswith(f"{images['images'][0].rsplit(':', 1)[0]}@sha256:")  # pulled from it
    # The runtime's own record of the container: what actually runs, not what was asked for.
    spec = json.loads(kube_node.ctr("containers", "info", status["containerID"].removeprefix("containerd://")))["Spec"]
    assert spec["process"]["user"]["uid"] == 65532 and spec["root"]["readonly"] is True
    assert spec["process"]["capabilities"].get("bounding", []) == []
    assert spec["linux"]["resources"]["memory"]["limit"] == 512 * 2**20
    assert spec["linux"]["resources"]["cpu"]["shares"] == 102  # requests.cpu 100m
    code, headers = predict(f"http://{running[0]['status']['podIP']}:8080")
    assert code == 200 and headers["x-model-version"] == "1"
    code, headers = predict_soon(cluster_ip(kube_cluster, namespace))  # through kube-proxy's Service rules
    assert code == 200 and headers["x-model-version"] == "1"


def _watch_capacity(cluster, namespace, version: str, replicas: int, stop: threading.Event, dips: list) -> None:
    while not stop.is_set():
        counts = serving_versions(cluster, namespace)
        if counts.get(version, 0) < replicas:
            dips.append(counts)
        time.sleep(0.1)


@pytest.mark.parametrize("broken", ["crash", "silent"])
def test_a_broken_candidate_is_rolled_back_and_the_previous_version_keeps_full_capacity(
        kube_cluster, kube_node, images, namespace, broken):
    t = target(kube_cluster, namespace, progress_deadline_seconds=20)
    t.deploy(candidate(images, 0))
    stop, dips = threading.Event(), []
    watcher = threading.Thread(target=_watch_capacity, args=(kube_cluster, namespace, "1", 2, stop, dips))
    watcher.start()
    started = time.monotonic()
    try:
        with pytest.raises(RolloutFailed) as failed:
            t.deploy(candidate(images, 1, images[broken]))
    finally:
        stop.set()
        watcher.join()
    took = time.monotonic() - started
    assert dips == [], f"version 1 lost ready pods during the rollout: {dips[:3]}"
    message = str(failed.value)
    assert "rolled back to revision 1" in message
    if broken == "crash":  # kubelet's verdict ends the wait long before the 20 s deadline
        assert "CrashLoopBackOff" in message or "restarted" in message, message
        assert took < 20, f"crash loop detected only after {took:.1f} s"
    else:
        assert "not ready within 20 s" in message
    recovered = failed.value.result.recovered_seconds
    assert recovered is not None and recovered < 10
    print(f"{broken}: rolled back after {took:.1f} s; previous version fully serving {recovered:.2f} s after "
          "detection")
    assert serving_versions(kube_cluster, namespace) == {"1": 2}
    assert predict_soon(cluster_ip(kube_cluster, namespace))[1]["x-model-version"] == "1"


def readme_scrape_job(cluster, namespace: str) -> dict:
    """The README's kubernetes scrape job, pointed at the tests' API server from outside the cluster."""
    text = (REPO / "README.md").read_text()
    block = next(b.split("```", 1)[0] for b in text.split("```yaml\n") if "job_name: aicd-kubernetes" in b)
    job = next(j for j in yaml.safe_load(block)["scrape_configs"] if j["job_name"] == "aicd-kubernetes")
    sd = job["kubernetes_sd_configs"][0]
    sd["namespaces"] = {"names": [namespace]}
    sd["api_server"] = cluster.server
    sd["tls_config"] = {"ca_file": str(cluster.pki["ca.crt"]), "cert_file": str(cluster.pki["admin.crt"]),
                        "key_file": str(cluster.pki["admin.key"])}
    return job


def pod_urls(cluster, namespace: str, track: str) -> list[str]:
    return [f"http://{p['status']['podIP']}:8080" for p in pods(cluster, namespace)
            if p["metadata"]["labels"]["aicd.dev/track"] == track and ready(p)]


def test_prometheus_discovers_the_pods_and_the_monitor_aborts_a_worse_canary(
        kube_cluster, kube_node, images, namespace, coffee, tmp_path):
    prom = PrometheusServer(tmp_path / "prometheus", jobs=[readme_scrape_job(kube_cluster, namespace)],
                            binary=kubernetes_prometheus())
    (tmp_path / "prometheus").mkdir()
    prom.start()
    try:
        cfg = node_config(replicas=4, strategy="canary", canary=CanaryConfig(steps=(25, 50, 100)))
        t = KubeTarget(kube_cluster.api(), MODEL, namespace, cfg, poll=0.25, feedback_token=FEEDBACK_TOKEN)
        t.deploy(candidate(images, 0))
        assert "canary" in t.deploy(candidate(images, 1)).state
        running = {p["metadata"]["name"] for p in pods(kube_cluster, namespace)}
        # Discovery follows the pods as they come and go: the stable pod the canary replaced drops out,
        # the canary's pod comes in (within a few scrapes).
        series = prom.wait_for(f'aicd_model_info{{model="{MODEL}", namespace="{namespace}"}}',
                               lambda r: {s["metric"]["pod"] for s in r} == running, timeout=60)
        assert sorted(s["metric"]["aicd_revision"] for s in series) == ["1", "1", "1", "2"]
        production = pd.read_csv(coffee["production"])
        (stable, *_), (canary,) = pod_urls(kube_cluster, namespace, "stable"), pod_urls(kube_cluster, namespace,
                                                                                          "canary")
        send_traffic(stable, production, coffee_example.LABEL, requests=300, seed=1, feedback_token=FEEDBACK_TOKEN)
        send_traffic(canary, production, coffee_example.LABEL, requests=300, seed=2, flip_share=0.4,
                     feedback_token=FEEDBACK_TOKEN)
        prom.wait_for(f'sum(aicd_feedback_total{{model="{MODEL}", namespace="{namespace}"}})',
                      lambda r: r and float(r[0]["value"][1]) >= 600, timeout=30)
        config = tmp_path / "aicd.yml"
        # A scheduled monitor's aicd.yml that knows nothing of the deploy's replicas or placement: the
        # abort must still bring stable back to 4 pods on the tainted node, pulling with its Secret.
        config.write_text("monitor: {min-samples: 100, min-accuracy: 0.7}\n")
        with pytest.raises(GateFailed, match="production gate: rollback") as refused:
            monitor.run({"prometheus-url": prom.url, "model": MODEL, "config": str(config), "compare": "canary",
                         "selector": f'namespace="{namespace}"', "on-failure": "rollback", "target": "kubernetes",
                         "kubeconfig": str(kube_cluster.kubeconfig), "namespace": namespace,
                         "report": str(tmp_path / "monitor.json")}, Actions({}), env=STEP_ENV)
    finally:
        prom.stop()
    out = refused.value.outputs
    assert out["decision"] == "rollback" and out["rolled-back"] == "true"
    evidence = json.loads(out["evidence"])
    assert evidence["samples"]["canary"]["feedback"] == 300 and evidence["samples"]["stable"]["feedback"] == 300
    assert ("online-accuracy", "vs stable") in {(c["metric"], c["test"]) for c in evidence["checks"]
                                                if c["verdict"] == "fail"}
    assert serving_versions(kube_cluster, namespace) == {"1": 4}  # the canary's pod is gone, stable back at 4
    assert predict_soon(cluster_ip(kube_cluster, namespace))[1]["x-model-version"] == "1"


def versions_seen(url: str, users: range) -> dict[str, str]:
    """The model version that answered each user (``x-user-id``), through ``url``."""
    seen = {}
    for user in users:
        req = urllib.request.Request(f"{url}/predict", json.dumps(ROW).encode(),
                                     {"content-type": "application/json", "x-user-id": f"user-{user}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            seen[f"user-{user}"] = resp.headers["x-model-version"]
    return seen


def test_a_healthy_canary_is_promoted_step_by_step_to_all_pods(kube_cluster, kube_node, images, namespace):
    t = target(kube_cluster, namespace, replicas=2, strategy="canary", canary=CanaryConfig(steps=(50, 100)))
    t.deploy(candidate(images, 0))
    assert "50 %" in t.deploy(candidate(images, 1)).state
    assert serving_versions(kube_cluster, namespace) == {"1": 1, "2": 1}
    seen = set()
    deadline = time.monotonic() + 20
    while seen != {"1", "2"} and time.monotonic() < deadline:  # kube-proxy spreads connections over both
        seen.add(predict_soon(cluster_ip(kube_cluster, namespace))[1]["x-model-version"])
    assert seen == {"1", "2"}
    assert "promoted" in t.promote().state
    eventually(lambda: serving_versions(kube_cluster, namespace) == {"2": 2}, what="only version 2 serving")


def test_blue_green_switches_real_traffic_and_a_rollback_switches_it_back(kube_cluster, kube_node, images,
                                                                          namespace):
    t = target(kube_cluster, namespace, strategy="blue-green")
    t.deploy(candidate(images, 0))
    t.deploy(candidate(images, 1))
    url = cluster_ip(kube_cluster, namespace)
    # The Service selects green at once; kube-proxy follows its EndpointSlices a moment later.
    eventually(lambda: predict_soon(url)[1]["x-model-version"] == "2", timeout=10, what="green answering")
    started = time.monotonic()
    t.rollback()
    assert eventually(lambda: predict_soon(url)[1]["x-model-version"] == "1", timeout=10)
    switched = time.monotonic() - started
    print(f"blue-green rollback: version 1 answering through the Service {switched:.2f} s after the command")
    assert switched < 10


def test_ab_routes_each_user_to_one_variant_inside_the_cluster_and_promote_keeps_b(
        kube_cluster, kube_node, images, namespace):
    t = target(kube_cluster, namespace, strategy="ab", ab=AbConfig(split=50))
    t.deploy(candidate(images, 0))
    t.deploy(candidate(images, 1))
    router = cluster_ip(kube_cluster, namespace)  # the router pods, which reach a and b by their Services
    # The Service moved from a's pods to the router's: until kube-proxy follows, a answers directly.
    eventually(lambda: "x-aicd-variant" in {k.lower() for k in predict_soon(router)[1]}, timeout=10,
               what="the router answering through the Service")
    first = versions_seen(router, range(40))
    assert set(first.values()) == {"1", "2"}  # both variants get users
    assert versions_seen(router, range(40)) == first  # and each user stays on one
    t.promote()

    def only_b() -> bool:  # the old router pods and a's pods leave, kube-proxy follows a moment later
        try:
            return set(versions_seen(router, range(10)).values()) == {"2"}
        except urllib.error.URLError:
            return False
    eventually(only_b, timeout=20, what="every user on b")


CALLER = """\
name: kubernetes pipeline
on:
  workflow_dispatch:
    inputs:
      data: {required: true}
      config: {required: true}
      tracking-uri: {required: true}
      namespace: {required: true}
      base-image: {required: true}
      registry: {required: true}
      registry-username: {required: true}
permissions: {}
jobs:
  pipeline:
    permissions: {contents: read}
    uses: ./.github/workflows/aicd-pipeline.yml
    with:
      data: ${{ inputs.data }}
      config: ${{ inputs.config }}
      tracking-uri: ${{ inputs.tracking-uri }}
      target: kubernetes
      namespace: ${{ inputs.namespace }}
      base-image: ${{ inputs.base-image }}
      registry: ${{ inputs.registry }}
      registry-username: ${{ inputs.registry-username }}
    secrets:
      kubeconfig: ${{ secrets.AICD_KUBECONFIG }}
      registry-password: ${{ secrets.AICD_REGISTRY_PASSWORD }}
      feedback-token: ${{ secrets.AICD_FEEDBACK_TOKEN }}
  outputs:
    needs: pipeline
    runs-on: ubuntu-latest
    permissions: {}
    steps:
      - env:
          OUT_MODEL_VERSION: ${{ needs.pipeline.outputs.model-version }}
          OUT_ENDPOINT: ${{ needs.pipeline.outputs.endpoint }}
          OUT_REVISION: ${{ needs.pipeline.outputs.revision }}
          OUT_IMAGE: ${{ needs.pipeline.outputs.image }}
          OUT_DECISION: ${{ needs.pipeline.outputs.decision }}
        run: |
          python3 - <<'PY'
          import json, os
          outputs = {k[4:].lower().replace("_", "-"): v for k, v in os.environ.items() if k.startswith("OUT_")}
          print("AICD_OUTPUTS=" + json.dumps(outputs, sort_keys=True))
          PY
"""


def test_the_pipeline_template_under_act_ships_to_the_real_node_as_a_tenant(
        kube_cluster, kube_node, action_venv, mlflow_server, docker_registry, base_image, coffee, namespace,
        tmp_path):
    import re

    from aicd.deploy.kube.manifests import tenant_manifests

    api = kube_cluster.api()
    for manifest in tenant_manifests("acme", namespace)[1:]:  # the namespace exists, with its pull Secret
        api.apply(manifest)
    token = kube_cluster.token_for(namespace, "aicd-deployer")  # the tenant's ServiceAccount, not admin
    workflow, config = tmp_path / "kubernetes-pipeline.yml", tmp_path / "aicd.yml"
    workflow.write_text(CALLER)
    config.write_text(coffee["config"].read_text() + "deploy:\n  kubernetes:\n    replicas: 2\n"
                      "    node-selector: {aicd.dev/node: real}\n"
                      "    tolerations: [{key: aicd.dev/real-node, value: 'true', effect: NoSchedule}]\n"
                      "    image-pull-secrets: [registry]\n")
    inputs = {"data": str(coffee["data"]), "config": str(config), "tracking-uri": mlflow_server.uri,
              "namespace": namespace, "base-image": base_image, "registry": docker_registry.host,
              "registry-username": docker_registry.username}
    env = {"AICD_REGISTRY_PASSWORD": docker_registry.password, "AICD_FEEDBACK_TOKEN": FEEDBACK_TOKEN,
           "AICD_KUBECONFIG": kube_cluster.kubeconfig_for(token, "acme").read_text()}
    proc = run_act(workflow, inputs, tmp_path / "act-home", secrets=env, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert docker_registry.password not in proc.stdout and token not in proc.stdout  # masked
    out = json.loads(re.search(r"AICD_OUTPUTS=(\{.*\})", proc.stdout).group(1))
    assert out["revision"] == "1" and out["image"].startswith(f"{docker_registry.host}/")
    assert out["endpoint"] == f"http://coffee-recommender.{namespace}.svc.cluster.local:8080"
    assert out["decision"] == ""  # no prometheus-url: the production gate is left to the scheduled monitor
    running = [p for p in api.list("Pod", namespace, "app.kubernetes.io/name=coffee-recommender") if ready(p)]
    assert len(running) == 2 and {p["spec"]["nodeName"] for p in running} == {kube_node.name}
    code, headers = predict_soon(cluster_ip(kube_cluster, namespace, "coffee-recommender"))
    assert code == 200 and headers["x-model-version"] == out["model-version"]
    tenant = KubeClient.from_kubeconfig(kube_cluster.kubeconfig_for(token, "acme"))
    with pytest.raises(KubeError, match="forbidden") as refused:  # another tenant's namespace: refused
        tenant.list("Pod", "aicd-other-tenant", "")
    assert refused.value.status == 403


def test_aicd_itself_in_a_pod_rolls_back_with_the_pods_service_account(
        kube_cluster, kube_node, images, namespace, toolkit_image, pods_reach_the_api):
    """In-cluster config, live: the training image (aicd with its whole lock) runs `aicd deploy --command
    rollback` in a pod with no kubeconfig — only the tenant ServiceAccount's mounted token and CA,
    reaching the API server through the `kubernetes` Service."""
    from aicd.deploy.kube.manifests import tenant_manifests

    api = kube_cluster.api()
    for manifest in tenant_manifests("acme", namespace)[1:]:
        api.apply(manifest)
    t = target(kube_cluster, namespace, replicas=1)
    t.deploy(candidate(images, 0))
    t.deploy(candidate(images, 1))
    assert serving_versions(kube_cluster, namespace) == {"2": 1}
    placement = {"replicas": 1, "node-selector": dict(RealNode.SELECTOR), "tolerations": [dict(RealNode.TOLERATION)],
                 "image-pull-secrets": ["registry"]}
    api.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "aicd-config", "namespace": namespace},
               "data": {"aicd.yml": yaml.safe_dump({"deploy": {"kubernetes": placement}})}})
    security = {"runAsNonRoot": True, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]}}
    api.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "aicd-rollback", "namespace": namespace},
                "spec": {"serviceAccountName": "aicd-deployer", "restartPolicy": "Never",
                         "nodeSelector": dict(RealNode.SELECTOR), "tolerations": [dict(RealNode.TOLERATION)],
                         "imagePullSecrets": [{"name": "registry"}],
                         "containers": [{"name": "aicd", "image": toolkit_image, "securityContext": security,
                                         "args": ["deploy", "--target", "kubernetes", "--command", "rollback",
                                                  "--model-uri", f"models:/{MODEL}@champion", "--config",
                                                  "/config/aicd.yml", "--namespace", namespace],
                                         "volumeMounts": [{"name": "config", "mountPath": "/config"},
                                                          {"name": "tmp", "mountPath": "/tmp"}]}],
                         "volumes": [{"name": "config", "configMap": {"name": "aicd-config"}},
                                     {"name": "tmp", "emptyDir": {}}]}})
    deadline = time.monotonic() + 240
    while (phase := api.get("Pod", namespace, "aicd-rollback")["status"].get("phase")) not in ("Succeeded", "Failed"):
        assert time.monotonic() < deadline, f"the aicd pod is still {phase}"
        time.sleep(0.5)
    log = "\n".join(api.log_lines(namespace, "aicd-rollback", "aicd", timeout=30))
    print(log)
    assert phase == "Succeeded", log
    assert "revision 1" in log, log
    assert serving_versions(kube_cluster, namespace) == {"1": 1}
    assert t.current().model_version == "1"

"""The kubernetes target on a real kubelet node (tests/integration/kube_node.py): real containers from
the images action-deploy built and pushed, real probes, Services through kube-proxy.

Every test runs in a namespace of its own holding the registry's pull Secret; the namespace is deleted
afterwards and its pods are gone from the node before the next test starts.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import replace

import pytest

from aicd.config import KubernetesConfig
from aicd.deploy.kube.target import KubeTarget
from aicd.deploy.target import Candidate
from aicd.errors import RolloutFailed
from aicd.gha import Actions
from aicd.steps import deploy, train
from tests.conftest import STEP_ENV
from tests.integration.kube_node import RealNode

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
def namespace(kube_cluster, kube_node, docker_registry, request):
    """A namespace with the registry's pull Secret ``registry``; deleted (and its pods gone) afterwards."""
    digest = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:6]  # parametrized runs differ
    name = f"n-{digest}-" + request.node.name.replace("_", "-")[5:36].strip("-")
    kube_cluster.create_namespace(name)
    api = kube_cluster.api()
    auth = base64.b64encode(f"{docker_registry.username}:{docker_registry.password}".encode()).decode()
    config = {"auths": {docker_registry.host: {"username": docker_registry.username,
                                               "password": docker_registry.password, "auth": auth}}}
    api.apply({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
               "metadata": {"name": "registry", "namespace": name},
               "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()}})
    yield name
    api.request("DELETE", f"/api/v1/namespaces/{name}")
    deadline = time.monotonic() + 90
    while api.list("Pod", name, "") and time.monotonic() < deadline:
        time.sleep(0.5)


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


def predict(url: str) -> tuple[int, dict]:
    req = urllib.request.Request(f"{url}/predict", json.dumps(ROW).encode(), {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, dict(resp.headers)


def predict_soon(url: str, timeout: float = 10) -> tuple[int, dict]:
    """``predict`` once kube-proxy has written the Service's rules (it follows the EndpointSlices a moment
    after the pods get ready, as in any cluster)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return predict(url)
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

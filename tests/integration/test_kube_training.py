"""``model.runner: kubernetes`` on the real node: the training image `aicd image train` built, pulled by
the node, a Job in a tenant's namespace that reads its data from a mounted PersistentVolumeClaim and
records its run in an MLflow server on the node's bridge — scheduled by a (fake, advertised)
``nvidia.com/gpu``, streamed into the step's log, refused by the gate, stopped by its deadline, and
cancelled.

The step runs as a user runs it: ``python -m aicd train`` with the tenant ServiceAccount's kubeconfig
(the Role of ``tenant_manifests``), never admin.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from aicd.deploy.kube.manifests import tenant_manifests
from aicd.examples.churn import churn_frame
from tests.conftest import ROOT as REPO
from tests.integration.conftest import MlflowServer
from tests.integration.kube_node import ROOT as NODE_ROOT
from tests.integration.kube_node import RealNode

MODEL = "churn-job"
SECRET_TOKEN = "mlflow-s3cret-9f8e7d"  # handed to the Job through its Secret; must never appear in its spec
GPU_PATH = "/status/capacity/nvidia.com~1gpu"


@pytest.fixture(scope="module")
def toolkit(toolkit_image) -> str:
    return toolkit_image


@pytest.fixture(scope="module")
def bridge_mlflow(kube_node, tmp_path_factory):
    """MLflow listening on the node's bridge address, where both the pods and this host reach it."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-bridge"), host=kube_node.ip)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gpus(kube_cluster, kube_node):
    """Two fake ``nvidia.com/gpu`` on the node: its status capacity patched, the documented way to
    advertise an extended resource; taken away again afterwards."""
    api = kube_cluster.api()
    path = f"/api/v1/nodes/{kube_node.name}/status"
    api.request("PATCH", path, [{"op": "add", "path": GPU_PATH, "value": "2"}], "application/json-patch+json")
    deadline = time.monotonic() + 30
    while api.request("GET", f"/api/v1/nodes/{kube_node.name}")["status"].get("allocatable", {}).get(
            "nvidia.com/gpu") != "2":
        assert time.monotonic() < deadline, "the node never offered the advertised GPUs"
        time.sleep(0.5)
    yield 2
    api.request("PATCH", path, [{"op": "remove", "path": GPU_PATH}], "application/json-patch+json")


@pytest.fixture
def tenant(kube_cluster, node_namespace, tmp_path):
    """The namespace as a tenant has it: the deployer ServiceAccount and its Role, a claim on a volume
    holding the training table, and a kubeconfig acting as that ServiceAccount."""
    api = kube_cluster.api()
    for manifest in tenant_manifests("acme", node_namespace)[1:]:
        api.apply(manifest)
    folder = NODE_ROOT / "volumes" / node_namespace
    folder.mkdir(parents=True, exist_ok=True)
    for path in (NODE_ROOT, NODE_ROOT / "volumes", folder):
        path.chmod(0o755)
    churn_frame(rows=3000, seed=3).to_csv(folder / "churn.csv", index=False)
    (folder / "churn.csv").chmod(0o644)
    pv = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": node_namespace},
          "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                   "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": str(folder), "type": "Directory"},
                   "claimRef": {"namespace": node_namespace, "name": "training-data"}}}
    api.request("POST", "/api/v1/persistentvolumes", pv)
    api.request("POST", f"/api/v1/namespaces/{node_namespace}/persistentvolumeclaims", {
               "apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": "training-data", "namespace": node_namespace},
               "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "", "volumeName": node_namespace,
                        "resources": {"requests": {"storage": "1Gi"}}}})
    token = kube_cluster.token_for(node_namespace, "aicd-deployer")
    yield {"namespace": node_namespace, "kubeconfig": kube_cluster.kubeconfig_for(token, node_namespace),
           "dir": tmp_path}
    api.request("DELETE", f"/api/v1/namespaces/{node_namespace}/persistentvolumeclaims/training-data")
    api.request("DELETE", f"/api/v1/persistentvolumes/{node_namespace}")


def write_config(folder: Path, image: str, *, thresholds=None, limits=None, deadline: int = 300,
                 params=None) -> None:
    config = {
        "data": {"label": "churned"},
        "model": {"name": MODEL, "thresholds": thresholds or {"roc_auc": 0.6},
                  "params": params or {"n_estimators": 50, "random_state": 0},
                  "runner": "kubernetes",
                  "kubernetes": {"image": image, "node-selector": dict(RealNode.SELECTOR),
                                 "tolerations": [dict(RealNode.TOLERATION)], "image-pull-secrets": ["registry"],
                                 "resources": {"requests": {"cpu": "100m", "memory": "256Mi"},
                                               "limits": {"memory": "1536Mi", **(limits or {})}},
                                 "volumes": [{"claim": "training-data", "mount": "/data"}],
                                 "active-deadline-seconds": deadline}},
    }
    (folder / "aicd.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


class Step:
    """``python -m aicd train`` as the runner starts it, its output read as it comes."""

    def __init__(self, tenant: dict, mlflow_uri: str):
        folder = tenant["dir"]
        self.outputs, self.summary = folder / "outputs.txt", folder / "summary.md"
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO / "shared"), "HOME": str(folder),
               "KUBECONFIG": str(tenant["kubeconfig"]), "MLFLOW_TRACKING_URI": mlflow_uri,
               "MLFLOW_TRACKING_TOKEN": SECRET_TOKEN, "GITHUB_SHA": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
               "GITHUB_OUTPUT": str(self.outputs), "GITHUB_STEP_SUMMARY": str(self.summary),
               "MLFLOW_DISABLE_TELEMETRY": "true"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "aicd", "train", "--data", "/data/churn.csv", "--config", "aicd.yml",
             "--namespace", tenant["namespace"]], cwd=folder, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait(self, timeout: float = 400) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError("the step did not end:\n" + self.text) from None
        self._reader.join(timeout=10)
        self.proc.stdout.close()
        return code

    def wait_for(self, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(needle in line for line in self.lines):
            assert self.proc.poll() is None, f"the step ended before {needle!r}:\n{self.text}"
            assert time.monotonic() < deadline, f"no {needle!r} in the step's log:\n{self.text}"
            time.sleep(0.2)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def output(self, name: str) -> str:
        text = self.outputs.read_text() if self.outputs.exists() else ""
        parts = text.split(f"{name}<<")
        if len(parts) < 2:
            return ""
        delimiter, _, rest = parts[1].partition("\n")
        return rest.split("\n" + delimiter)[0]


def jobs(api, namespace: str) -> list[dict]:
    return api.request("GET", f"/apis/batch/v1/namespaces/{namespace}/jobs").get("items", [])


def versions(server: MlflowServer) -> list:
    client = server.client()
    if not client.search_registered_models(f"name = '{MODEL}'"):
        return []
    return client.search_model_versions(f"name = '{MODEL}'")


def test_a_job_trains_on_the_gpu_node_streams_its_log_and_registers_what_its_gate_passed(
        kube_cluster, kube_node, toolkit, bridge_mlflow, gpus, tenant):
    write_config(tenant["dir"], toolkit, limits={"nvidia.com/gpu": 1})
    step = Step(tenant, bridge_mlflow.uri)
    assert step.wait() == 0, step.text
    text = step.text
    print(text)
    assert f"scheduled on node {kube_node.name}" in text
    assert "  │ aicd train: 3,000 labelled rows of /data/churn.csv" in text  # the Job's own log, streamed
    assert step.output("passed") == "true"
    assert step.output("model-uri") == f"models:/{MODEL}/1"
    assert SECRET_TOKEN not in text
    summary = step.summary.read_text()
    assert "aicd model gate — passed" in summary and "Trained on Kubernetes" in summary
    assert kube_node.name in summary

    api = kube_cluster.api()
    (job,) = jobs(api, tenant["namespace"])
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert SECRET_TOKEN not in str(job)  # the credential is in the Job's Secret, not its spec
    (pod,) = api.list("Pod", tenant["namespace"], f"batch.kubernetes.io/job-name={job['metadata']['name']}")
    assert pod["spec"]["nodeName"] == kube_node.name
    (version,) = versions(bridge_mlflow)
    run = bridge_mlflow.client().get_run(version.run_id)
    assert run.data.tags["aicd.job"] == f"{tenant['namespace']}/{job['metadata']['name']}"
    assert run.data.tags["aicd.gate"] == "passed"


def test_the_gate_refusing_in_the_job_is_one_line_and_nothing_is_registered(
        kube_cluster, kube_node, toolkit, bridge_mlflow, tenant):
    before = len(versions(bridge_mlflow))
    write_config(tenant["dir"], toolkit, thresholds={"roc_auc": 0.999})
    step = Step(tenant, bridge_mlflow.uri)
    assert step.wait() == 1, step.text
    last = step.lines[-1]
    assert last.startswith("error: model gate failed: roc_auc") and "nothing was registered" in last, step.text
    assert "Traceback" not in step.text
    assert len(versions(bridge_mlflow)) == before


def test_a_job_that_no_node_can_take_passes_its_deadline_and_leaves_nothing(
        kube_cluster, kube_node, toolkit, bridge_mlflow, gpus, tenant):
    before = len(versions(bridge_mlflow))
    write_config(tenant["dir"], toolkit, limits={"nvidia.com/gpu": gpus + 1}, deadline=15)
    step = Step(tenant, bridge_mlflow.uri)
    assert step.wait() == 1, step.text
    assert "waiting for a node: 0/" in step.text and "Insufficient nvidia.com/gpu" in step.text
    last = step.lines[-1]
    assert "passed its active deadline of 15 s" in last and "nothing was registered" in last, step.text
    assert len(versions(bridge_mlflow)) == before


def fitting(tenant: dict, image: str, server: MlflowServer) -> Step:
    """A step whose Job is in the middle of a long fit (the log says it started fitting)."""
    write_config(tenant["dir"], image, params={"n_estimators": 20_000, "random_state": 0, "n_jobs": 1})
    step = Step(tenant, server.uri)
    step.wait_for("on the training split", timeout=240)
    return step


def test_cancelling_the_step_deletes_the_job_and_its_pod_and_registers_nothing(
        kube_cluster, kube_node, toolkit, bridge_mlflow, tenant):
    before = len(versions(bridge_mlflow))
    step = fitting(tenant, toolkit, bridge_mlflow)
    api = kube_cluster.api()
    assert len(jobs(api, tenant["namespace"])) == 1
    cancelled = time.monotonic()
    step.proc.send_signal(signal.SIGINT)  # what the runner sends first when a workflow is cancelled
    time.sleep(1)
    step.proc.send_signal(signal.SIGTERM)  # and then (7.5 s later on GitHub; sooner here): the cleanup goes on
    assert step.wait(timeout=60) == 130, step.text
    assert "Traceback" not in step.text
    assert "the step was cancelled: deleting Job" in step.text
    deadline = time.monotonic() + 30
    while jobs(api, tenant["namespace"]) or api.list("Pod", tenant["namespace"], "app.kubernetes.io/component="
                                                                                 "training"):
        assert time.monotonic() < deadline, "the Job or its pod outlived the cancellation"
        time.sleep(0.5)
    print(f"cancelled: Job and pod gone {time.monotonic() - cancelled:.1f} s after SIGINT")
    assert len(versions(bridge_mlflow)) == before


def test_an_evicted_training_pod_is_one_line_and_registers_nothing(
        kube_cluster, kube_node, toolkit, bridge_mlflow, tenant):
    """The Eviction API, as a node drain or a preemption uses it, on the pod while it fits."""
    before = len(versions(bridge_mlflow))
    step = fitting(tenant, toolkit, bridge_mlflow)
    api = kube_cluster.api()
    (pod,) = api.list("Pod", tenant["namespace"], "app.kubernetes.io/component=training")
    name = pod["metadata"]["name"]
    api.request("POST", f"/api/v1/namespaces/{tenant['namespace']}/pods/{name}/eviction",
                {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name,
                                                                             "namespace": tenant["namespace"]}})
    assert step.wait(timeout=120) == 1, step.text
    last = step.lines[-1]
    assert f"the pod was evicted from node {kube_node.name}" in last and "nothing was registered" in last, step.text
    assert "Traceback" not in step.text
    assert len(versions(bridge_mlflow)) == before

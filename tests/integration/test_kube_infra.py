"""The test control plane itself (tests/integration/kube_infra.py): real etcd, kube-apiserver,
kube-controller-manager and kube-scheduler, with kwok nodes that run pods without containers.

Each test checks the real component doing the work: the Deployment and ReplicaSet controllers and the
scheduler bring a Deployment to full availability on the fake nodes; kwok leaves pods of an image named
``...unready...`` not ready, so a rollout of such a version exceeds its progress deadline; the API
server's authentication (TokenRequest) and RBAC let a ServiceAccount read pods only where its Role is
bound. Requests are plain HTTPS (urllib), so a failure here is the cluster's, not the aicd client's.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.integration.kube_infra import NODES


class Api:
    """Plain HTTPS to the test API server, as the admin (client certificate) or with a bearer token."""

    def __init__(self, cluster, token: str = ""):
        self.server, self.token = cluster.server, token
        self.context = ssl.create_default_context(cafile=str(cluster.ca_file))
        if not token:
            user = yaml.safe_load(Path(cluster.kubeconfig).read_text())["users"][0]["user"]
            self.context.load_cert_chain(user["client-certificate"], user["client-key"])

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=20, context=self.context) as resp:
                return resp.status, _body(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, _body(err.read())

    def ok(self, method: str, path: str, body: dict | None = None) -> dict:
        status, obj = self.call(method, path, body)
        assert status < 300, f"{method} {path}: HTTP {status}: {obj.get('message')}"
        return obj


def _body(raw: bytes) -> dict:
    try:
        return json.loads(raw or b"{}")
    except ValueError:  # /readyz and friends answer plain text
        return {"text": raw.decode(errors="replace")}


def wait_for(what: str, check, timeout: float = 30.0, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def condition(obj: dict, kind: str) -> dict:
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == kind), {})


def deployment(name: str, image: str, replicas: int) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas,
                     "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": image,
                                                           "resources": {"requests": {"cpu": "100m"}}}]}}}}


def pod(name: str, image: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": image}]}}


@pytest.fixture(scope="module")
def admin(kube_cluster) -> Api:
    return Api(kube_cluster)


def namespace(admin: Api, name: str) -> str:
    admin.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    # The ServiceAccount controller gives every new namespace its `default` ServiceAccount, and the
    # ServiceAccount admission plugin refuses pods until it exists.
    wait_for(f"ServiceAccount {name}/default",
             lambda: admin.call("GET", f"/api/v1/namespaces/{name}/serviceaccounts/default")[0] == 200)
    return name


def test_the_control_plane_is_real_and_serves_the_pinned_release(kube_cluster, admin):
    assert admin.ok("GET", "/version")["gitVersion"].startswith("v1.")
    for check in ("etcd", "poststarthook/rbac/bootstrap-roles", "informer-sync"):
        assert admin.call("GET", f"/readyz/{check}")[0] == 200, check
    nodes = admin.ok("GET", "/api/v1/nodes")["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == sorted(NODES)
    for node in nodes:
        assert condition(node, "Ready")["status"] == "True"
        assert node["status"]["allocatable"]["pods"] == "110" and not node["spec"].get("taints")


def test_a_deployment_of_three_replicas_becomes_fully_available(kube_cluster, admin):
    ns = namespace(admin, "infra-deploy")
    admin.ok("POST", f"/apis/apps/v1/namespaces/{ns}/deployments",
             deployment("web", "registry.example/web:1", replicas=3))

    def available():
        dep = admin.ok("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/web")
        status = dep.get("status", {})
        done = (status.get("observedGeneration") == dep["metadata"]["generation"]
                and status.get("updatedReplicas") == status.get("availableReplicas") == status.get("readyReplicas") == 3
                and condition(dep, "Available").get("status") == "True")
        return dep if done else None

    dep = wait_for("3 available replicas", available)
    assert condition(dep, "Progressing")["reason"] == "NewReplicaSetAvailable"
    pods = admin.ok("GET", f"/api/v1/namespaces/{ns}/pods?labelSelector=app%3Dweb")["items"]
    assert len(pods) == 3
    for p in pods:
        assert p["spec"]["nodeName"] in NODES  # placed by kube-scheduler
        assert p["status"]["phase"] == "Running" and condition(p, "Ready")["status"] == "True"  # run by kwok
        assert p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"  # made by the ReplicaSet controller
        assert p["spec"]["serviceAccountName"] == "default"  # ServiceAccount admission ran


def test_pods_of_an_unready_image_are_scheduled_but_never_become_ready(kube_cluster, admin):
    ns = namespace(admin, "infra-unready")
    base = f"/api/v1/namespaces/{ns}/pods"
    admin.ok("POST", base, pod("fine", "registry.example/web:2"))
    admin.ok("POST", base, pod("stuck", "registry.example/web:2-unready"))
    # The control pod proves kwok is handling this namespace, so the other one is held back on purpose.
    wait_for("the control pod to become ready",
             lambda: condition(admin.ok("GET", f"{base}/fine"), "Ready").get("status") == "True")
    stuck = wait_for("the unready pod to be scheduled",
                     lambda: (p := admin.ok("GET", f"{base}/stuck"))["spec"].get("nodeName") and p)
    assert stuck["spec"]["nodeName"] in NODES
    time.sleep(3)
    stuck = admin.ok("GET", f"{base}/stuck")
    assert condition(stuck, "Ready").get("status") != "True"
    assert stuck["status"]["phase"] == "Pending"


def test_a_rollout_of_a_never_ready_version_exceeds_its_progress_deadline(kube_cluster, admin):
    ns = namespace(admin, "infra-rollout")
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    admin.ok("POST", path, deployment("web", "registry.example/web:1", replicas=2))
    wait_for("version 1 available",
             lambda: admin.ok("GET", f"{path}/web").get("status", {}).get("availableReplicas") == 2)
    dep = admin.ok("GET", f"{path}/web")
    dep["spec"]["progressDeadlineSeconds"] = 3
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example/web:2-unready"
    admin.ok("PUT", f"{path}/web", dep)  # a new version whose pods never become ready

    def stalled():
        d = admin.ok("GET", f"{path}/web")
        return d if condition(d, "Progressing").get("reason") == "ProgressDeadlineExceeded" else None

    dep = wait_for("ProgressDeadlineExceeded", stalled, timeout=40)
    status = dep["status"]
    # maxUnavailable 25% of 2 rounds down to 0: the old pods keep serving while the new one hangs.
    assert status["availableReplicas"] == 2 and status["updatedReplicas"] >= 1
    assert status.get("unavailableReplicas", 0) >= 1


def test_a_service_account_may_list_pods_only_where_its_role_is_bound(kube_cluster, admin):
    team, other = namespace(admin, "infra-rbac-a"), namespace(admin, "infra-rbac-b")
    admin.ok("POST", f"/api/v1/namespaces/{team}/serviceaccounts",
             {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "deployer"}})
    admin.ok("POST", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{team}/roles",
             {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "pod-reader"},
              "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]})
    admin.ok("POST", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{team}/rolebindings",
             {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "deployer"},
              "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
              "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": team}]})

    token = kube_cluster.token_for(team, "deployer")
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["sub"] == f"system:serviceaccount:{team}:deployer"
    sa = Api(kube_cluster, token)
    review = sa.ok("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                   {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert review["status"]["userInfo"]["username"] == f"system:serviceaccount:{team}:deployer"

    status, body = sa.call("GET", f"/api/v1/namespaces/{team}/pods")
    assert status == 200 and body["kind"] == "PodList"
    status, body = sa.call("GET", f"/api/v1/namespaces/{other}/pods")
    assert status == 403 and body["reason"] == "Forbidden"
    assert f"system:serviceaccount:{team}:deployer" in body["message"]
    status, _ = sa.call("POST", f"/api/v1/namespaces/{team}/pods", pod("nope", "registry.example/web:1"))
    assert status == 403  # the Role grants reading only
    assert Api(kube_cluster, "not-a-token").call("GET", f"/api/v1/namespaces/{team}/pods")[0] == 401

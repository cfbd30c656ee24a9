"""Logging in to the real test API server the ways managed clusters and in-cluster runners do:
an exec credential plugin (as EKS, GKE and AKS kubeconfigs), a token that expires under a running
deploy, an HTTP CONNECT proxy (``proxy-url``), and the in-cluster service account."""

import base64
import select
import socket
import socketserver
import sys
import threading
from pathlib import Path

import pytest
import yaml

from aicd.deploy.kube.client import KubeClient
from aicd.deploy.kube.login import in_cluster
from aicd.deploy.kube.manifests import tenant_manifests
from aicd.errors import KubeError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def deployer(kube_cluster):
    """A tenant namespace with its deployer ServiceAccount and that account's token."""
    admin = kube_cluster.api()
    for obj in tenant_manifests("login", "aicd-login"):
        admin.apply(obj)
    kube_cluster.create_namespace("aicd-login")
    return kube_cluster.token_for("aicd-login", "aicd-deployer")


def kubeconfig(cluster, tmp_path: Path, user: dict, **cluster_extra) -> Path:
    ca = base64.b64encode(Path(cluster.ca_file).read_bytes()).decode()
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "ctx",
           "clusters": [{"name": "test", "cluster": {"server": cluster.server, "certificate-authority-data": ca,
                                                     **cluster_extra}}],
           "users": [{"name": "ci", "user": user}],
           "contexts": [{"name": "ctx", "context": {"cluster": "test", "user": "ci"}}]}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path


def exec_user(tmp_path: Path, tokens: list[str]) -> tuple[dict, Path]:
    """A plugin that answers with the next of ``tokens`` each time it runs, counting its runs."""
    (tmp_path / "tokens").write_text("\n".join(tokens))
    calls = tmp_path / "calls"
    script = tmp_path / "get-token.py"
    script.write_text(
        "import json, pathlib\n"
        f"calls = pathlib.Path({str(calls)!r}); n = int(calls.read_text()) if calls.exists() else 0\n"
        "calls.write_text(str(n + 1))\n"
        f"tokens = pathlib.Path({str(tmp_path / 'tokens')!r}).read_text().splitlines()\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',\n"
        "                  'status': {'token': tokens[min(n, len(tokens) - 1)]}}))\n")
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                     "args": [str(script)], "interactiveMode": "Never"}}, calls


def test_an_exec_plugin_logs_in_and_is_refused_outside_its_namespace(kube_cluster, deployer, tmp_path):
    user, calls = exec_user(tmp_path, [deployer])
    api = KubeClient.from_kubeconfig(kubeconfig(kube_cluster, tmp_path, user))
    api.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "hello", "namespace": "aicd-login"}})
    assert "hello" in [c["metadata"]["name"] for c in api.list("ConfigMap", "aicd-login")]
    with pytest.raises(KubeError) as refused:
        api.get("ConfigMap", "kube-system", "anything")
    assert refused.value.status == 403 and "user `ci` may not GET" in str(refused.value)
    assert calls.read_text() == "1"  # one run, then the token is kept


def test_a_token_the_server_stops_accepting_is_fetched_again_once(kube_cluster, deployer, tmp_path):
    user, calls = exec_user(tmp_path, ["expired-token", deployer])
    api = KubeClient.from_kubeconfig(kubeconfig(kube_cluster, tmp_path, user))
    assert api.get("ConfigMap", "aicd-login", "nothing-here") is None  # 401, plugin again, then a 404
    assert calls.read_text() == "2"


def test_a_plugin_token_that_is_never_accepted_is_one_401_line(kube_cluster, tmp_path):
    user, calls = exec_user(tmp_path, ["bad"])
    api = KubeClient.from_kubeconfig(kubeconfig(kube_cluster, tmp_path, user))
    with pytest.raises(KubeError) as refused:
        api.get("ConfigMap", "aicd-login", "x")
    assert refused.value.status == 401 and "user `ci`" in str(refused.value)
    assert calls.read_text() == "2"  # fetched again once, not in a loop


class ConnectProxy(socketserver.ThreadingTCPServer):
    """An HTTP CONNECT proxy on loopback that tunnels to loopback only and counts its tunnels."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Tunnel)
        self.tunnels: list[str] = []


class _Tunnel(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline().decode()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        verb, target, _ = line.split(" ", 2)
        host, port = target.rsplit(":", 1)
        if verb != "CONNECT" or host not in ("127.0.0.1", "localhost"):
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\n\r\n")
            return
        self.server.tunnels.append(target)
        upstream = socket.create_connection((host, int(port)), timeout=10)
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        sockets = [self.connection, upstream]
        for _ in range(10_000):  # bounded: a tunnel carries a few requests
            ready, _, _ = select.select(sockets, [], [], 5)
            if not ready:
                break
            for s in ready:
                data = s.recv(65536)
                if not data:
                    upstream.close()
                    return
                (upstream if s is self.connection else self.connection).sendall(data)
        upstream.close()


@pytest.fixture
def proxy():
    server = ConnectProxy()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_kubeconfigs_proxy_url_carries_every_request(kube_cluster, deployer, proxy, tmp_path):
    url = f"http://127.0.0.1:{proxy.server_address[1]}"
    api = KubeClient.from_kubeconfig(kubeconfig(kube_cluster, tmp_path, {"token": deployer}, **{"proxy-url": url}))
    assert api.get("ConfigMap", "aicd-login", "absent") is None
    assert proxy.tunnels and all(t == kube_cluster.server.removeprefix("https://") for t in proxy.tunnels)


def test_a_proxy_that_is_down_names_itself(kube_cluster, deployer, tmp_path):
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{free.getsockname()[1]}"
    free.close()
    api = KubeClient.from_kubeconfig(kubeconfig(kube_cluster, tmp_path, {"token": deployer}, **{"proxy-url": url}))
    with pytest.raises(KubeError, match=f"through the proxy {url}"):
        api.get("ConfigMap", "aicd-login", "absent")


def test_in_cluster_the_pods_service_account_logs_in(kube_cluster, deployer, tmp_path):
    root = tmp_path / "serviceaccount"
    root.mkdir()
    (root / "token").write_text(deployer)
    (root / "ca.crt").write_bytes(Path(kube_cluster.ca_file).read_bytes())
    host, port = kube_cluster.server.removeprefix("https://").rsplit(":", 1)
    api = KubeClient.from_login(in_cluster({"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port}, root))
    assert api.get("ConfigMap", "aicd-login", "absent") is None
    (root / "token").write_text("rotated-and-wrong")  # the kubelet rotates it; a 401 reads it again
    api.credentials.token = "stale"
    with pytest.raises(KubeError) as refused:
        api.get("ConfigMap", "aicd-login", "absent")
    assert refused.value.status == 401 and "this pod's service account" in str(refused.value)

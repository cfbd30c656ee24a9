"""A real kubelet node in the tests' cluster: containers run, probes are real, Services reach pods.

``kube_node`` joins one node, ``aicd-node-0``, to the control plane of ``kube_cluster``:
- **containerd** (Debian's 1.6, which comes with docker.io) under its own config, root, state and
  socket, so it never touches Docker's. CRI on; ``restrict_oom_score_adj`` (this VM forbids lowering
  oom_score_adj: without it every sandbox fails with runc's "can't get final child's PID from pipe");
  the pause image is a static C program built and imported here (no image can be pulled); the tests'
  registry (``docker_registry``) is a plain-HTTP mirror, and pods pull from it with an imagePullSecret.
- **CNI**: Debian's plugins, one bridge (``aicd-cni0``, 10.244.0.1/24) made here; the node's IP is the
  bridge's, so pods reach the host there and nothing else.
- **kubelet** and **kube-proxy** (iptables mode) of the control plane's release, from
  ``scripts/install-kube``. kubelet: ``failCgroupV1: false`` (1.35+ refuses cgroup v1 hosts otherwise),
  cgroupfs driver, x509 clients of the cluster CA, webhook authorization (the API server's client
  certificate streams logs). kube-proxy leaves the host's conntrack settings and NodePorts alone.
- The node is tainted ``aicd.dev/real-node=true:NoSchedule`` so the many kwok tests never land on it;
  its pods tolerate it (``RealNode.TOLERATION``) and select it (``RealNode.SELECTOR``).

Nothing outlives the fixture, and a run that was killed is cleaned up by the next one: everything
lives under two fixed folders (``ROOT`` and ``RUN``), whose leftovers — containers and their shims,
network namespaces, kubelet's tmpfs mounts, kubepods cgroups, the bridge, the FORWARD rule and the
KUBE-* chains of kubelet and kube-proxy — are removed before starting and after stopping.
Needs root (CI and these machines run the suite as root); without it the fixture fails, never skips.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import gzip
import hashlib
import io
import json
import os
import platform
import shlex
import signal
import socket
import subprocess
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from tests.conftest import ROOT as REPO

__all__ = ["RealNode", "kube_node"]

NAME = "aicd-node-0"
ROOT = Path("/var/lib/aicd-test-node")  # fixed, so that a killed run's leftovers are found by the next
RUN = Path("/run/aicd-test-node")
BRIDGE = "aicd-cni0"
SUBNET, BRIDGE_IP = "10.244.0.0/24", "10.244.0.1"
PAUSE_IMAGE = "aicd.local/pause:3"
# Traffic within the bridge is accepted (Docker's FORWARD policy is DROP); traffic from the pods to any
# other interface is dropped: the node's pods reach the host and each other, never the outside.
FORWARD_RULES = (
    ["FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-m", "comment", "--comment", "aicd-test-node", "-j", "ACCEPT"],
    ["FORWARD", "-i", BRIDGE, "!", "-o", BRIDGE, "-m", "comment", "--comment", "aicd-test-node", "-j", "DROP"],
)
CGROUPS = Path("/sys/fs/cgroup")
CGROUP_ROOT = "aicd-test-node"  # kubelet's cgroupRoot: the pods' cgroups are ours by name
SYSCTLS = ("vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
           "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes")
# Not restored: net.ipv4.ip_forward, which the CNI bridge plugin turns on for its gateway and which Docker's
# engine, running beside the node in these tests, turns on and needs as well.
ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
LOCK = Path("/run/aicd-test-node.lock")

PAUSE_C = r"""
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
    signal(SIGINT, quit); signal(SIGTERM, quit); signal(SIGCHLD, reap);
    for (;;) pause();
}
"""


@dataclass
class RealNode:
    """The running node. ``ip`` is the bridge address: pods reach the host there."""

    TOLERATION: ClassVar[dict] = {"key": "aicd.dev/real-node", "operator": "Equal", "value": "true",
                                  "effect": "NoSchedule"}
    SELECTOR: ClassVar[dict] = {"aicd.dev/node": "real"}

    name: str
    ip: str
    logs: Path
    procs: dict = field(default_factory=dict)

    def ctr(self, *args: str, timeout: float = 120) -> str:
        return _ctr(*args, timeout=timeout)

    def log(self, component: str) -> str:
        path = self.logs / f"{component}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


@pytest.fixture(scope="session")
def kube_node(kube_cluster, docker_registry, tmp_path_factory):
    _require_root()
    bin_dir = Path(kube_cluster.bin_dir)
    logs = tmp_path_factory.mktemp("node")
    node = RealNode(NAME, BRIDGE_IP, logs)
    with open(LOCK, "w") as lock:
        try:  # one node per machine: a second test run would tear down this one's
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another test run owns the real node ({LOCK} is locked); wait for it") from None
        foreign = _foreign_kube()
        if foreign:
            raise RuntimeError(f"the real node would share this host's iptables with another node: {foreign}")
        clean(bin_dir)
        yield from _running(node, kube_cluster, docker_registry.host, bin_dir)


def _running(node: RealNode, cluster, registry: str, bin_dir: Path):
    try:
        _start(node, cluster, registry, bin_dir)
        yield node
    finally:
        _stop(node, cluster, bin_dir)


# -- start ---------------------------------------------------------------------------------------------
def _require_root() -> None:
    if os.geteuid() != 0:
        raise RuntimeError("the real-node tests run kubelet and containerd, which need root")
    for need in ("/usr/bin/containerd", "/usr/lib/cni/bridge", "/usr/sbin/iptables"):
        if not Path(need).exists():
            out = subprocess.run([str(REPO / "scripts/install-test-packages")], capture_output=True, text=True,
                                 timeout=900)
            if not Path(need).exists():
                raise RuntimeError(f"scripts/install-test-packages did not provide {need}: {out.stderr[-2000:]}")


def _start(node: RealNode, cluster, registry: str, bin_dir: Path) -> None:
    started = time.monotonic()
    for folder in (ROOT / "cni", ROOT / "kubelet", ROOT / "pods-logs", RUN):
        folder.mkdir(parents=True, exist_ok=True)  # (clean() removed any earlier run's)
    _bridge_up()
    (ROOT / "cni" / "10-aicd.conflist").write_text(json.dumps(_cni_config()))
    (ROOT / "containerd.toml").write_text(_containerd_config(registry))
    node.procs["containerd"] = _run(node, "containerd", ["/usr/bin/containerd", "--config",
                                                         str(ROOT / "containerd.toml")])
    _wait(lambda: _ctr_ok(), 30, "containerd did not answer", node, "containerd")
    _ctr("images", "import", "--no-unpack=false", str(_pause_archive()))
    pki = cluster.pki
    kubeconfig = ROOT / "kubelet.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(_kubeconfig(cluster.server, pki["ca.crt"], pki["node.crt"], pki["node.key"])))
    (ROOT / "kubelet.yaml").write_text(yaml.safe_dump(_kubelet_config(pki["ca.crt"])))
    _save_sysctls()
    for controller in CGROUPS.iterdir():  # kubelet wants its cgroupRoot to exist in every controller
        if controller.is_dir() and not controller.is_symlink() and (controller / "cgroup.procs").exists():
            (controller / CGROUP_ROOT).mkdir(exist_ok=True)
    node.procs["kubelet"] = _run(node, "kubelet", [
        str(bin_dir / "kubelet"), "--config", str(ROOT / "kubelet.yaml"), "--kubeconfig", str(kubeconfig),
        "--hostname-override", NAME, "--node-ip", BRIDGE_IP, "--root-dir", str(ROOT / "kubelet"),
        "--cert-dir", str(ROOT / "kubelet" / "pki"), "--node-labels", "aicd.dev/node=real,type=real",
        "--register-with-taints", "aicd.dev/real-node=true:NoSchedule", "--v=1"])
    (ROOT / "kube-proxy.yaml").write_text(yaml.safe_dump(_proxy_config(cluster.kubeconfig)))
    node.procs["kube-proxy"] = _run(node, "kube-proxy", [str(bin_dir / "kube-proxy"), "--config",
                                                         str(ROOT / "kube-proxy.yaml"), "--v=1"])
    api = cluster.api()
    _wait(lambda: _node_ready(api), 90, "the node did not become Ready", node, "kubelet")
    _wait(_proxy_synced, 60, "kube-proxy wrote no Service rules", node, "kube-proxy")
    print(f"real kubelet node ready in {time.monotonic() - started:.1f} s")


def _run(node: RealNode, name: str, argv: list[str]) -> subprocess.Popen:
    """Start a node component in its own process group; its PID goes to ``RUN/<name>.pid`` so that the
    next run ends it if this one is killed before its teardown."""
    with open(node.logs / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    (RUN / f"{name}.pid").write_text(str(proc.pid))
    return proc


def _wait(ready, timeout: float, what: str, node: RealNode, component: str) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        proc = node.procs.get(component)
        if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
            raise RuntimeError(f"{what}: {node.log(component)}")
        time.sleep(0.3)


def _node_ready(api) -> bool:
    nodes = api.request("GET", "/api/v1/nodes").get("items", [])
    node = next((n for n in nodes if n["metadata"]["name"] == NAME), {})
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node.get("status", {}).get("conditions", []))


def _proxy_synced() -> bool:
    """kube-proxy's first full sync ends its KUBE-SERVICES chain with the jump to KUBE-NODEPORTS."""
    out = subprocess.run(["iptables", "-w", "-t", "nat", "-S", "KUBE-SERVICES"], capture_output=True, text=True)
    return out.returncode == 0 and "KUBE-NODEPORTS" in out.stdout


def _bridge_up() -> None:
    _ip("link", "add", BRIDGE, "type", "bridge")
    _ip("addr", "add", f"{BRIDGE_IP}/24", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")
    # A pod reaching a ClusterIP is routed by the host from the bridge back onto it (after kube-proxy's
    # DNAT): forwarding on this interface only, never the host-wide switch.
    Path(f"/proc/sys/net/ipv4/conf/{BRIDGE}/forwarding").write_text("1")
    for rule in reversed(FORWARD_RULES):  # each inserted first: ACCEPT ends above DROP
        subprocess.run(["iptables", "-w", "-I", *rule], check=True, capture_output=True)


def _cni_config() -> dict:
    return {"cniVersion": "0.4.0", "name": "aicd", "plugins": [
        {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "isDefaultGateway": True, "ipMasq": False,
         "hairpinMode": True,
         "ipam": {"type": "host-local", "dataDir": str(ROOT / "cni-ipam"), "ranges": [[{
             "subnet": SUBNET, "gateway": BRIDGE_IP, "rangeStart": "10.244.0.10"}]]}},
        {"type": "loopback"}]}


def _containerd_config(registry: str) -> str:
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{ROOT}/containerd"
state = "{RUN}/containerd"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "{RUN}/containerd.sock"
[ttrpc]
  address = "{RUN}/containerd.sock.ttrpc"
[debug]
  level = "warn"
[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[{cri}.containerd.runtimes.runc.options]
  Root = "{RUN}/runc"
[{cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{ROOT}/cni"
[{cri}.registry.mirrors."{registry}"]
  endpoint = ["http://{registry}"]
"""


def _kubelet_config(ca: Path) -> dict:
    from tests.integration.conftest import free_port

    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "failCgroupV1": False, "cgroupDriver": "cgroupfs", "failSwapOn": False,
        "containerRuntimeEndpoint": f"unix://{RUN}/containerd.sock",
        "address": BRIDGE_IP, "port": free_port(), "readOnlyPort": 0, "healthzPort": 0,
        "authentication": {"x509": {"clientCAFile": str(ca)}, "webhook": {"enabled": True},
                           "anonymous": {"enabled": False}},
        "authorization": {"mode": "Webhook"},
        "podLogsDir": str(ROOT / "pods-logs"), "resolvConf": "/etc/resolv.conf",
        "cgroupRoot": f"/{CGROUP_ROOT}", "volumePluginDir": str(ROOT / "volume-plugins"),
        "serializeImagePulls": False, "registerNode": True, "maxPods": 50,
        # A nearly full disk must not evict the tests' pods; memory pressure still does.
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
        "nodeStatusUpdateFrequency": "2s", "syncFrequency": "10s",
    }


def _proxy_config(admin_kubeconfig: Path) -> dict:
    from tests.integration.conftest import free_port

    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(admin_kubeconfig)}, "hostnameOverride": NAME,
        "mode": "iptables", "clusterCIDR": SUBNET, "bindAddress": BRIDGE_IP,
        "healthzBindAddress": "", "metricsBindAddress": f"127.0.0.1:{free_port()}",
        "nodePortAddresses": [f"{BRIDGE_IP}/32"],  # not localhost: that would set route_localnet host-wide
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        "iptables": {"syncPeriod": "30s", "minSyncPeriod": "0s"},
    }


def _kubeconfig(server: str, ca: Path, cert: Path, key: Path) -> dict:
    return {"apiVersion": "v1", "kind": "Config", "current-context": "node",
            "clusters": [{"name": "test", "cluster": {"server": server, "certificate-authority": str(ca)}}],
            "users": [{"name": "node", "user": {"client-certificate": str(cert), "client-key": str(key)}}],
            "contexts": [{"name": "node", "context": {"cluster": "test", "user": "node"}}]}


# -- the pause image: built here, as no image can be pulled --------------------------------------------
def _pause_archive() -> Path:
    """A one-layer OCI archive of a static ``/pause``; cached outside the repository by the source's hash."""
    cache = Path(os.environ.get("AICD_CACHE_DIR") or Path.home() / ".cache/aicd") / "pause"
    digest = hashlib.sha256(PAUSE_C.encode()).hexdigest()[:16]
    archive = cache / f"pause-{digest}.tar"
    if archive.exists():
        return archive
    cache.mkdir(parents=True, exist_ok=True)
    source, binary = cache / "pause.c", cache / f"pause-{digest}"
    source.write_text(PAUSE_C)
    built = subprocess.run(["gcc", "-static", "-Os", "-s", "-o", str(binary), str(source)], capture_output=True,
                           text=True)
    if built.returncode != 0:
        raise RuntimeError(f"building the pause image needs gcc and a static libc (libc6-dev): {built.stderr[-1000:]}")
    tmp = archive.with_suffix(".tmp")
    tmp.write_bytes(oci_archive(PAUSE_IMAGE, {"pause": binary.read_bytes()}, ["/pause"]))
    tmp.rename(archive)
    return archive


def oci_archive(ref: str, files: dict[str, bytes], entrypoint: list[str], user: str = "65535") -> bytes:
    """An OCI image layout archive of one layer holding ``files`` (mode 0755) that ``ctr images import``
    loads as ``ref``."""
    layer_tar = io.BytesIO()
    with tarfile.open(fileobj=layer_tar, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    diff_id = "sha256:" + hashlib.sha256(layer_tar.getvalue()).hexdigest()
    layer = gzip.compress(layer_tar.getvalue(), mtime=0)
    config = json.dumps({"architecture": ARCH, "os": "linux",
                         "config": {"Entrypoint": entrypoint, "User": user},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()

    def descriptor(media: str, data: bytes) -> dict:
        return {"mediaType": media, "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}

    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": descriptor("application/vnd.oci.image.config.v1+json", config),
                           "layers": [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer)]}).encode()
    index = {"schemaVersion": 2, "manifests": [{
        **descriptor("application/vnd.oci.image.manifest.v1+json", manifest),
        "platform": {"architecture": ARCH, "os": "linux"},
        "annotations": {"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[1]}}]}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", json.dumps(index).encode())
        for blob in (config, manifest, layer):
            add(f"blobs/sha256/{hashlib.sha256(blob).hexdigest()}", blob)
    return out.getvalue()


# -- stop and clean --------------------------------------------------------------------------------------
def _stop(node: RealNode, cluster, bin_dir: Path) -> None:
    with contextlib.suppress(Exception):
        _drain(cluster.api())
    for name in ("kube-proxy", "kubelet"):
        _end(node.procs.get(name))
    with contextlib.suppress(Exception):
        cluster.api().request("DELETE", f"/api/v1/nodes/{NAME}")
    clean(bin_dir, containerd=node.procs.get("containerd"))


def _drain(api, timeout: float = 60) -> None:
    """Delete every pod on the node and wait until kubelet has stopped them (their sandboxes' network
    namespaces are torn down by CNI then)."""
    selector = f"spec.nodeName={NAME}"
    pods = api.request("GET", f"/api/v1/pods?fieldSelector={selector}").get("items", [])
    for pod in pods:
        meta = pod["metadata"]
        with contextlib.suppress(Exception):
            api.request("DELETE", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
                        {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 1})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and api.request("GET", f"/api/v1/pods?fieldSelector={selector}")["items"]:
        time.sleep(0.5)


def _end(proc: subprocess.Popen | None, timeout: float = 20) -> None:
    from tests.integration.conftest import stop_group

    stop_group(proc, timeout)


def clean(bin_dir: Path, containerd: subprocess.Popen | None = None) -> None:
    """Remove everything a node run leaves, whether it stopped cleanly or was killed: idempotent. Only
    what a run of this fixture made is touched, found through ``ROOT`` and ``RUN`` (nothing there: a
    first run, nothing to do). Every step runs even when an earlier one fails; the failures are raised
    together at the end, and the folders are only deleted once nothing is mounted under them."""
    if not ROOT.exists() and not RUN.exists():
        return
    errors: list[str] = []

    def step(what: str, action, *args) -> None:
        try:
            action(*args)
        except Exception as exc:  # each step is independent: all failures are reported together
            errors.append(f"{what}: {exc}")

    for name in ("kube-proxy", "kubelet"):
        step(f"ending {name}", _end_recorded, name)
    if containerd is None:  # a killed run's containerd is restarted below, on its state, to stop its pods
        step("ending containerd", _end_recorded, "containerd")
    if (ROOT / "containerd.toml").exists():
        own = containerd if containerd is not None and containerd.poll() is None else _restart_containerd()
        step("removing containers", _remove_containers)
        step("stopping containerd", _end, own)
    step("ending leftover shims", _kill_leftover_processes)
    step("removing iptables rules", _remove_chains)
    step("unmounting", _unmount_under, ROOT, RUN)
    step("deleting the bridge", _delete_bridge)
    step("removing cgroups", _remove_cgroups)
    step("restoring sysctls", _restore_sysctls)
    still = _mounts_under(ROOT, RUN)
    if still:
        errors.append(f"still mounted, folders kept: {', '.join(still[:3])}")
    else:
        for folder in (ROOT, RUN):
            if folder.exists():
                subprocess.run(["rm", "-rf", "--one-file-system", str(folder)], check=True, timeout=120)
    if errors:
        raise RuntimeError("cleaning the real node: " + "; ".join(errors))


def _end_recorded(name: str) -> None:
    """End the process group of a component a killed run left, found by its PID file and checked to be
    ours (its command line names ``ROOT``): a reused PID is left alone."""
    pid = _int((RUN / f"{name}.pid").read_text()) if (RUN / f"{name}.pid").exists() else None
    if pid is None or str(ROOT).encode() not in _cmdline(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _restart_containerd() -> subprocess.Popen | None:
    """containerd on the leftover state, so that it stops the containers it knows of (a killed run)."""
    RUN.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(["/usr/bin/containerd", "--config", str(ROOT / "containerd.toml")],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    (RUN / "containerd.pid").write_text(str(proc.pid))  # a cleanup killed now is finished by the next one
    deadline = time.monotonic() + 20
    while not _ctr_ok():
        if proc.poll() is not None or time.monotonic() > deadline:
            _end(proc)
            return None
        time.sleep(0.3)
    return proc


def _remove_containers() -> None:
    if not _ctr_ok():
        return
    for task in _ctr("tasks", "ls", "-q").split():
        with contextlib.suppress(subprocess.CalledProcessError):
            _ctr("tasks", "kill", "-s", "SIGKILL", task)
    deadline = time.monotonic() + 20
    for task in _ctr("tasks", "ls", "-q").split():
        while time.monotonic() < deadline:
            try:
                _ctr("tasks", "delete", task)
                break
            except subprocess.CalledProcessError:
                time.sleep(0.3)
    for container in _ctr("containers", "ls", "-q").split():
        with contextlib.suppress(subprocess.CalledProcessError):
            _ctr("containers", "delete", container)


def _kill_leftover_processes() -> None:
    """Shims and container processes still alive after containerd, found by the PID files in our state
    and checked before the signal: a shim's command line names our socket; a container's init process
    has the start time runc recorded (a reused PID has another)."""
    for pid_file in RUN.glob("containerd/io.containerd.runtime.v2.task/*/*/shim.pid"):
        pid = _int(pid_file.read_text())
        if pid and b"containerd-shim" in _cmdline(pid) and str(RUN).encode() in _cmdline(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for state_file in RUN.glob("runc/*/*/state.json"):
        try:
            state = json.loads(state_file.read_text())
        except (ValueError, OSError):
            continue
        pid, started = state.get("init_process_pid"), state.get("init_process_start")
        if pid and started and _start_time(pid) == int(started):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot), which runc records as init_process_start."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def _remove_chains() -> None:
    """Our FORWARD rules, then the chains of this node's kubelet and kube-proxy (iptables mode: KUBE-*,
    never IPVS or nftables, which ``kube-proxy --cleanup`` would flush host-wide). ``_foreign_kube``
    refused to start beside another kubelet or kube-proxy, so every KUBE- chain here is this node's."""
    for rule in FORWARD_RULES:
        with contextlib.suppress(subprocess.CalledProcessError):
            while True:  # a rule may have been inserted more than once by runs that were killed
                subprocess.run(["iptables", "-w", "-D", *rule], check=True, capture_output=True)
    for tool in ("iptables", "ip6tables"):
        for table in ("filter", "nat", "mangle"):
            _remove_kube_chains(tool, table)


def _kube_chains(tool: str, table: str) -> tuple[list[str], list[list[str]]]:
    listing = subprocess.run([tool, "-w", "-t", table, "-S"], capture_output=True, text=True)
    if listing.returncode != 0:
        return [], []
    rules = [shlex.split(line) for line in listing.stdout.splitlines()]  # comments are quoted
    return [r[1] for r in rules if r[:1] == ["-N"] and r[1].startswith("KUBE-")], rules


def _remove_kube_chains(tool: str, table: str) -> None:
    chains, rules = _kube_chains(tool, table)
    if not chains:
        return
    for rule in rules:  # jumps into the chains first, then the chains
        if rule[:1] == ["-A"] and rule[1] not in chains and any(c in rule for c in chains):
            subprocess.run([tool, "-w", "-t", table, "-D", *rule[1:]], capture_output=True)
    for verb in ("-F", "-X"):
        for chain in chains:
            subprocess.run([tool, "-w", "-t", table, verb, chain], capture_output=True)


def _foreign_kube() -> str:
    """What would make this node's chains indistinguishable from another's: KUBE- chains with no run of
    ours to explain them, or a kubelet / kube-proxy that is not ours."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        argv0 = _cmdline(int(pid)).split(b"\0")[0]
        if argv0.rsplit(b"/", 1)[-1] in (b"kubelet", b"kube-proxy") and str(ROOT).encode() not in _cmdline(int(pid)):
            return f"another {argv0.decode(errors='replace')} runs here (pid {pid})"
    chains = _kube_chains("iptables", "filter")[0] + _kube_chains("iptables", "nat")[0]
    if chains and not ROOT.exists():
        return f"iptables has KUBE- chains of another Kubernetes node ({chains[0]} ...)"
    return ""


def _mounts_under(*folders: Path) -> list[str]:
    prefixes = tuple(f"{f}/" for f in folders)
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return sorted({m for m in mounts if m.startswith(prefixes) or m in map(str, folders)}, key=len, reverse=True)


def _unmount_under(*folders: Path) -> None:
    """Unmount (deepest first) every mount under the folders: kubelet's tmpfs volumes, overlay root file
    systems, network namespace files."""
    for point in _mounts_under(*folders):
        if subprocess.run(["umount", point], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", point], capture_output=True)


def _delete_bridge() -> None:
    if Path(f"/sys/class/net/{BRIDGE}").exists():
        _ip("link", "del", BRIDGE)


def _remove_cgroups() -> None:
    """The node's cgroup tree (kubelet's ``cgroupRoot``) in each controller, leaves first."""
    for tree in CGROUPS.glob(f"*/{CGROUP_ROOT}"):
        for folder in sorted((p for p in tree.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                folder.rmdir()
        with contextlib.suppress(OSError):
            tree.rmdir()


def _save_sysctls() -> None:
    """kubelet sets kernel tunables to its liking (panic on oops, reboot after 10 s, always overcommit):
    the host's values are kept here and put back by ``clean``."""
    saved = ROOT / "sysctls.json"
    if not saved.exists():
        saved.write_text(json.dumps({k: Path(f"/proc/sys/{k}").read_text().strip() for k in SYSCTLS
                                     if Path(f"/proc/sys/{k}").exists()}))


def _restore_sysctls() -> None:
    saved = ROOT / "sysctls.json"
    if saved.exists():
        for key, value in json.loads(saved.read_text()).items():
            Path(f"/proc/sys/{key}").write_text(value)


# -- small tools ------------------------------------------------------------------------------------------
def _ctr(*args: str, timeout: float = 120) -> str:
    out = subprocess.run(["ctr", "--address", f"{RUN}/containerd.sock", "--namespace", "k8s.io", *args],
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise subprocess.CalledProcessError(out.returncode, ["ctr", *args], out.stdout, out.stderr)
    return out.stdout


def _ctr_ok() -> bool:
    if not Path(f"{RUN}/containerd.sock").exists():
        return False
    try:
        _ctr("version", timeout=5)
        return True
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return False


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


# -- for the tests ------------------------------------------------------------------------------------
@pytest.fixture
def node_namespace(kube_cluster, kube_node, docker_registry, request):
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


@pytest.fixture(scope="session")
def toolkit_image(docker_engine, docker_registry, base_image) -> str:
    """The training image `aicd image train` builds, pushed to the registry the node pulls from."""
    from aicd.deploy.image import Recipe
    from aicd.deploy.toolkit import build_toolkit

    started = time.monotonic()
    built = build_toolkit(docker_engine, Recipe(base=base_image, registry=docker_registry.host,
                                                username=docker_registry.username, password=docker_registry.password))
    print(f"training image {built.reference} ({built.size_mb:.0f} MB) ready in {time.monotonic() - started:.1f} s")
    return built.reference


@pytest.fixture(scope="session")
def pods_reach_the_api(kube_cluster, kube_node):
    """In-cluster config for the node's pods: the `kubernetes` Service (10.96.0.1:443, in the API server's
    certificate) gets an EndpointSlice at the bridge address, where a forwarder hands connections to the
    API server on loopback. The API server runs with --endpoint-reconciler-type=none, so this slice is
    the Service's only endpoint; it is removed again afterwards."""
    api = kube_cluster.api()
    port = int(kube_cluster.server.rsplit(":", 1)[1])
    forwarder = _Forwarder(kube_node.ip, ("127.0.0.1", port))
    path = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
    api.request("POST", path, {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": "kubernetes-aicd-node", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "endpoints": [{"addresses": [kube_node.ip], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": forwarder.port, "protocol": "TCP"}]})
    try:
        yield forwarder.port
    finally:
        with contextlib.suppress(Exception):
            api.request("DELETE", f"{path}/kubernetes-aicd-node")
        forwarder.close()


class _Forwarder:
    """A TCP forwarder from ``(host, ephemeral port)`` to ``target``: one thread per connection."""

    def __init__(self, host: str, target: tuple[str, int]):
        self.target = target
        self.sock = socket.create_server((host, 0))
        self.port = self.sock.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe_both, args=(client,), daemon=True).start()

    def _pipe_both(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)

    def close(self) -> None:
        self.closed = True
        self.sock.close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        src.close()

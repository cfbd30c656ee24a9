"""A real Docker engine, a real registry with auth, and a local Python base image for the tests.

- ``docker_engine``: the engine at DOCKER_HOST (or unix:///var/run/docker.sock) when it answers
  ``/_ping``; otherwise ``dockerd`` is started here in its own process group and stopped at the end of
  the session. Yields a ``docker.DockerClient``.
- ``docker_registry``: Debian's ``docker-registry`` (distribution v2) on a free loopback port, storage in
  a temp dir, htpasswd auth with a generated user and password. Yields a ``LocalRegistry``.
- ``base_image``: ``scripts/build-base-image`` (bookworm + python3 + ca-certificates, cached outside the
  repository); returns the image name.

The Debian packages behind them come from ``scripts/install-test-packages``, run here when a binary is missing.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

__all__ = ["LocalRegistry", "base_image", "docker_engine", "docker_registry"]

DEFAULT_HOST = "unix:///var/run/docker.sock"


def _ensure_installed(binary: str) -> None:
    if not Path(binary).exists():
        out = subprocess.run([str(ROOT / "scripts/install-test-packages")], capture_output=True, text=True, timeout=900)
        if out.returncode != 0 or not Path(binary).exists():
            raise RuntimeError(f"scripts/install-test-packages did not provide {binary}: {out.stderr[-2000:]}")


def _stop_group(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM to the process group, then SIGKILL if it is still there after ``timeout`` seconds."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:] if path.exists() else ""


def _ping(host: str) -> bool:
    """Whether the engine answers ``GET /_ping`` with 200. A unix socket is asked directly: the SDK leaks
    its socket when the connect fails (a ResourceWarning, an error under this project's pytest settings)."""
    if host.startswith("unix://"):
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(5)
                sock.connect(host.removeprefix("unix://"))
                sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                return sock.recv(64).split(b"\r\n", 1)[0].split()[1:2] == [b"200"]
        except OSError:
            return False
    import docker

    client = docker.APIClient(base_url=host, version="1.24", timeout=5)
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory):
    import docker

    host = os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    proc = None
    if not _ping(host):
        if not host.startswith("unix://"):
            raise RuntimeError(f"DOCKER_HOST={host} does not answer, and only a unix socket is started here")
        _ensure_installed("/usr/sbin/dockerd")
        # dockerd's defaults: data-root /var/lib/docker, storage driver overlay2. On this machine
        # /var/lib/docker is on the ext4 root disk (d_type, native overlay diff), so overlay2 works as is
        # and images built by one session (the serving images' layers) stay for the next. Where
        # /var/lib/docker is itself on overlayfs (Docker in Docker), overlay2 cannot stack and dockerd would
        # fall back to vfs (a full copy per layer; not seen here): point --data-root at a non-overlay disk.
        # Only the default daemon is started: a second dockerd beside it needs its own exec-root, pidfile and
        # socket, and one started with --bridge=none deletes the docker0 bridge the first one uses.
        cmd = ["/usr/sbin/dockerd"] + ([] if host == DEFAULT_HOST else ["-H", host])
        log = tmp_path_factory.mktemp("dockerd") / "dockerd.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
        deadline = time.monotonic() + 60
        while not _ping(host):
            if proc.poll() is not None or time.monotonic() > deadline:
                _stop_group(proc, 10)
                raise RuntimeError(f"dockerd did not answer on {host} (exit {proc.returncode}): {_tail(log)}")
            time.sleep(0.2)
    client = docker.DockerClient(base_url=host, timeout=300)
    try:
        yield client
    finally:
        client.close()
        if proc is not None:
            _stop_group(proc, 30)  # dockerd stops its containers and its containerd on SIGTERM


@dataclass
class LocalRegistry:
    host: str  # "127.0.0.1:PORT"
    username: str
    password: str

    def tags(self, repository: str) -> list[str]:
        """The repository's tags via the registry's HTTP API; [] for a repository it does not have."""
        auth = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        req = urllib.request.Request(f"http://{self.host}/v2/{repository}/tags/list",
                                     headers={"Authorization": f"Basic {auth}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read())["tags"] or []
        except urllib.error.HTTPError as err:
            err.close()
            if err.code == 404:
                return []
            raise


def _registry_answers(port: int, realm: str) -> bool:
    """True once /v2/ asks for our realm: a 401 from another server on the port does not count."""
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
    except urllib.error.HTTPError as err:
        err.close()
        return err.code == 401 and f'realm="{realm}"' in err.headers.get("WWW-Authenticate", "")
    except OSError:
        return False
    return False


@pytest.fixture(scope="session")
def docker_registry(tmp_path_factory):
    import bcrypt

    from tests.integration.conftest import free_port

    _ensure_installed("/usr/bin/docker-registry")
    root = tmp_path_factory.mktemp("registry")
    user, password = "aicd", secrets.token_urlsafe(16)
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(5)).decode()
    (root / "htpasswd").write_text(f"{user}:{hashed}\n")
    for _attempt in range(3):  # free_port() is free when asked; another process may take it before us
        port, realm = free_port(), f"aicd-test-{secrets.token_hex(4)}"
        config = {  # JSON is YAML
            "version": "0.1",
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(root / "data")}, "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
            "auth": {"htpasswd": {"realm": realm, "path": str(root / "htpasswd")}},
        }
        (root / "config.yml").write_text(json.dumps(config, indent=2))
        log = root / f"registry-{port}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(["/usr/bin/docker-registry", "serve", str(root / "config.yml")],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
        deadline = time.monotonic() + 30
        while proc.poll() is None and not _registry_answers(port, realm) and time.monotonic() < deadline:
            time.sleep(0.1)
        if proc.poll() is None and _registry_answers(port, realm):
            break
        _stop_group(proc, 10)
        if "address already in use" not in _tail(log):
            raise RuntimeError(f"docker-registry did not answer on 127.0.0.1:{port}: {_tail(log)}")
    else:
        raise RuntimeError("docker-registry lost the race for a free port three times")
    try:
        yield LocalRegistry(f"127.0.0.1:{port}", user, password)
    finally:
        _stop_group(proc, 15)


@pytest.fixture(scope="session")
def base_image(docker_engine) -> str:
    _ensure_installed("/usr/bin/mmdebstrap")  # the script builds with it when its cache is empty
    out = subprocess.run([str(ROOT / "scripts/build-base-image")], capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"scripts/build-base-image failed: {out.stderr[-2000:]}")
    return out.stdout.strip()

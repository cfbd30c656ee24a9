"""A real Docker engine, a real registry with auth, and a local Python base image for the tests.

- ``docker_engine``: the engine at DOCKER_HOST or /var/run/docker.sock when it answers; otherwise
  ``dockerd`` is started here in its own process group (overlay2 on this machine's disk) and
  stopped at the end of the session.
- ``docker_registry``: Debian's ``docker-registry`` (distribution v2) on a free loopback port,
  storage in a temp dir, htpasswd auth with a generated password.
- ``base_image``: ``scripts/build-base-image`` (bookworm + python3, cached outside the repository).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

from tests.conftest import ROOT

__all__ = ["base_image", "docker_engine", "docker_registry"]


def _ping(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory):
    import docker

    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    client = docker.DockerClient(base_url=host, timeout=120)
    if _ping(client):
        yield client
        return
    root = tmp_path_factory.mktemp("dockerd")
    log = root / "dockerd.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["dockerd"], stdout=out, stderr=out, start_new_session=True)
    deadline = time.monotonic() + 60
    while not _ping(client):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"dockerd did not start: {log.read_text()[-2000:]}")
        time.sleep(0.3)
    yield client
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass
class LocalRegistry:
    host: str
    username: str
    password: str

    def tags(self, repository: str) -> list[str]:
        auth = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        req = urllib.request.Request(f"http://{self.host}/v2/{repository}/tags/list",
                                     headers={"Authorization": f"Basic {auth}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())["tags"] or []


@pytest.fixture(scope="session")
def docker_registry(tmp_path_factory):
    import bcrypt

    from tests.integration.conftest import free_port

    root = tmp_path_factory.mktemp("registry")
    user, password = "aicd", secrets.token_urlsafe(16)
    (root / "htpasswd").write_text(f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(5)).decode()}\n")
    port = free_port()
    (root / "config.yml").write_text(f"""version: 0.1
log: {{level: warn}}
storage: {{filesystem: {{rootdirectory: {root / 'data'}}}, delete: {{enabled: true}}}}
http: {{addr: 127.0.0.1:{port}}}
auth: {{htpasswd: {{realm: aicd-test, path: {root / 'htpasswd'}}}}}
""")
    log = root / "registry.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["docker-registry", "serve", str(root / "config.yml")], stdout=out, stderr=out,
                                start_new_session=True)
    deadline = time.monotonic() + 30
    while True:  # /v2/ answers 401 once it is up (a registry that lost the port race exits instead)
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
        except urllib.error.HTTPError as err:
            if err.code == 401:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"docker-registry did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)
    yield LocalRegistry(f"127.0.0.1:{port}", user, password)
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(15)


@pytest.fixture(scope="session")
def base_image(docker_engine) -> str:
    out = subprocess.run([str(ROOT / "scripts/build-base-image")], capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"scripts/build-base-image failed: {out.stderr[-2000:]}")
    return out.stdout.strip()



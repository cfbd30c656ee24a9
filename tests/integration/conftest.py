"""Real services for the integration tests, started here and stopped by their process group.

- ``mlflow_server``: ``mlflow server`` on a free loopback port with a sqlite store in a temp dir.
- ``action_venv``: the actions' own locked venv (what action.yml runs), built once and cached.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-2000:] if log else ""
            raise RuntimeError(f"{url}: process exited with {proc.returncode}: {tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise RuntimeError(f"{url} not ready after {timeout}s")


def stop_group(proc: subprocess.Popen | None, timeout: float = 15) -> None:
    """End a server started with ``start_new_session=True``: SIGTERM to its process group, SIGKILL after
    ``timeout`` seconds (a group already gone is fine)."""
    if proc and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class MlflowServer:
    """A running ``mlflow server``; ``stop``/``start`` let a test take it away and bring it back."""

    def __init__(self, root: Path, host: str = "127.0.0.1"):
        """``host``: the address it listens on (the real node's bridge, for pods to reach it)."""
        self.root, self.port, self.host = root, free_port(), host
        self.uri = f"http://{host}:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        mlflow = Path(sys.executable).parent / "mlflow"
        log = self.root / "server.log"
        cmd = [str(mlflow), "server", "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
               "--artifacts-destination", str(self.root / "artifacts"), "--host", self.host,
               "--port", str(self.port), "--workers", "1"]
        if self.host != "127.0.0.1":  # MLflow answers only the Host headers it allows
            cmd += ["--allowed-hosts", f"{self.host}:{self.port},{self.host}"]
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=out, env=env, start_new_session=True)
        wait_http(f"{self.uri}/health", 90, self.proc, log)

    def stop(self) -> None:
        stop_group(self.proc)
        self.proc = None

    def client(self):
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        from mlflow import MlflowClient

        return MlflowClient(self.uri)

    def version_count(self, name: str) -> int:
        return len(self.client().search_model_versions(f"name='{name}'"))


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    server = MlflowServer(tmp_path_factory.mktemp("mlflow"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def action_venv() -> Path:
    """The venv action.yml runs in (requirements/aicd.lock), via the same script the actions use."""
    out = subprocess.run([str(ROOT / "shared/bin/aicd-venv"), str(ROOT / "requirements/aicd.lock")],
                         capture_output=True, text=True, check=True, timeout=600)
    return Path(out.stdout.strip())


@pytest.fixture(scope="session")
def s3_server():
    """versitygw on a free loopback port (scripts/install-object-stores builds it)."""
    from tests.integration.object_store_infra import S3Server, object_store_bin

    server = S3Server()
    server.start(object_store_bin())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gcs_server():
    """fake-gcs-server on a free loopback port (scripts/install-object-stores builds it)."""
    from tests.integration.object_store_infra import GcsServer, object_store_bin

    server = GcsServer()
    server.start(object_store_bin())
    yield server
    server.stop()


@pytest.fixture
def deploy_dir(tmp_path):
    """A deploy state dir whose model servers are all stopped after the test."""
    from aicd.deploy.local import LocalTarget

    state = tmp_path / "deploy"
    yield state
    LocalTarget(state).stop()


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


__all__ = ["MlflowServer", "free_port", "wait_http"]
from tests.integration.docker_infra import base_image, docker_engine, docker_registry  # noqa: E402, F401
from tests.integration.fake_github import fake_github  # noqa: E402, F401
from tests.integration.kube_infra import kube_cluster  # noqa: E402, F401
from tests.integration.kube_node import kube_node, node_namespace, pods_reach_the_api, toolkit_image  # noqa: E402, F401
from tests.integration.oidc_infra import oidc_issuer  # noqa: E402, F401
from tests.integration.prom_infra import prometheus  # noqa: E402, F401

"""Real object stores for the object-storage source tests, built by scripts/install-object-stores.

- :class:`S3Server` — versitygw, an S3 gateway over a temp folder (its ``posix`` backend), with one
  access key; ``env`` is what a user sets for the AWS SDK (keys, ``AWS_ENDPOINT_URL``, region).
- :class:`GcsServer` — fake-gcs-server, Google's storage JSON API over a temp folder; ``env`` is
  ``STORAGE_EMULATOR_HOST``, the variable Google's client libraries use for an emulator.

Each listens on a free loopback port and is stopped by its own process group.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from tests.conftest import ROOT
from tests.integration.conftest import free_port, stop_group, wait_http

__all__ = ["GcsServer", "S3Server", "object_store_bin"]


def object_store_bin() -> Path:
    out = subprocess.run([str(ROOT / "scripts/install-object-stores")], capture_output=True, text=True,
                         check=True, timeout=900)
    return Path(out.stdout.strip())


class _Server:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="aicd-objects-"))
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def _start(self, cmd: list[str], health: str) -> None:
        log = self.root / "server.log"
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=out, cwd=self.root, start_new_session=True)
        wait_http(health, 60, self.proc, log)

    def stop(self) -> None:
        stop_group(self.proc)


class S3Server(_Server):
    ACCESS, SECRET, REGION = "aicd-test-key", "aicd-test-secret-9f3c", "us-east-1"

    def start(self, bin_dir: Path) -> None:
        (self.root / "data").mkdir()
        self._start([str(bin_dir / "versitygw"), "--port", f"127.0.0.1:{self.port}", "--access", self.ACCESS,
                     "--secret", self.SECRET, "--region", self.REGION, "--health", "/health", "posix",
                     str(self.root / "data")], f"http://127.0.0.1:{self.port}/health")

    @property
    def env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.ACCESS, "AWS_SECRET_ACCESS_KEY": self.SECRET, "AWS_REGION": self.REGION,
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.port}"}

    def filesystem(self):
        import pyarrow.fs as pafs

        return pafs.S3FileSystem(access_key=self.ACCESS, secret_key=self.SECRET, region=self.REGION,
                                 endpoint_override=f"127.0.0.1:{self.port}", scheme="http",
                                 allow_bucket_creation=True)

    def create_bucket(self, name: str) -> None:
        self.filesystem().create_dir(name)


class GcsServer(_Server):
    def start(self, bin_dir: Path) -> None:
        (self.root / "data").mkdir()
        self._start([str(bin_dir / "fake-gcs-server"), "-scheme", "http", "-host", "127.0.0.1", "-port",
                     str(self.port), "-backend", "filesystem", "-filesystem-root", str(self.root / "data"),
                     "-public-host", f"127.0.0.1:{self.port}"], f"http://127.0.0.1:{self.port}/_internal/healthcheck")

    @property
    def env(self) -> dict[str, str]:
        return {"STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{self.port}"}

    def filesystem(self):
        import pyarrow.fs as pafs

        return pafs.GcsFileSystem(anonymous=True, endpoint_override=f"127.0.0.1:{self.port}", scheme="http",
                                  project_id="aicd-tests")

    def create_bucket(self, name: str) -> None:
        self.filesystem().create_dir(name)

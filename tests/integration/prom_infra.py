"""A real Prometheus for the tests: Debian's ``prometheus`` (2.42) on a free loopback port.

- ``prometheus`` (function scope: the server is ready in a few hundredths of a second): a
  :class:`PrometheusServer` with its TSDB, config and log in a temp dir, scraping and evaluating rules
  every second. Its one scrape job, ``aicd``, reads its targets from a JSON file (file_sd) that
  ``set_targets`` rewrites, so a test adds and removes model servers while it runs; ``add_rule_file``
  loads rules through ``POST /-/reload``.
- ``promtool(*args)``: runs Debian's ``promtool`` (``check rules``, ``check config``).

The Debian package comes from ``scripts/install-test-packages``, run here when the binary is missing.

Timing seen with 2.42: a target given to ``set_targets`` is first scraped 4-6 s later, whatever the
scrape interval: the discovery manager hands target changes to the scrape manager only every 5 s
(hard-coded in 2.42). Start the model server after ``set_targets`` and the wait overlaps its start-up.
A counter series is only known from its first scrape on, so ``increase()`` misses the counts a series
already had when it was first scraped: let the server's series exist before the traffic a test measures.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

__all__ = ["PROMETHEUS", "PROMTOOL", "PrometheusServer", "kubernetes_prometheus", "prometheus", "promtool"]

PROMETHEUS, PROMTOOL = Path("/usr/bin/prometheus"), Path("/usr/bin/promtool")


def _ensure_installed(binary: Path) -> None:
    if not binary.exists():
        out = subprocess.run([str(ROOT / "scripts/install-test-packages")], capture_output=True, text=True, timeout=900)
        if out.returncode != 0 or not binary.exists():
            raise RuntimeError(f"scripts/install-test-packages did not provide {binary}: {out.stderr[-2000:]}")


def kubernetes_prometheus() -> Path:
    """A Prometheus with Kubernetes service discovery, built and cached by ``scripts/install-prometheus``."""
    out = subprocess.run([str(ROOT / "scripts/install-prometheus")], capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"scripts/install-prometheus failed: {out.stderr[-2000:]}")
    return Path(out.stdout.strip())


def promtool(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``promtool <args>``; the caller checks ``returncode`` (``stdout``/``stderr`` hold the reasons)."""
    _ensure_installed(PROMTOOL)
    return subprocess.run([str(PROMTOOL), *args], capture_output=True, text=True, timeout=timeout)


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-2000:] if path.exists() else ""


class PrometheusServer:
    """A running ``prometheus``; every request helper raises ``RuntimeError`` with Prometheus's message."""

    def __init__(self, root: Path, basic_auth: tuple[str, str] | None = None, targets: Path | None = None,
                 jobs: list[dict] | None = None, binary: Path = PROMETHEUS):
        """``basic_auth`` (user, password): Prometheus's own web config then refuses requests without them.
        ``targets``: the file_sd file of job ``aicd`` (default ``root/targets.json``, which ``set_targets``
        writes) — e.g. the one a deploy target writes itself. ``jobs``: more scrape jobs, as written in
        prometheus.yml (e.g. one discovering pods through ``kubernetes_sd_configs``, which needs the
        ``binary`` of :func:`kubernetes_prometheus`: Debian's is built without it)."""
        self.root, self.basic_auth, self.jobs, self.binary = root, basic_auth, list(jobs or []), binary
        self.config, self.log = root / "prometheus.yml", root / "prometheus.log"
        self.targets = targets or root / "targets.json"
        self.rule_files: list[Path] = []
        self.port, self.url = 0, ""
        self.proc: subprocess.Popen | None = None

    # -- life cycle ------------------------------------------------------------------------------
    def start(self, timeout: float = 30) -> None:
        """Starts on a free port (retried when another process takes it first) and waits for ``/-/ready``."""
        from tests.integration.conftest import free_port

        if self.binary == PROMETHEUS:
            _ensure_installed(PROMETHEUS)
        if not self.targets.exists():
            self._write_json(self.targets, [])
        self._write_config()
        for _attempt in range(3):
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            cmd = [str(self.binary), f"--config.file={self.config}", f"--storage.tsdb.path={self.root / 'data'}",
                   f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle", "--log.level=info",
                   *self._web_config()]
            with open(self.log, "ab") as out:
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                             start_new_session=True)
            if self._wait_ready(timeout):
                return
            self.stop()
            if "address already in use" not in _tail(self.log):
                break
        raise RuntimeError(f"prometheus did not become ready on {self.url}: {_tail(self.log)}")

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM by PID, SIGKILL after ``timeout`` seconds."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc is not None and self.proc.poll() is None:
            try:
                ready = urllib.request.Request(f"{self.url}/-/ready", headers=self._headers())
                with urllib.request.urlopen(ready, timeout=2) as resp:
                    if resp.status == 200:
                        return True
            except urllib.error.HTTPError as err:
                err.close()  # 503 while the TSDB opens
            except OSError:
                pass
            time.sleep(0.02)
        return False

    # -- configuration ---------------------------------------------------------------------------
    def set_targets(self, targets: list[str], labels: dict[str, str] | None = None) -> None:
        """Scrape exactly these ``host:port`` targets (all in job ``aicd``, with ``labels`` added).
        The file is replaced atomically; Prometheus picks it up within about 5 s (see the module doc)."""
        self.set_target_groups([(targets, labels or {})] if targets else [])

    def set_target_groups(self, groups: list[tuple[list[str], dict[str, str]]]) -> None:
        """Scrape these groups of targets, each with its own labels (file-based discovery's format)."""
        self._write_json(self.targets, [{"targets": list(t), "labels": dict(labels)} for t, labels in groups])

    def add_rule_file(self, rules: str | Path) -> Path:
        """Loads a rule file (a path, or the YAML text itself) and reloads; raises when Prometheus
        refuses the new configuration (its message says why)."""
        if isinstance(rules, str):
            path = self.root / f"rules-{len(self.rule_files)}.yml"
            path.write_text(rules)
        else:
            path = Path(rules)
        self.rule_files.append(path)
        self._write_config()
        try:
            self.reload()
        except RuntimeError:
            self.rule_files.pop()  # the running configuration stays the previous one
            self._write_config()
            raise
        return path

    def reload(self) -> None:
        """``POST /-/reload``: answers once the configuration and rules are applied. The answer to a
        refused configuration is generic; the reason is in the log, whose last lines the error carries."""
        try:
            self._request("/-/reload", method="POST")
        except RuntimeError as exc:
            errors = [line for line in _tail(self.log).splitlines() if "level=error" in line]
            raise RuntimeError(f"{exc}: {'; '.join(errors[-3:]) if errors else _tail(self.log)}") from None

    def _web_config(self) -> list[str]:
        if not self.basic_auth:
            return []
        import bcrypt

        user, password = self.basic_auth
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()  # low cost: a test
        web = self.root / "web.yml"
        web.write_text(yaml.safe_dump({"basic_auth_users": {user: hashed}}))
        return [f"--web.config.file={web}"]

    def _headers(self) -> dict[str, str]:
        if not self.basic_auth:
            return {}
        import base64

        return {"Authorization": "Basic " + base64.b64encode(":".join(self.basic_auth).encode()).decode()}

    def _write_config(self) -> None:
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in self.rule_files],
            "scrape_configs": [{"job_name": "aicd", "file_sd_configs": [
                {"files": [str(self.targets)], "refresh_interval": "1s"}]}, *self.jobs],
        }
        self.config.write_text(yaml.safe_dump(config, sort_keys=False))

    @staticmethod
    def _write_json(path: Path, data) -> None:
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(data))
        os.replace(partial, path)  # file_sd never reads half a file

    # -- HTTP API --------------------------------------------------------------------------------
    def query(self, promql: str, at: float | None = None) -> list:
        """``GET /api/v1/query``: the ``result`` list (for a vector: ``{"metric": {...}, "value": [t, "v"]}``)."""
        params = {"query": promql, **({"time": repr(at)} if at is not None else {})}
        return self._api("/api/v1/query?" + urllib.parse.urlencode(params))["result"]

    def wait_for(self, promql: str, predicate: Callable[[list], bool] = bool, timeout: float = 30) -> list:
        """Polls ``query(promql)`` until ``predicate(result)`` holds (default: any result); returns the result.
        On timeout raises ``AssertionError`` with the last result, the targets' health and the log's tail."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if predicate(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"after {timeout:g} s, {promql} gave {result}; targets: {self.target_health()}; "
                                     f"log: {_tail(self.log)}")
            time.sleep(0.2)

    def alerts(self) -> list[dict]:
        """``GET /api/v1/alerts``: active alerts (``labels``, ``annotations``, ``state`` pending/firing, ``value``)."""
        return self._api("/api/v1/alerts")["alerts"]

    def rule_groups(self) -> list[dict]:
        """``GET /api/v1/rules``: the loaded groups with each rule's ``health`` and ``lastError``."""
        return self._api("/api/v1/rules")["groups"]

    def target_health(self) -> dict[str, str]:
        """``{scrape url: "up" | "down: <error>" | "unknown"}`` of the active targets."""
        active = self._api("/api/v1/targets?state=active")["activeTargets"]
        return {t["scrapeUrl"]: t["health"] + (f": {t['lastError']}" if t.get("lastError") else "") for t in active}

    def _api(self, path: str):
        body = json.loads(self._request(path))
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus {path}: {body.get('error')}")
        return body["data"]

    def _request(self, path: str, method: str = "GET") -> bytes:
        req = urllib.request.Request(self.url + path, method=method, headers=self._headers())
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.read()
        except urllib.error.HTTPError as err:
            with contextlib.closing(err):
                detail = err.read().decode(errors="replace")
            with contextlib.suppress(ValueError, AttributeError):
                detail = json.loads(detail).get("error", detail)
            raise RuntimeError(f"prometheus {method} {path}: HTTP {err.code}: {detail.strip()}") from None


@pytest.fixture
def prometheus(tmp_path_factory):
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"))
    server.start()
    try:
        yield server
    finally:
        server.stop()

"""The ``docker`` target: each revision is a container; a front container holds the stable endpoint.

Contracts:
- ``deploy`` starts the new revision beside the current one and switches the front only once the
  new container answers ``/readyz``; if it does not within ``ready_timeout`` it is removed and the
  current revision keeps serving untouched. After the switch the new revision is watched for
  ``observe_seconds``; if it dies or stops being ready, the front is switched back at once and the
  new container removed (automatic rollback).
- The previous revision's container keeps running as the standby, so ``rollback`` is an instant
  switch; older revisions are removed (their images stay, and can be deployed again).
- Two deploys to the same deployment never interleave: a lock container (Docker refuses a second
  container of the same name) serialises them; the second waits up to ``lock_timeout``.
- Everything of a deployment is named ``aicd-<deployment>-...`` and lives on its own network
  ``aicd-<deployment>``: tenants' deployments (``<tenant>__<name>``) never share a network.
- The engine is expected on this machine (the runner is the deploy host): each revision is also
  published on an ephemeral loopback port, which is how readiness and ``/metrics`` are read.
- The ``endpoint`` is true: a deploy asking for another ``listen`` than the running front's is
  refused before anything starts (stop the deployment to move it). A deploy that fails removes
  what it created (its revision, a front that never started); the next one starts clean.
"""

from __future__ import annotations

import contextlib
import io
import json
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ServiceError, UserError

__all__ = ["DockerTarget", "Slot", "deployment_at", "docker_client"]

PORT = 8080
STATE = "/run/aicd/state.json"


@dataclass(frozen=True)
class Slot:
    """One revision's container, as the engine reports it."""

    revision: int
    container: str
    image: str
    model_uri: str
    model_version: str
    run_id: str
    direct: str  # http://127.0.0.1:<port> of this container alone


def docker_client(host: str = ""):
    """A connected Docker SDK client; ServiceError naming the engine when it does not answer."""
    import docker

    try:
        client = docker.DockerClient(base_url=host) if host else docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        where = host or "DOCKER_HOST / unix:///var/run/docker.sock"
        raise ServiceError(f"Docker engine at {where}", f"not reachable ({str(exc).splitlines()[0][:200]})",
                           retryable=True, hint="start dockerd on the deploy host or set DOCKER_HOST") from None
    return client


class DockerTarget:
    def __init__(self, client, deployment: str, listen: str = "127.0.0.1:8080", ready_timeout: float = 60,
                 observe_seconds: float = 10, lock_timeout: float = 300,
                 progress: Callable[[str], None] = lambda event: None, feedback_token: str = ""):
        self.client, self.deployment, self.listen = client, deployment, listen
        self.feedback_token = feedback_token  # given to each new revision as AICD_FEEDBACK_TOKEN
        self.ready_timeout, self.observe_seconds, self.lock_timeout = ready_timeout, observe_seconds, lock_timeout
        self.progress = progress
        self.prefix = f"aicd-{deployment}-r"
        self.front_name, self.network_name = f"aicd-{deployment}-front", f"aicd-{deployment}"
        self.volume_name, self.lock_name = f"aicd-{deployment}-state", f"aicd-{deployment}-lock"

    @property
    def endpoint(self) -> str:
        return f"http://{self.listen}"

    # -- public --------------------------------------------------------------------------------
    def deploy(self, image: str) -> tuple[Slot, Slot | None]:
        """Run ``image`` as the next revision and switch to it; returns (serving, previous)."""
        with self._locked(image):
            self._check_listen()
            current, _ = self._state()
            number = max([s.revision for s in self.slots()], default=0) + 1
            new = self._start(image, number)
            try:
                return self._roll_out(image, new, current)
            except BaseException:
                if self._state()[0] != new.revision:  # it never took traffic, or was switched back
                    self._remove(new.container)
                raise

    def _roll_out(self, image: str, new: Slot, current: int | None) -> tuple[Slot, Slot | None]:
        """Ready, front, switch, observe: the steps after ``new`` started (deploy cleans up if one raises)."""
        number = new.revision
        if not self._wait_ready(new, self.ready_timeout):
            logs = self._logs(new)
            self._remove(new.container)
            raise ServiceError("docker target", f"revision {number} ({image}) did not become ready within "
                               f"{self.ready_timeout:g} s; revision {current or 'none'} keeps serving. "
                               f"Log: {logs}", retryable=False)
        self._ensure_front(image)
        self._switch(number, current)
        self.progress(f"switched:{new.container}")
        if not self._stays_ready(new):
            self._switch(current, None)
            logs = self._logs(new)
            self._remove(new.container)
            raise ServiceError("docker target", f"revision {number} failed its health check within "
                               f"{self.observe_seconds:g} s of taking traffic: rolled back to revision "
                               f"{current or 'none'}. Log: {logs}", retryable=False)
        for slot in self.slots():
            if slot.revision not in (number, current):
                self._remove(slot.container)
        return new, self._slot(current)

    def _check_listen(self) -> None:
        published = self.front_listen()
        if published and published != self.listen:
            raise UserError(f"deployment {self.deployment!r} serves at http://{published}; `listen` asks for "
                            f"{self.listen}", hint="keep `listen` as it was, or stop the deployment first "
                            "(command: stop) to move its endpoint")

    def front_listen(self) -> str:
        """The address:port the running front publishes ("" when there is no running front)."""
        import docker.errors

        try:
            front = self.client.containers.get(self.front_name)
        except docker.errors.NotFound:
            return ""
        if front.status != "running":
            return ""
        bindings = (front.attrs.get("HostConfig", {}).get("PortBindings") or {}).get(f"{PORT}/tcp") or []
        return f"{bindings[0].get('HostIp') or '0.0.0.0'}:{bindings[0]['HostPort']}" if bindings else ""

    def rollback(self) -> tuple[Slot, Slot]:
        """Switch back to the previous revision; returns (now serving, rolled back)."""
        with self._locked(next((s.image for s in self.slots()), "")):
            current, previous = self._state()
            target, leaving = self._slot(previous), self._slot(current)
            if target is None or leaving is None:
                raise UserError(f"deployment {self.deployment!r} has nothing to roll back to",
                                hint="deploy at least two revisions first")
            if not self._ready(target):
                self.client.containers.get(target.container).restart(timeout=10)
                if not self._wait_ready(target, self.ready_timeout):
                    raise ServiceError("docker target", f"revision {target.revision} could not be restarted; "
                                       f"revision {leaving.revision} keeps serving", retryable=False)
            self._switch(target.revision, None)
            self._remove(leaving.container)
            return target, leaving

    def current(self) -> Slot | None:
        return self._slot(self._state()[0])

    def slots(self) -> list[Slot]:
        found = self.client.containers.list(all=True, filters={"label": f"io.aicd.deployment={self.deployment}"})
        return sorted((_slot_of(c) for c in found), key=lambda s: s.revision)

    def stop_all(self) -> None:
        """Remove every container, the network and the state of this deployment (idempotent)."""
        import docker.errors

        for name in [s.container for s in self.slots()] + [self.front_name, self.lock_name]:
            self._remove(name)
        for remove in (lambda: self.client.networks.get(self.network_name).remove(),
                       lambda: self.client.volumes.get(self.volume_name).remove(force=True)):
            with contextlib.suppress(docker.errors.NotFound):
                remove()

    # -- revisions -----------------------------------------------------------------------------
    def _start(self, image: str, number: int) -> Slot:
        import docker.errors

        self._network()
        name = f"{self.prefix}{number}"
        self._remove(name)  # a leftover of an interrupted deploy with the same number
        try:
            container = self.client.containers.run(
                image, detach=True, name=name, read_only=True, network=self.network_name,
                ports={f"{PORT}/tcp": ("127.0.0.1", None)}, restart_policy={"Name": "unless-stopped"},
                labels={"io.aicd.deployment": self.deployment, "io.aicd.revision": str(number)},
                environment={"AICD_VARIANT": "stable",
                             **({"AICD_FEEDBACK_TOKEN": self.feedback_token} if self.feedback_token else {})},
                stop_signal="SIGTERM")
        except docker.errors.DockerException as exc:
            raise ServiceError("docker target", f"cannot start {image}: {_first_line(exc)}", retryable=False,
                               hint="check the image name and that it was built by action-deploy") from None
        container.reload()
        return _slot_of(container)

    def _wait_ready(self, slot: Slot, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._running(slot):
                return False
            if self._ready(slot):
                return True
            time.sleep(0.2)
        return False

    def _stays_ready(self, slot: Slot) -> bool:
        deadline = time.monotonic() + self.observe_seconds
        while time.monotonic() < deadline:
            if not (self._running(slot) and self._ready(slot)):
                return False
            time.sleep(0.5)
        return True

    def _running(self, slot: Slot) -> bool:
        import docker.errors

        try:
            return self.client.containers.get(slot.container).status in ("running", "created")
        except docker.errors.NotFound:
            return False

    @staticmethod
    def _ready(slot: Slot | None) -> bool:
        if slot is None or not slot.direct:
            return False
        try:
            with urllib.request.urlopen(f"{slot.direct}/readyz", timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _slot(self, number: int | None) -> Slot | None:
        return next((s for s in self.slots() if s.revision == number), None) if number else None

    def _logs(self, slot: Slot) -> str:
        import docker.errors

        try:
            text = self.client.containers.get(slot.container).logs(tail=5).decode(errors="replace")
        except docker.errors.DockerException:
            return "(no log)"
        return " | ".join(text.strip().splitlines()) or "(empty log)"

    def _remove(self, name: str) -> None:
        import docker.errors

        with contextlib.suppress(docker.errors.NotFound):
            self.client.containers.get(name).remove(force=True)

    # -- front, network, state -------------------------------------------------------------------
    def _network(self) -> None:
        import docker.errors

        try:
            self.client.networks.get(self.network_name)
        except docker.errors.NotFound:
            self.client.networks.create(self.network_name, driver="bridge",
                                        labels={"io.aicd.deployment": self.deployment})

    def _ensure_front(self, image: str) -> None:
        import docker.errors

        try:
            front = self.client.containers.get(self.front_name)
            if front.status == "running":
                return
            front.remove(force=True)  # created or exited: made again below on `listen` (the state is in the volume)
        except docker.errors.NotFound:
            pass
        host, _, port = self.listen.rpartition(":")
        try:
            self.client.containers.run(
                image, detach=True, name=self.front_name, read_only=True, network=self.network_name,
                entrypoint=["python3", "-m", "aicd.serve.front", "--prefix", self.prefix, "--state", STATE],
                ports={f"{PORT}/tcp": (host or "0.0.0.0", int(port))}, restart_policy={"Name": "unless-stopped"},
                volumes={self.volume_name: {"bind": "/run/aicd", "mode": "rw"}},
                labels={"io.aicd.front": self.deployment})
        except docker.errors.DockerException as exc:
            self._remove(self.front_name)  # run() leaves a created container behind when start fails
            raise ServiceError("docker target", f"cannot publish the stable endpoint on {self.listen}: "
                               f"{_first_line(exc)}", retryable=False,
                               hint="pick a free address:port in the `listen` input") from None

    def _switch(self, current: int | None, previous: int | None) -> None:
        front = self.client.containers.get(self.front_name)
        cmd = ["python3", "-m", "aicd.serve.front", "--prefix", self.prefix, "--state", STATE,
               "--switch", str(current or 0), str(previous or 0)]
        code, out = front.exec_run(cmd, user="0:0")  # the state volume belongs to root
        if code != 0:
            raise ServiceError("docker target", f"switching the front to revision {current} failed: "
                               f"{out.decode(errors='replace').strip()[-300:]}", retryable=False)

    def _state(self) -> tuple[int | None, int | None]:
        import docker.errors

        try:
            stream, _ = self.client.containers.get(self.front_name).get_archive(STATE)
        except docker.errors.NotFound:
            return None, None
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile(tar.getmembers()[0])
            state = json.loads(member.read()) if member else {}
        return state.get("current"), state.get("previous")

    @contextlib.contextmanager
    def _locked(self, image: str):
        """Holds the deployment's lock: a container named ``aicd-<deployment>-lock``, never started
        (created from ``image``, which the engine has), that only one deploy can create."""
        import docker.errors

        if not image:
            raise UserError(f"deployment {self.deployment!r} has no revisions", hint="deploy one first")
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                self.client.containers.create(image, name=self.lock_name, command=["true"],
                                              labels={"io.aicd.lock": self.deployment})
                break
            except docker.errors.APIError as exc:
                if exc.status_code != 409:
                    raise ServiceError("docker target", f"cannot take the deploy lock: {_first_line(exc)}",
                                       retryable=True) from None
                if time.monotonic() > deadline:
                    raise ServiceError("docker target", f"another deploy to {self.deployment!r} holds the lock "
                                       f"(container {self.lock_name}) for over {self.lock_timeout:g} s",
                                       retryable=True, hint=f"wait for it, or remove {self.lock_name} if it "
                                       "was left by a cancelled job") from None
                time.sleep(1)
        try:
            yield
        finally:
            self._remove(self.lock_name)


def deployment_at(client, listen: str) -> str | None:
    """The deployment whose front publishes ``listen`` on this engine, if any (its own label says)."""
    for front in client.containers.list(all=True, filters={"label": "io.aicd.front"}):
        bindings = (front.attrs.get("HostConfig", {}).get("PortBindings") or {}).get(f"{PORT}/tcp") or []
        if any(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}" == listen for b in bindings):
            return front.labels["io.aicd.front"]
    return None


def _slot_of(container) -> Slot:
    labels = container.labels
    ports = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(f"{PORT}/tcp") or []
    direct = f"http://127.0.0.1:{ports[0]['HostPort']}" if ports else ""
    return Slot(int(labels.get("io.aicd.revision", 0)), container.name,
                (container.image.tags or [container.image.id])[0], labels.get("io.aicd.model.uri", ""),
                labels.get("io.aicd.model.version", ""), labels.get("io.aicd.model.run-id", ""), direct)


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "explanation", None) or exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__

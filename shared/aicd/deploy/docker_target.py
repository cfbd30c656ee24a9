"""The ``docker`` target: each revision is a container; a front container holds the stable endpoint.

Contracts:
- ``deploy`` starts the new revision beside the current one and switches the front only once the
  new container answers ``/readyz``; if it does not within ``ready_timeout`` it is removed and the
  current revision keeps serving untouched. After the switch the new revision is watched for
  ``observe_seconds``; if it dies or stops being ready, the front is switched back at once and the
  new container removed (automatic rollback).
- History (:mod:`.history`): the last ``keep`` revisions can be returned to. The serving one and
  the previous one run (the standby: ``rollback`` is an instant switch, and the front sends a
  connection the serving revision refuses to the standby instead); older kept ones are stopped
  containers, started again by a rollback to them. A rollback retires what it leaves, so two in a
  row go back two releases, and the new standby is started. Revision numbers are never reused:
  the highest one handed out lives in the deployment's state volume.
- Two deploys to the same deployment never interleave: a lock container (Docker refuses a second
  container of the same name) serialises them; the second waits up to ``lock_timeout``.
- Everything of a deployment is named ``aicd-<deployment>-...`` and lives on its own network
  ``aicd-<deployment>``: tenants' deployments (``<tenant>__<name>``) never share a network.
- The engine is expected on this machine (the runner is the deploy host): each revision is also
  published on an ephemeral loopback port, which is how readiness and ``/metrics`` are read.
- The ``endpoint`` is true: a deploy asking for another ``listen`` than the running front's is
  refused before anything starts (stop the deployment to move it), and the front is published
  before a revision starts, so a taken port fails first. A deploy that fails removes what it
  created (its revision; when nothing ever served, the front, network and state volume too); the
  next one starts clean. SIGTERM unwinds like Ctrl-C (aicd.cli): the lock is released and a
  revision still being watched is switched back.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import socket
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ConfigError, ServiceError, UserError
from .history import DEFAULT_KEEP, History, NothingToRollBackTo
from .naming import deployment_name
from .target import Candidate, Release, Result, Settings, Target

__all__ = ["DockerTarget", "Slot", "deployment_at", "docker_client"]

PORT = 8080
STATE = "/run/aicd/state.json"
TOKEN = "/run/aicd/feedback-token"  # in the state volume, mounted read-only into every revision
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # colour codes some libraries put in their log lines


@dataclass(frozen=True)
class Slot:
    """One revision's container, as the engine reports it."""

    revision: int
    container: str
    image: str
    model_uri: str
    model_version: str
    run_id: str
    direct: str  # http://127.0.0.1:<port> of this container alone ("" while stopped)
    commit: str = ""  # the commit the image was built from (its OCI revision label)

    def release(self, variant: str = "stable") -> Release:
        return Release(self.revision, self.model_uri, self.model_version, self.run_id, self.image, self.commit,
                       address=self.container, variant=variant)


def docker_client(host: str = ""):
    """A connected Docker SDK client; ServiceError naming the engine when it does not answer. Monitor, whose
    lock lacks the SDK, installs it first (requirements/docker.lock)."""
    from ..installs import ensure

    ensure("docker", lambda text: print(f"aicd: {text}", flush=True))
    import docker

    try:
        client = docker.DockerClient(base_url=host) if host else docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        where = host or "DOCKER_HOST / unix:///var/run/docker.sock"
        raise ServiceError(f"Docker engine at {where}", f"not reachable ({str(exc).splitlines()[0][:200]})",
                           retryable=True, hint="start dockerd on the deploy host or set DOCKER_HOST") from None
    return client


class DockerTarget(Target):
    kind = "docker"
    needs_image = True

    def __init__(self, client, deployment: str, listen: str = "127.0.0.1:8080", ready_timeout: float = 60,
                 observe_seconds: float = 10, lock_timeout: float = 300,
                 progress: Callable[[str], None] = lambda event: None, feedback_token: str = "",
                 keep: int = DEFAULT_KEEP, variant: str = "stable"):
        self.client, self.deployment, self.listen, self.keep = client, deployment, listen, keep
        self.variant = variant  # the variant label every revision's metrics carry
        self.feedback_token = feedback_token  # stored in the state volume; revisions read it from there
        self.ready_timeout, self.observe_seconds, self.lock_timeout = ready_timeout, observe_seconds, lock_timeout
        self.progress = progress
        self.prefix = f"aicd-{deployment}-r"
        self.front_name, self.network_name = f"aicd-{deployment}-front", f"aicd-{deployment}"
        self.volume_name, self.lock_name = f"aicd-{deployment}-state", f"aicd-{deployment}-lock"

    @classmethod
    def open(cls, settings: Settings) -> DockerTarget:
        """The model's deployment (``<model>`` or ``<model>-<variant>``); without a model, the one
        serving at ``listen`` (a rollback or stop that names only the endpoint)."""
        client = docker_client(settings.docker_host)
        deployment = settings.deployment or (deployment_name(settings.model_name, settings.variant)
                                             if settings.model_name else deployment_at(client, settings.listen))
        if not deployment:
            raise ConfigError(f"no aicd deployment serves at {settings.listen} on this Docker engine",
                              hint="give the `listen` the deploy used (or the `model-uri` of the deployed model)")
        return cls(client, deployment, settings.listen, settings.ready_timeout, settings.observe_seconds,
                   progress=settings.progress, feedback_token=settings.feedback_token,
                   keep=settings.keep, variant=settings.variant)

    @property
    def endpoint(self) -> str:
        return f"http://{self.listen}"

    @property
    def where(self) -> str:
        return f"docker deployment {self.deployment}"

    # -- public --------------------------------------------------------------------------------
    def deploy(self, candidate: Candidate) -> Result:
        """Run the candidate's image as the next revision and switch to it once ready."""
        image = candidate.image
        with self._locked(image):
            self._check_listen()
            history = self._history()
            number = history.next_number()
            try:
                self._network()
                self._ensure_front(image)  # first: a taken port fails before any revision starts
                self._write_state(history.started(number))
                if self.feedback_token:
                    self._write_token(self.feedback_token)
                self.progress(f"starting revision {number} ({image}) and waiting for /readyz")
                started = time.monotonic()
                new = self._start(image, number)
                return self._roll_out(image, new, history, started)
            except BaseException:
                if self._history().current != number:  # it never took traffic, or was switched back
                    self._remove(f"{self.prefix}{number}")
                    if history.current is None:  # nothing ever served: the deployment never existed
                        self._remove_deployment()
                raise

    def _roll_out(self, image: str, new: Slot, history: History, started: float) -> Result:
        """Ready, switch, observe, tidy: the steps after ``new`` started (deploy cleans up if one raises)."""
        number, current = new.revision, history.current
        if not self._wait_ready(new, self.ready_timeout):
            raise ServiceError("docker target", f"revision {number} ({image}) did not become ready within "
                               f"{self.ready_timeout:g} s; revision {current or 'none'} keeps serving. "
                               f"Log: {self._logs(new)}", retryable=False)
        ready_seconds = time.monotonic() - started
        after, _ = history.deployed(number, self.keep)
        self._write_state(after)
        self.progress(f"switched the front to {new.container}; watching it for {self.observe_seconds:g} s")
        try:
            healthy = self._stays_ready(new)
        except BaseException:  # interrupted while watching: an unwatched revision does not keep traffic
            self._write_state(history.started(number))
            raise
        if not healthy:
            self._write_state(history.started(number))
            raise ServiceError("docker target", f"revision {number} failed its health check within "
                               f"{self.observe_seconds:g} s of taking traffic: rolled back to revision "
                               f"{current or 'none'}. Log: {self._logs(new)}", retryable=False)
        self._tidy(after)
        return self._result(new, self._slot(after.previous), round(ready_seconds, 2))

    def rollback(self, to: int | None = None) -> Result:
        """Return to revision ``to`` (default: the previous one), retiring every revision above it."""
        with self._locked(next((s.image for s in self.slots()), "")):
            history = self._history()
            try:
                after, _ = history.rolled_back(to)
            except NothingToRollBackTo as nothing:
                raise UserError(f"deployment {self.deployment!r}: {nothing}", hint=nothing.hint) from None
            target, leaving = self._slot(after.current), self._slot(history.current)
            started = time.monotonic()
            if not self._ready(target):
                target = self._wake(target)
                if not self._wait_ready(target, self.ready_timeout):
                    raise ServiceError("docker target", f"revision {target.revision} could not be started again; "
                                       f"revision {history.current} keeps serving. Log: {self._logs(target)}",
                                       retryable=False)
            self._write_state(after)
            switched = round(time.monotonic() - started, 2)  # to traffic on the target: the standby's wake is after
            self._tidy(after)
            return self._result(target, self._slot(after.previous), switched, leaving)

    def _result(self, serving: Slot, standby: Slot | None, ready_seconds: float, retired: Slot | None = None) -> Result:
        def release(slot):
            return (slot.release(self.variant) if slot else None)
        return Result(self.endpoint, release(serving), release(standby), release(retired), ready_seconds)

    def history(self) -> list[Release]:
        """The kept revisions, newest first."""
        slots = {s.revision: s for s in self.slots()}
        return [slots[n].release(self.variant) for n in reversed(self._history().kept) if n in slots]

    def _history(self) -> History:
        """The deployment's history as its state says, kept only where a container still exists."""
        raw = self._read_state()
        existing = {s.revision for s in self.slots()}
        if "kept" not in raw:  # a state written before histories: current and previous only
            raw = {"kept": [n for n in (raw.get("previous"), raw.get("current")) if n],
                   "last": max(existing, default=0)}
        history = History.from_json(raw)
        return History(tuple(n for n in history.kept if n in existing), history.last)

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

    def current(self) -> Release | None:
        slot = self._slot(self._history().current)
        return slot.release(self.variant) if slot else None

    def slots(self) -> list[Slot]:
        found = self.client.containers.list(all=True, filters={"label": f"io.aicd.deployment={self.deployment}"})
        return sorted((_slot_of(c) for c in found), key=lambda s: s.revision)

    def stop(self) -> None:
        """Remove every container, the network and the state of this deployment (idempotent)."""
        for name in [s.container for s in self.slots()] + [self.lock_name]:
            self._remove(name)
        self._remove_deployment()

    def _remove_deployment(self) -> None:
        """The front, the network and the state volume (the revisions and the lock are the caller's)."""
        import docker.errors

        self._remove(self.front_name)
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
                volumes={self.volume_name: {"bind": "/run/aicd", "mode": "ro"}},
                environment={"AICD_VARIANT": self.variant,
                             **({"AICD_FEEDBACK_TOKEN_FILE": TOKEN} if self.has_feedback_token() else {})},
                stop_signal="SIGTERM")
        except docker.errors.DockerException as exc:
            raise ServiceError("docker target", f"cannot start {image}: {_first_line(exc)}", retryable=False,
                               hint="check the image name and that it was built by action-deploy") from None
        container.reload()
        return _slot_of(container)

    def _tidy(self, history: History) -> None:
        """Make the containers match ``history``: serving and standby run, older kept ones are
        stopped, the rest (dropped, retired, leftovers of interrupted deploys) are removed."""
        for slot in self.slots():
            if slot.revision not in history.kept:
                self._remove(slot.container)
            elif slot.revision == history.previous and not self._ready(slot):
                if not self._wait_ready(self._wake(slot), self.ready_timeout):
                    self.progress(f"standby revision {slot.revision} did not get ready; rollback will restart it")
            elif slot.revision not in (history.current, history.previous):
                self._sleep(slot)

    def _wake(self, slot: Slot) -> Slot:
        """Start a stopped revision again, or restart one that runs but is not ready; returns it
        as it is now (a started container has a new loopback port)."""
        container = self.client.containers.get(slot.container)
        if container.status == "running":
            container.restart(timeout=10)
        else:
            container.start()
        container.reload()
        return _slot_of(container)

    def _sleep(self, slot: Slot) -> None:
        import docker.errors

        with contextlib.suppress(docker.errors.NotFound):
            container = self.client.containers.get(slot.container)
            if container.status == "running":
                container.stop(timeout=10)

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
        return " | ".join(ANSI.sub("", text).strip().splitlines()) or "(empty log)"

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

    def _write_state(self, history: History) -> None:
        """Point the front at ``history.current`` (the standby: ``history.previous``), atomically."""
        state = {"current": history.current, "previous": history.previous, **history.to_json()}
        front = self.client.containers.get(self.front_name)
        cmd = ["python3", "-m", "aicd.serve.front", "--prefix", self.prefix, "--state", STATE,
               "--write-state", json.dumps(state)]
        code, out = front.exec_run(cmd, user="0:0")  # the state volume belongs to root
        if code != 0:
            raise ServiceError("docker target", f"switching the front to revision {history.current} failed: "
                               f"{out.decode(errors='replace').strip()[-300:]}", retryable=False)

    def _write_token(self, token: str) -> None:
        """The feedback token, into the state volume (owner 65532, mode 0400): every revision started from
        now on reads it through AICD_FEEDBACK_TOKEN_FILE, so ``docker inspect`` shows no secret. It goes
        to the writer in an exec's own environment, which no container inspection shows."""
        script = ("import os, sys; p = sys.argv[1]; t = p + '.tmp'; fd = os.open(t, os.O_WRONLY | os.O_CREAT | "
                  "os.O_TRUNC, 0o400); os.write(fd, os.environ['AICD_TOKEN'].encode()); os.close(fd); "
                  "os.chown(t, 65532, 65532); os.replace(t, p)")
        front = self.client.containers.get(self.front_name)
        code, _ = front.exec_run(["python3", "-c", script, TOKEN], user="0:0", environment={"AICD_TOKEN": token})
        if code != 0:
            raise ServiceError("docker target", "storing the feedback token in the deployment's volume failed",
                               retryable=False)

    def has_feedback_token(self) -> bool:
        """Whether an earlier (or this) deploy stored a feedback token for the revisions to read."""
        import docker.errors

        try:
            self.client.containers.get(self.front_name).get_archive(TOKEN)
        except docker.errors.NotFound:
            return False
        return True

    def _read_state(self) -> dict:
        import docker.errors

        try:
            stream, _ = self.client.containers.get(self.front_name).get_archive(STATE)
        except docker.errors.NotFound:  # no front, or a front without a state yet
            return {}
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile(tar.getmembers()[0])
            state = json.loads(member.read()) if member else {}
        return state if isinstance(state, dict) else {}

    @contextlib.contextmanager
    def _locked(self, image: str):
        """Holds the deployment's lock: a container named ``aicd-<deployment>-lock``, never started
        (created from ``image``, which the engine has), that only one deploy can create. Its labels name
        the holder (host and PID): a lock whose holder is a dead process on this host (a killed job) is
        removed, not waited for."""
        import docker.errors

        if not image:
            raise UserError(f"deployment {self.deployment!r} has no revisions", hint="deploy one first")
        deadline, said = time.monotonic() + self.lock_timeout, False
        owner = {"io.aicd.lock": self.deployment, "io.aicd.lock.host": socket.gethostname(),
                 "io.aicd.lock.pid": str(os.getpid())}
        while True:
            try:
                self.client.containers.create(image, name=self.lock_name, command=["true"], labels=owner)
                break
            except docker.errors.APIError as exc:
                if exc.status_code != 409:
                    raise ServiceError("docker target", f"cannot take the deploy lock: {_first_line(exc)}",
                                       retryable=True) from None
            holder = self._lock_holder()
            if holder is None:
                continue  # released (or stale and removed) meanwhile: try again at once
            if time.monotonic() > deadline:
                raise ServiceError("docker target", f"another deploy to {self.deployment!r} ({holder}) holds the lock "
                                   f"(container {self.lock_name}) for over {self.lock_timeout:g} s",
                                   retryable=True, hint=f"wait for it, or remove {self.lock_name} if it "
                                   "was left by a cancelled job") from None
            if not said:
                self.progress(f"waiting for the deploy lock, held by {holder} (up to {self.lock_timeout:g} s)")
                said = True
            time.sleep(1)
        try:
            yield
        finally:
            self._remove(self.lock_name)

    def _lock_holder(self) -> str | None:
        """Who holds the lock ("process 123 on host-a"), or None once it is gone — a lock left by a
        process of this host that no longer runs is removed here."""
        import docker.errors

        try:
            labels = self.client.containers.get(self.lock_name).labels
        except docker.errors.NotFound:
            return None
        host, pid = labels.get("io.aicd.lock.host", ""), labels.get("io.aicd.lock.pid", "")
        if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
            self.progress(f"removing a deploy lock left by process {pid}, which no longer runs")
            self._remove(self.lock_name)
            return None
        return f"process {pid or '?'} on {host or 'an unknown host'}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


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
                labels.get("io.aicd.model.version", ""), labels.get("io.aicd.model.run-id", ""), direct,
                labels.get("org.opencontainers.image.revision", ""))  # a container carries its image's labels


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "explanation", None) or exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__

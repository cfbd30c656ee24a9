"""The ``local`` target: each revision is a model-server process on loopback (for dry-runs and the demo).

Contracts:
- ``deploy`` starts the new revision beside the current one and only switches once ``/readyz``
  answers; if the new one fails, it is stopped and the current revision keeps serving untouched.
- History (:mod:`.history`): the last ``keep`` revisions can be returned to. The previous
  revision's process stays up (the standby), so a plain ``rollback`` is an instant switch back;
  older kept revisions are stopped but keep their model directory and are started again by a
  rollback to them. A rollback retires what it leaves (two in a row go back two releases) and
  starts the new standby. Revisions that leave the history lose their folder; a number is never
  handed out twice.
- State lives in ``<state-dir>/state.json`` (written atomically) under an exclusive file lock, so
  two deploys to the same state dir never interleave.
- Each revision has its own port: the ``endpoint`` output changes with every switch, and
  ``<state-dir>/prometheus-targets.json`` (Prometheus ``file_sd_configs``) is rewritten with every
  change, so a Prometheus scrapes whatever serves now — through deploys, rollbacks and the gate's.
- The feedback token lives in ``<state-dir>/feedback-token`` (mode 0600); every revision this
  state dir starts, a rollback's restart included, reads it through ``AICD_FEEDBACK_TOKEN_FILE``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ConfigError, ServiceError, UserError
from ..registry import serving_checksum
from .history import DEFAULT_KEEP, History, NothingToRollBackTo
from .naming import model_name_of
from .target import Candidate, Release, Result, Settings, Target

__all__ = ["SCRAPE_TARGETS", "LocalTarget", "Revision"]

SCRAPE_TARGETS = "prometheus-targets.json"  # in the state dir: file_sd_configs follows deploys and rollbacks


@dataclass
class Revision:
    revision: int
    model_uri: str
    model_version: str
    run_id: str
    sha256: str
    model_dir: str
    port: int = 0
    pid: int = 0
    status: str = "new"  # new / starting / serving / standby / stopped / failed
    variant: str = "stable"  # the variant label its metrics carry (a canary deployment says canary)
    shadow_dir: str = ""  # a second model scoring every request unserved (see aicd.serve.app), if any
    shadow_sha256: str = ""
    shadow_version: str = ""
    commit: str = ""  # the commit the deploying workflow ran on

    @property
    def model_name(self) -> str:
        return model_name_of(self.model_uri)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def release(self) -> Release:
        return Release(self.revision, self.model_uri, self.model_version, self.run_id, commit=self.commit,
                       address=self.endpoint, shadow_version=self.shadow_version, variant=self.variant)


@dataclass
class _State:
    revisions: list[Revision] = field(default_factory=list)
    history: History = field(default_factory=History)

    def get(self, number: int | None) -> Revision | None:
        return next((r for r in self.revisions if r.revision == number), None) if number else None


class LocalTarget(Target):
    kind = "local"

    def __init__(self, state_dir: str | Path, ready_timeout: float = 60.0, keep: int = DEFAULT_KEEP,
                 variant: str = "stable", feedback_token: str = "", progress=lambda text: None):
        self.dir = Path(state_dir)
        self.ready_timeout, self.keep, self.variant, self.progress = ready_timeout, keep, variant, progress
        self.feedback_token = feedback_token  # kept in the state dir by the next deploy, for every revision

    @classmethod
    def open(cls, settings: Settings) -> LocalTarget:
        if settings.state_dir.exists() and not settings.state_dir.is_dir():
            raise ConfigError(f"input `state-dir`: {str(settings.state_dir)!r} is a file, not a folder",
                              hint="name the folder that holds (or will hold) the deployment's state")
        return cls(settings.state_dir, settings.ready_timeout, settings.keep, settings.variant,
                   settings.feedback_token, settings.progress)

    def _require_state(self, verb: str) -> None:
        if not (self.dir / "state.json").is_file():
            raise ConfigError(f"input `state-dir`: {str(self.dir)!r} holds no deployment, so there is nothing to "
                              f"{verb}", hint="give the state-dir the deploy step used; a canary has its own")

    @property
    def where(self) -> str:
        return f"the deployment in {self.dir}"

    # -- public --------------------------------------------------------------------------------
    def deploy(self, candidate: Candidate) -> Result:
        """Start the candidate as the next revision (its model moved into the revision's folder),
        switch to it when ready."""
        serving = self.current()
        if serving is not None and serving.variant != self.variant:
            raise ConfigError(f"input `state-dir`: {str(self.dir)!r} holds the {serving.variant} deployment; a "
                              f"{self.variant} deployment needs a state-dir of its own", hint="give this deploy "
                              "its own state-dir, and action-monitor both sides' endpoints")
        if self.feedback_token:
            self.set_feedback_token(self.feedback_token)
        number, folder = self._next_revision_dir()
        rev = Revision(number, candidate.model_uri, str(candidate.meta["model_version"]), candidate.meta["run_id"],
                       serving_checksum(candidate.meta), str(_moved(candidate.model_dir, folder / "model")),
                       variant=self.variant, commit=candidate.commit)
        if candidate.shadow:
            _, shadow_dir, shadow = candidate.shadow
            rev.shadow_dir, rev.shadow_sha256 = str(_moved(shadow_dir, folder / "shadow")), serving_checksum(shadow)
            rev.shadow_version = str(shadow["model_version"])
        self.progress(f"starting revision {number} (model version {rev.model_version}) and waiting for /readyz")
        return self._deploy(rev)

    def _next_revision_dir(self) -> tuple[int, Path]:
        """The number and an empty folder for the revision a deploy will create (the number is
        taken at once: never handed out again, even if that deploy fails)."""
        with self._locked() as state:
            number = state.history.next_number()
            state.history = state.history.started(number)
            self._save(state)
        path = self._folder(number)
        path.mkdir(parents=True, exist_ok=True)
        return number, path

    def _deploy(self, rev: Revision) -> Result:
        with self._locked() as state:
            started = time.monotonic()
            self._start(rev)
            state.revisions.append(rev)
            self._save(state)  # tracked at once: an interrupted deploy never leaves an unknown server
            if not self._wait_ready(rev):
                log = self._log_tail(rev)
                self._stop(rev, "failed")
                self._save(state)
                current = state.get(state.history.current)
                keeps = f"revision {current.revision} keeps serving" if current else "nothing served before"
                raise ServiceError("local model server", f"revision {rev.revision} did not become ready within "
                                   f"{self.ready_timeout:g} s; {keeps}. Log: {log}", retryable=False)
            ready_seconds = time.monotonic() - started
            state.history = state.history.deployed(rev.revision, self.keep)[0]
            self._tidy(state)
            return _result(rev, state.get(state.history.previous), round(ready_seconds, 2))

    def rollback(self, to: int | None = None) -> Result:
        """Return to revision ``to`` (default: the previous one, restarted if needed), retiring every
        revision above it."""
        self._require_state("roll back")
        with self._locked() as state:
            try:
                after, _ = state.history.rolled_back(to)
            except NothingToRollBackTo as nothing:
                raise UserError(f"{self.dir}: {nothing}", hint=nothing.hint) from None
            target, current = state.get(after.current), state.get(state.history.current)
            started = time.monotonic()
            if not self._alive(target) or not self._ready(target):
                self._stop(target, "stopped")  # a hung standby is replaced, never left running beside
                self._start(target)
                if not self._wait_ready(target):
                    self._stop(target, "stopped")
                    self._save(state)
                    raise ServiceError("local model server", f"revision {target.revision} could not be restarted; "
                                       f"revision {current.revision} keeps serving. Log: {self._log_tail(target)}",
                                       retryable=False)
            ready_seconds = time.monotonic() - started
            state.history = after
            self._tidy(state)
            return _result(target, state.get(after.previous), round(ready_seconds, 2), current)

    def _tidy(self, state: _State) -> None:
        """Make the processes match the history: serving and standby run, older kept revisions are
        stopped, the rest are stopped and forgotten (their folders removed). Saves the state."""
        history = state.history
        for rev in list(state.revisions):
            if rev.revision not in history.kept:
                self._stop(rev, "retired")
                state.revisions.remove(rev)
                shutil.rmtree(self._folder(rev.revision), ignore_errors=True)
            elif rev.revision == history.current:
                rev.status = "serving"
            elif rev.revision == history.previous:
                if not (self._alive(rev) and self._ready(rev)):
                    self._stop(rev, "stopped")
                    self._start(rev)
                    if not self._wait_ready(rev):
                        self._stop(rev, "stopped")  # a rollback to it will try again
                        continue
                rev.status = "standby"
            else:
                self._stop(rev, "stopped")
        self._save(state)

    def _folder(self, number: int) -> Path:
        return self.dir / "revisions" / str(number)

    def current(self) -> Release | None:
        if not (self.dir / "state.json").is_file():
            return None
        with self._locked() as state:
            rev = state.get(state.history.current)
        return rev.release() if rev else None

    def history(self) -> list[Release]:
        if not (self.dir / "state.json").is_file():
            return []
        with self._locked() as state:
            return [state.get(n).release() for n in reversed(state.history.kept) if state.get(n)]

    @property
    def token_file(self) -> Path:
        return self.dir / "feedback-token"

    def set_feedback_token(self, token: str) -> None:
        """Keep ``token`` for every revision started from now on (written owner-only, atomically)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / "feedback-token.tmp"
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(token)
        os.replace(tmp, self.token_file)

    def has_feedback_token(self) -> bool:
        return self.token_file.is_file()

    def stop(self) -> None:
        """Stop every process this state dir started (idempotent once it holds a deployment)."""
        self._require_state("stop")
        with self._locked() as state:
            for rev in state.revisions:
                if rev.pid:
                    self._stop(rev, "stopped" if rev.status != "failed" else "failed")
            self._save(state)

    # -- processes -----------------------------------------------------------------------------
    def _start(self, rev: Revision) -> None:
        rev.port = _free_port()
        from ..installs import full_python

        python = full_python(lambda text: print(f"aicd: {text}", flush=True))
        log = open(Path(rev.model_dir).parent / "server.log", "ab")  # noqa: SIM115 - handed to the child
        cmd = [python, "-P", "-m", "aicd.serve", "--model-dir", rev.model_dir, "--sha256", rev.sha256,
               "--port", str(rev.port), "--model-name", rev.model_name, "--model-version", rev.model_version,
               "--run-id", rev.run_id, "--variant", rev.variant]
        if rev.shadow_dir:
            cmd += ["--shadow-model-dir", rev.shadow_dir, "--shadow-sha256", rev.shadow_sha256,
                    "--shadow-model-version", rev.shadow_version]
        # The server must import this very aicd, however the parent found it (installed or a checkout).
        package_root = str(Path(__file__).resolve().parents[2])
        env = {k: v for k, v in os.environ.items() if not k.startswith("AICD_FEEDBACK_TOKEN")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
        if self.token_file.is_file():
            env["AICD_FEEDBACK_TOKEN_FILE"] = str(self.token_file.resolve())
        with log:
            launched = subprocess.run([sys.executable, "-c", _DETACH, *cmd], stdout=subprocess.PIPE, stderr=log,
                                      stdin=subprocess.DEVNULL, env=env, check=True, timeout=30)
        rev.pid, rev.status = int(launched.stdout), "starting"

    def _wait_ready(self, rev: Revision) -> bool:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if not self._alive(rev):
                return False
            if self._ready(rev):
                return True
            time.sleep(0.2)
        return False

    @staticmethod
    def _ready(rev: Revision) -> bool:
        try:
            with urllib.request.urlopen(f"{rev.endpoint}/readyz", timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _alive(self, rev: Revision) -> bool:
        """True when ``rev.pid`` is still our server (guards against a reused PID)."""
        try:
            cmdline = Path(f"/proc/{rev.pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{rev.pid}/stat").read_text()
        except OSError:
            return False
        return b"aicd.serve" in cmdline and rev.sha256.encode() in cmdline and ") Z " not in stat

    def _stop(self, rev: Revision, status: str) -> None:
        if rev.pid and self._alive(rev):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(rev.pid, signal.SIGTERM)  # graceful: in-flight requests finish
            deadline = time.monotonic() + 10
            while self._alive(rev) and time.monotonic() < deadline:
                time.sleep(0.1)
            if self._alive(rev):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(rev.pid, signal.SIGKILL)
        rev.pid, rev.status = 0, status

    @staticmethod
    def _log_tail(rev: Revision, lines: int = 5) -> str:
        try:
            text = (Path(rev.model_dir).parent / "server.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:]) or "(empty log)"

    # -- state ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield self._load()

    def _load(self) -> _State:
        path = self.dir / "state.json"
        if not path.exists():
            return _State()
        raw = json.loads(path.read_text())
        revisions = [Revision(**r) for r in raw["revisions"]]
        if "history" not in raw:  # a state written before histories: current and previous only
            numbers = [r.revision for r in revisions]
            raw["history"] = {"kept": [n for n in (raw.get("previous"), raw.get("current")) if n in numbers],
                              "last": max(numbers, default=0)}
        return _State(revisions, History.from_json(raw["history"]))

    def _save(self, state: _State) -> None:
        tmp = self.dir / "state.json.tmp"
        tmp.write_text(json.dumps({"revisions": [asdict(r) for r in state.revisions],
                                   "current": state.history.current, "previous": state.history.previous,
                                   "history": state.history.to_json()}, indent=1))
        os.replace(tmp, self.dir / "state.json")
        self._write_scrape_targets(state)

    @property
    def scrape_targets(self) -> Path:
        return self.dir / SCRAPE_TARGETS

    def _write_scrape_targets(self, state: _State) -> None:
        """Prometheus file-based discovery of what serves: the serving revision only (a standby takes no
        traffic, and would make the served version ambiguous), rewritten atomically on every change."""
        serving = state.get(state.history.current)
        groups = [{"targets": [f"127.0.0.1:{serving.port}"],
                   "labels": {"aicd_revision": str(serving.revision), "aicd_target": "local"}}] \
            if serving and serving.pid else []
        tmp = self.dir / f"{SCRAPE_TARGETS}.tmp"
        tmp.write_text(json.dumps(groups, indent=1))
        os.replace(tmp, self.scrape_targets)


# The server must outlive the deploy step, so it is started by a short-lived launcher: it becomes
# init's child (reaped by init when it exits, never a zombie of ours) in a session of its own.
_DETACH = """
import subprocess, sys
proc = subprocess.Popen(sys.argv[1:], stdout=sys.stderr, stderr=sys.stderr, stdin=subprocess.DEVNULL,
                        start_new_session=True)
print(proc.pid)
proc.returncode = 0  # deliberately not waited for: the launcher exits and init adopts the server
"""


def _result(serving: Revision, standby: Revision | None, ready_seconds: float,
            retired: Revision | None = None) -> Result:
    return Result(serving.endpoint, serving.release(), standby.release() if standby else None,
                  retired.release() if retired else None, ready_seconds)


def _moved(source: Path, dest: Path) -> Path:
    """``source`` moved to ``dest`` (a folder of the state dir); returns ``dest``."""
    shutil.move(str(source), str(dest))
    return dest


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

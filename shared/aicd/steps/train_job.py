"""``model.runner: kubernetes``: the model gate runs as a Kubernetes Job; the step watches it.

The Job runs this same ``aicd train`` in the training image (``aicd image train``), on the same
inputs, so the gate, the champion comparison, the MLflow run and the registration are the ones a
local run makes. The step:
- refuses before submitting what the Job could not do: data that lives only on the runner (it must
  be an object-store URL, a ``sql:`` query, or a path under one of ``model.kubernetes.volumes``), a
  tracking URI the cluster cannot reach (sqlite, a file), a variable ``model.kubernetes.env`` names
  that is not set;
- creates the Job, then its ConfigMap (aicd.yml) and Secret (MLflow credentials, the data source's
  variables, ``model.kubernetes.env``) owned by it; says why the pod is waiting (the scheduler's
  message, an image pull) and streams its log into the step's log, every line inert;
- takes the verdict and the outputs from the run the Job recorded in MLflow (tag ``aicd.job``);
- when the Job fails, passes its deadline, is evicted, or the step is cancelled (SIGINT/SIGTERM):
  deletes the Job (and with it the pod), then deletes any version that Job registered and marks its
  run FAILED — nothing of it stays registered — and says so in one line.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import signal
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from ..deploy.kube.client import KubeClient, resource_path
from ..deploy.kube.job import CONTAINER, GRACE_SECONDS, JOB_LABEL, TrainingJob, config_map, job, secret
from ..deploy.kube.pods import failure as pod_failure
from ..deploy.naming import deployment_name
from ..errors import AicdError, ConfigError, GateFailed, KubeError, ServiceError, UserError
from ..gha import Actions, md_code
from ..provenance import commit_of
from ..registry import MlflowRegistry
from .targets import namespace_for

__all__ = ["JOB_ENV", "LOCK_ENV", "check_image_lock", "lock_digest", "submit"]

EXIT_BUG = 70  # aicd's own exit status for a bug (aicd.cli.EXIT_BUG)
JOB_ENV = "AICD_TRAINING_JOB"  # set in the Job: "<namespace>/<name>"; the pod's aicd trains right there
LOCK_ENV = "AICD_LOCK_SHA256"  # the training image's lock digest (its Dockerfile sets it)
EXPECT_ENV = "AICD_EXPECT_LOCK_SHA256"  # the runner's, handed to the Job
LOCK = Path(__file__).resolve().parents[3] / "requirements" / "aicd.lock"
PASSED_THROUGH = ("GITHUB_REPOSITORY", "GITHUB_RUN_ID", "GITHUB_SERVER_URL", "AICD_MLFLOW_RETRY_SECONDS")
MLFLOW_SECRETS = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
SOURCE_VARIABLES = {  # what each kind of data source reads from the environment
    "s3": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
           "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"),
    "gs": ("STORAGE_EMULATOR_HOST",),
    "az": ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT_KEY",
           "AZURE_STORAGE_SAS_TOKEN"),
}
POLL_SECONDS = 1.0
READ_RETRY_SECONDS = 120


def _transient(exc: KubeError) -> bool:
    return exc.status in (0, 429) or exc.status >= 500


def lock_digest(path: Path = LOCK) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_image_lock(env: Mapping[str, str]) -> None:
    """In the Job: the image must hold the runner's locked dependencies, or the gate's numbers would
    come from other library versions than a local run's."""
    expected, have = env.get(EXPECT_ENV, ""), env.get(LOCK_ENV, "")
    if expected and expected != have:
        raise ConfigError(f"the training image was built from another requirements/aicd.lock (image "
                          f"{have[:12] or 'none'}, this aicd {expected[:12]})",
                          hint="rebuild it with `aicd image train --registry <registry>` and update "
                               "model.kubernetes.image")


@dataclass(frozen=True)
class Submission:
    """Everything the step decided before talking to the cluster."""

    spec: TrainingJob
    config_text: str
    secret_values: Mapping[str, str]
    files: Mapping[str, str] = field(default_factory=dict)  # workspace path -> text: the entrypoint's module

    def owned(self, uid: str) -> list[dict]:
        """The ConfigMap (aicd.yml, the entrypoint's module) and the Secret, owned by the Job ``uid``."""
        made = []
        if self.config_text or self.files:
            made.append(config_map(self.spec, uid, self.config_text, self.files))
        if self.secret_values:
            made.append(secret(self.spec, uid, self.secret_values))
        return made


def submit(inputs, cfg: Config, gh: Actions, env: Mapping[str, str], name: str, tenant: str,
           registry: MlflowRegistry, tracking_uri: str) -> dict[str, str]:
    """Run the gate as a Job and return the step's outputs (GateFailed / UserError as a local run)."""
    k = cfg.model.kubernetes
    namespace = inputs.get("namespace") or namespace_for(tenant, k.namespace or cfg.deploy.kubernetes.namespace)
    plan = _plan(inputs, cfg, env, name, namespace, tracking_uri)
    for value in plan.secret_values.values():
        gh.mask(value)
    kubeconfig = inputs.get("kubeconfig") or env.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    api = KubeClient.from_kubeconfig(kubeconfig)
    watch = JobWatch(api, plan.spec, gh, k.active_deadline_seconds)
    gh.info(f"aicd train: submitting Job {namespace}/{plan.spec.name} (image {k.image}, deadline "
            f"{k.active_deadline_seconds} s)")
    started = time.monotonic()
    # suspended until what it mounts exists (owned by it, so deleting the Job deletes them too); a Job
    # that cannot be created leaves nothing to take back
    uid = api.create(job(plan.spec, k, suspended=True))["metadata"]["uid"]
    try:
        for manifest in plan.owned(uid):
            api.create(manifest)
        api.request("PATCH", resource_path("Job", namespace, plan.spec.name), {"spec": {"suspend": False}},
                    "application/merge-patch+json")
        outcome = watch.until_finished()
    except BaseException as exc:
        with _signals_deferred():
            _take_back(api, plan.spec, registry, name, gh, why=_why(exc), fast=isinstance(exc, KeyboardInterrupt))
        raise
    _forget_secret(api, plan)
    if not outcome.succeeded:  # Kubernetes marks a Job Failed once its pod is gone: it stays, for its log
        taken_back = _take_back(api, plan.spec, registry, name, gh, why=outcome.reason,
                                delete=outcome.exit_code is None)
        raise _failure(outcome, plan.spec, registry, name, taken_back)
    return _outputs(registry, name, plan.spec, gh, time.monotonic() - started, outcome.node)


@contextlib.contextmanager
def _signals_deferred():
    """While a cancelled step takes back what its Job made, a second SIGINT or the runner's SIGTERM
    must not cut the cleanup short (the runner kills the step 10 s after cancelling it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _forget_secret(api: KubeClient, plan: Submission) -> None:
    """The credentials are needed only while the pod runs; the finished Job stays a day without them."""
    if plan.secret_values:
        with contextlib.suppress(AicdError):
            api.delete("Secret", plan.spec.namespace, plan.spec.name)


def _why(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "the step was cancelled"
    return f"the step failed ({exc})" if isinstance(exc, AicdError) else f"the step failed ({type(exc).__name__})"


# -- before submitting -------------------------------------------------------------------------------
def _plan(inputs, cfg: Config, env: Mapping[str, str], name: str, namespace: str, tracking_uri: str) -> Submission:
    k = cfg.model.kubernetes
    data = _data_reference(inputs["data"], cfg)
    uri = k.tracking_uri or tracking_uri
    if not uri.startswith(("http://", "https://", "databricks")):
        line = cfg.line_of("model.kubernetes.tracking-uri") or cfg.line_of("model.runner")
        raise ConfigError(f"MLflow tracking URI {uri or '(none)'!r} is not reachable from a training Job",
                          file=cfg.file, line=line,
                          hint="run an MLflow server the cluster reaches and give its URL (model.kubernetes."
                               "tracking-uri when the cluster sees it at another address than the runner)")
    config_path, config_text = _config(inputs.get("config") or "")
    files = _entrypoint_files(cfg, env)
    job_name = f"{deployment_name(name)[:40].rstrip('-')}-train-{secrets.token_hex(3)}"
    plain = {"AICD_DATA": data, "AICD_CONFIG": config_path, "AICD_DATA_VERSION": inputs.get("data-version") or "",
             "AICD_MODEL_NAME": inputs.get("model-name") or "", "AICD_TENANT": inputs.get("tenant") or "",
             "AICD_ON_FAILURE": inputs["on-failure"], "GITHUB_SHA": commit_of(env),
             JOB_ENV: f"{namespace}/{job_name}", EXPECT_ENV: lock_digest(), "HOME": "/tmp",
             **{v: env[v] for v in PASSED_THROUGH if env.get(v)}}
    handed = _handed_over(cfg, data, env)
    parts = urllib.parse.urlsplit(uri)
    if parts.username or parts.password or parts.query:  # a URI that carries credentials is one
        handed["MLFLOW_TRACKING_URI"] = uri
    else:
        plain["MLFLOW_TRACKING_URI"] = uri
    spec = TrainingJob(job_name, namespace, name, k.image, config_path, {k_: v for k_, v in plain.items() if v},
                       tuple(sorted(handed)), tuple(sorted(files)))
    return Submission(spec, config_text, handed, files)


ENTRYPOINT_BYTES = 256 * 1024


def _entrypoint_files(cfg: Config, env: Mapping[str, str]) -> dict[str, str]:
    """A ``model.entrypoint`` module goes to the Job with aicd.yml, at the same path in its workspace:
    one file (a package's other modules are not shipped: bake those into an image built FROM the
    training image)."""
    if not cfg.model.entrypoint:
        return {}
    module = cfg.model.entrypoint.partition(":")[0]
    relative = module.replace(".", "/") + ".py"
    workdir = Path(env.get("GITHUB_WORKSPACE") or os.getcwd())
    path = workdir / relative
    line = cfg.line_of("model.entrypoint")
    if not path.is_file():
        raise ConfigError(f"`model.entrypoint`: {relative} is not a file of the workspace, so it cannot go to the "
                          "training Job", file=cfg.file, line=line,
                          hint="a single-module entrypoint is shipped with aicd.yml; for a package, build an image "
                               "FROM the training image with your code in /workspace and name it in "
                               "model.kubernetes.image")
    text = path.read_text(encoding="utf-8")
    if len(text.encode()) > ENTRYPOINT_BYTES:
        raise ConfigError(f"`model.entrypoint`: {relative} is larger than {ENTRYPOINT_BYTES // 1024} KB, more than a "
                          "ConfigMap should carry", file=cfg.file, line=line,
                          hint="build an image FROM the training image with your code in /workspace")
    return {relative: text}


def _data_reference(data: str, cfg: Config) -> str:
    """The data as the Job names it: a URL or query as given, a path only inside a mounted volume."""
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", data) or data.startswith("sql:"):
        if data.startswith(("file://", "http://", "https://")):
            raise _runner_only(data, cfg)
        return data
    mounts = [v.mount for v in cfg.model.kubernetes.volumes]
    path = data if data.startswith("/") else ""
    if path and any(path == m or path.startswith(m + "/") for m in mounts):
        return path
    raise _runner_only(data, cfg)


def _runner_only(data: str, cfg: Config) -> ConfigError:
    mounts = ", ".join(v.mount for v in cfg.model.kubernetes.volumes)
    return ConfigError(f"input `data`: {data[:80]!r} is on the runner, where a training Job cannot read it",
                       hint="give an s3://, gs:// or az:// URL, a `sql: SELECT ...` query, or a path under a volume of "
                            "model.kubernetes.volumes" + (f" (mounted at {mounts})" if mounts else ""))


def _config(path: str) -> tuple[str, str]:
    """(path inside the Job's workspace, text) of aicd.yml: relative paths stay as they are, so the
    Job's messages name the file and line the user knows."""
    if not path:
        return "", ""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"input `config`: cannot read {path}: {exc.strerror or exc}") from None
    relative = os.path.normpath(path)
    if relative.startswith(("/", "..")):
        relative = os.path.basename(path)
    return relative, text


def _handed_over(cfg: Config, data: str, env: Mapping[str, str]) -> dict[str, str]:
    """The variables the Job gets through its Secret: MLflow's credentials and the data source's, when
    set on the runner, and each ``model.kubernetes.env`` name, which must be set."""
    names = list(MLFLOW_SECRETS)
    scheme = data.split("://", 1)[0] if "://" in data else ""
    names += SOURCE_VARIABLES.get(scheme, ())
    if data.startswith("sql:"):
        names.append(cfg.data.sql.url_env)
    for i, name in enumerate(cfg.model.kubernetes.env):
        if name not in env:
            raise ConfigError(f"`model.kubernetes.env[{i}]`: {name} is not set on the runner", file=cfg.file,
                              line=cfg.line_of("model.kubernetes.env"),
                              hint="set it in the step's env: (from a secret), or remove it from the list")
        names.append(name)
    return {n: env[n] for n in dict.fromkeys(names) if env.get(n)}


# -- watching ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    reason: str = ""  # why it failed, in words
    exit_code: int | None = None
    last_line: str = ""  # the pod's own one-line verdict (its termination message's last aicd line)
    node: str = ""


class JobWatch:
    """Follows one Job to its end: says why the pod waits, streams its log, reads how it ended."""

    def __init__(self, api: KubeClient, spec: TrainingJob, gh: Actions, deadline: float,
                 clock: Callable[[], float] = time.monotonic):
        self.api, self.spec, self.gh, self.deadline, self.clock = api, spec, gh, deadline, clock
        self._said: set[str] = set()
        self._log: threading.Thread | None = None
        self._last_pod: dict | None = None  # an evicted pod may be gone by the time the Job says Failed
        self._muted = threading.Event()

    def until_finished(self) -> Outcome:
        stop_at = self.clock() + self.deadline + 120  # the Job's own deadline ends it first; this bounds the loop
        first_seen: dict = {}
        while self.clock() < stop_at:
            found = self._read(lambda: self.api.get("Job", self.spec.namespace, self.spec.name))
            if found is None:
                return Outcome(False, "the Job was deleted by someone else")
            pod = self._read(self._pod)
            if pod:
                self._follow(pod)
            ended = _ended(found)
            if ended is not None:
                self._drain()
                return self._outcome(ended, pod or self._last_pod)
            stuck = pod_failure([pod], first_seen, self.clock()) if pod else ""
            if stuck:  # an image that cannot be pulled never gets better by waiting out the deadline
                self._drain()
                return Outcome(False, stuck)
            time.sleep(POLL_SECONDS)
        return Outcome(False, f"the Job did not finish within its deadline of {self.deadline:g} s and 120 s more")

    def _read(self, call):
        """``call()``, retried while the API server answers with a transient error (a restart, a
        429, a reset connection) for up to READ_RETRY_SECONDS: a blip must not end an hour's fit."""
        give_up = self.clock() + READ_RETRY_SECONDS
        while True:
            try:
                return call()
            except KubeError as exc:
                if not _transient(exc) or self.clock() > give_up:
                    raise
                time.sleep(2)

    def _pod(self) -> dict | None:
        pods = self.api.list("Pod", self.spec.namespace, f"{JOB_LABEL}={self.spec.name}")
        if not pods:
            return None
        pod = max(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""))
        self._say_waiting(pod)
        self._last_pod = pod
        return pod

    def _say_waiting(self, pod: dict) -> None:
        """Each new reason the pod is not running yet, once: unschedulable (the scheduler's words),
        pulling, an image that cannot be pulled."""
        status = pod.get("status", {})
        for cond in status.get("conditions", []):
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False" and cond.get("message"):
                self._say(f"waiting for a node: {cond['message']}")
            if cond.get("type") == "PodScheduled" and cond.get("status") == "True":
                self._say(f"scheduled on node {pod.get('spec', {}).get('nodeName', '?')}")
        for c in status.get("containerStatuses", []):
            waiting = c.get("state", {}).get("waiting")
            if waiting and waiting.get("reason") == "ContainerCreating":
                self._say(f"pod {pod['metadata']['name']}: starting (the node pulls the image first when it "
                          "does not have it)")
            elif waiting and waiting.get("reason") not in (None, "PodInitializing"):
                detail = f"{waiting['reason']}: {waiting.get('message', '')}".rstrip(": ")
                self._say(f"pod {pod['metadata']['name']}: {detail}")

    def _say(self, text: str) -> None:
        if text not in self._said:
            self._said.add(text)
            self.gh.info(f"aicd train: {text}")

    def _follow(self, pod: dict) -> None:
        """Start streaming the log once the container has started."""
        statuses = pod.get("status", {}).get("containerStatuses", [])
        started = any(s.get("state", {}).get("running") or s.get("state", {}).get("terminated") for s in statuses)
        if self._log is not None or not started:
            return
        name = pod["metadata"]["name"]

        def stream() -> None:
            try:
                for line in self.api.log_lines(self.spec.namespace, name, CONTAINER, self.deadline + 60):
                    if self._muted.is_set():
                        return
                    self.gh.info(f"  │ {line}")
            except Exception as exc:  # the log is a view: losing it must not end the step
                if not self._muted.is_set():
                    self.gh.info(f"aicd train: the Job's log stopped ({getattr(exc, 'message', None) or exc}); "
                                 f"the rest is in `kubectl -n {self.spec.namespace} logs job/{self.spec.name}`")

        self._log = threading.Thread(target=stream, name="aicd-job-log", daemon=True)
        self._log.start()

    def _drain(self) -> None:
        """Let the log reach its end, then stop it: nothing of it prints after the step's verdict."""
        if self._log is not None:
            self._log.join(timeout=10)
        self._muted.set()

    def _outcome(self, ended: tuple[bool, str, str], pod: dict | None) -> Outcome:
        succeeded, reason, message = ended
        node = (pod or {}).get("spec", {}).get("nodeName", "")
        terminated = _terminated(pod)
        code = terminated.get("exitCode") if terminated else None
        if succeeded:
            return Outcome(True, node=node)
        words = _failure_words(reason, message, pod, terminated, self.deadline)
        return Outcome(False, words, code, _last_aicd_line(terminated.get("message", "") if terminated else ""), node)


def _ended(found: dict) -> tuple[bool, str, str] | None:
    """(succeeded, reason, message) once the Job has a Complete or Failed condition."""
    for cond in found.get("status", {}).get("conditions", []):
        if cond.get("status") != "True":
            continue
        if cond.get("type") == "Complete":
            return True, "", ""
        if cond.get("type") == "Failed":
            return False, cond.get("reason", ""), cond.get("message", "")
    return None


def _terminated(pod: dict | None) -> dict:
    for c in (pod or {}).get("status", {}).get("containerStatuses", []):
        if c.get("name") == CONTAINER:
            return c.get("state", {}).get("terminated") or c.get("lastState", {}).get("terminated") or {}
    return {}


def _failure_words(reason: str, message: str, pod: dict | None, terminated: dict, deadline: float) -> str:
    status = (pod or {}).get("status", {})
    if reason == "DeadlineExceeded":
        return f"the Job passed its active deadline of {deadline:g} s (model.kubernetes.active-deadline-seconds)"
    disruption = next((c for c in status.get("conditions", []) if c.get("type") == "DisruptionTarget"
                       and c.get("status") == "True"), None)
    if status.get("reason") == "Evicted" or disruption:
        why = status.get("message") or (disruption or {}).get("message") or message or "no reason given"
        return f"the pod was evicted from node {pod.get('spec', {}).get('nodeName', '?')}: {why}"
    if terminated.get("reason") == "OOMKilled":
        return "the pod ran out of memory (OOMKilled): raise model.kubernetes.resources.limits.memory"
    if terminated:
        return f"the training pod exited with status {terminated.get('exitCode')}"
    return f"the Job failed ({reason or 'no reason given'}: {message})".replace(": )", ")")


def _last_aicd_line(message: str) -> str:
    """The pod's own verdict: the last ``error: ...`` or ``aicd: ...`` line of its termination message."""
    for line in reversed(message.splitlines()):
        line = line.strip()
        for prefix in ("error: ", "aicd: "):
            if line.startswith(prefix):
                return line[len(prefix):]
    return ""


# -- after ---------------------------------------------------------------------------------------------
def _failure(outcome: Outcome, spec: TrainingJob, registry: MlflowRegistry, name: str,
             taken_back: bool = True) -> Exception:
    """The one line a failed Job becomes: the gate's own verdict when the Job's aicd said no (exit 1,
    and its run tagged aicd.gate=failed), its own one line for input it refused, and exit 70 — a bug
    in aicd inside the Job — as a bug here too."""
    where = f"training Job {spec.namespace}/{spec.name}"
    if outcome.exit_code == 1:
        run = registry.job_run(name, f"{spec.namespace}/{spec.name}")
        if run is not None and run.get("aicd.gate") == "failed":
            return GateFailed(f"{outcome.last_line or 'model gate failed (its checks are in the log above)'} ({where})")
        if outcome.last_line:
            return UserError(f"{where}: {outcome.last_line}")
    if outcome.exit_code == EXIT_BUG:
        return RuntimeError(f"{where} stopped on a bug in aicd: {outcome.last_line or 'see its log above'}")
    kept = "nothing was registered" if taken_back else \
        f"check model {name} for a version tagged aicd.job={spec.namespace}/{spec.name}"
    return ServiceError("kubernetes", f"{where}: {outcome.reason}; {kept}", retryable=False,
                        hint=f"kubectl -n {spec.namespace} describe job {spec.name}; kubectl -n {spec.namespace} "
                             f"logs job/{spec.name}")


def _take_back(api: KubeClient, spec: TrainingJob, registry: MlflowRegistry, name: str, gh: Actions,
               why: str, delete: bool = True, fast: bool = False) -> bool:
    """Delete the Job and its pod (when ``delete``: it may still run), then remove what the Job
    registered — once at once, and again when the pod is gone (it may register while it stops).
    ``fast``: a cancelled step, which the runner kills about 10 s later. True when the registry
    could be checked: no version of a Job that did not succeed stays registered."""
    job_id = f"{spec.namespace}/{spec.name}"
    budget = 3.0 if fast else 30.0
    if delete:
        gh.info(f"aicd train: {why}: deleting Job {job_id}")
        try:
            api.delete("Job", spec.namespace, spec.name, propagation="Background")
        except AicdError as exc:
            gh.annotate("warning", f"could not delete Job {job_id}: {exc.message}", title="aicd train")
    removed, checked = registry.discard_job(name, job_id, budget=budget)
    if delete:
        _wait_pod_gone(api, spec, 6.0 if fast else GRACE_SECONDS + 5)
        more, checked_again = registry.discard_job(name, job_id, budget=budget)
        removed, checked = removed + more, checked and checked_again
    if removed:
        gh.info(f"aicd train: took back version(s) {', '.join(removed)} that Job {job_id} registered")
    if not checked:
        gh.annotate("warning", f"could not check MLflow for versions Job {job_id} registered: look for model "
                    f"{name} versions tagged aicd.job={job_id} and delete them", title="aicd train")
    return checked


def _wait_pod_gone(api: KubeClient, spec: TrainingJob, seconds: float) -> None:
    end = time.monotonic() + seconds
    with contextlib.suppress(AicdError):
        while time.monotonic() < end and api.list("Pod", spec.namespace, f"{JOB_LABEL}={spec.name}"):
            time.sleep(0.5)


def _outputs(registry: MlflowRegistry, name: str, spec: TrainingJob, gh: Actions, seconds: float,
             node: str) -> dict[str, str]:
    job_id = f"{spec.namespace}/{spec.name}"
    found = registry.job_result(name, job_id)
    if found is None:
        raise ServiceError("MLflow", f"Job {job_id} succeeded but no run of model {name!r} carries its tag aicd.job",
                           retryable=False, hint="check that the Job and this step use the same MLflow server")
    outputs, summary = found
    gh.set_outputs(outputs)
    where = (f"Trained on Kubernetes: Job {md_code(job_id)} on node {md_code(node or '?')} in {seconds:.0f} s "
             f"(log: `kubectl -n {spec.namespace} logs job/{spec.name}`, kept a day).")
    if outputs["reused"] == "true":
        summary = (f"## ♻️ aicd model gate — reused\n\n**{outputs['model-uri']}** (run {md_code(outputs['run-id'])}) "
                   "was already trained and registered from this commit, data-version and config.")
    gh.summary((summary or f"## aicd model gate\n\nrun {md_code(outputs['run-id'])}") + "\n\n" + where)
    gh.info(f"aicd train: Job {job_id} finished in {seconds:.1f} s: passed={outputs['passed']}, "
            f"model-uri={outputs['model-uri'] or '(none)'}")
    return outputs

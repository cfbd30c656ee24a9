"""The MLflow adapter: tracking runs, registering model versions, moving aliases, fetching models.

Contracts:
- ``record_training`` either leaves a FINISHED run with a registered version carrying the alias,
  or a run marked FAILED (or a refused one, FINISHED with ``aicd.gate=failed``) and *no* new
  version: a version created before a later step failed is deleted again, and no alias moves.
- Transient failures (connection refused or reset, timeouts, HTTP 5xx/429) are retried with
  exponential backoff for up to ``retry_seconds``; authentication and permission errors fail at
  once. Every MLflow or network error leaves this module as :class:`~aicd.errors.ServiceError`
  naming the tracking URI; an http(s) server is probed first so a wrong URI fails in seconds.
- A version is identified by the ``aicd.identity`` tag (commit + data-version + config + tenant):
  ``find_version`` lets a re-run reuse it instead of registering a duplicate.
- A fetched model directory is checked against the SHA-256 recorded on its version at training.
- Promotion moves ``champion`` and keeps the replaced version addressable as ``previous-champion``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import AicdError, ServiceError, UserError
from .lineage import DEPLOYMENTS_TAG, DatasetRecord, Lineage, with_deployment
from .modelfiles import META_FILE, MODEL_FILE, ONNX_FILE, PROFILE_FILE, sha256_file

__all__ = ["DOWNLOADER_FILES", "MlflowRegistry", "ModelRecord", "serving_checksum"]

CHECKSUM_TAG = "aicd.model_sha256"
ONNX_CHECKSUM_TAG = "aicd.onnx_sha256"
IDENTITY_TAG = "aicd.identity"
JOB_TAG = "aicd.job"  # <namespace>/<name> of the training Job that created the run
REUSED_BY_JOB_TAG = "aicd.reused_by_job"
SUMMARY_ARTIFACT = "aicd/summary.md"
# what MLflow's downloader writes into a downloaded models:/ directory itself (overwriting any stored copy)
DOWNLOADER_FILES = ("registered_model_meta",)
_TRANSIENT_CODES = {"TEMPORARILY_UNAVAILABLE", "INTERNAL_ERROR", "REQUEST_LIMIT_EXCEEDED", "DEADLINE_EXCEEDED"}
_AUTH = re.compile(r"error code 40[13]\b|\b(UNAUTHENTICATED|PERMISSION_DENIED)\b|\bUnauthorized\b|\bForbidden\b")
_TRANSIENT = re.compile(r"error code (5\d\d|429)\b|Max retries exceeded|Connection (refused|reset|aborted)|"
                        r"timed out|Read ?Timeout|Connect ?Timeout|RemoteDisconnected|ProtocolError")


@dataclass(frozen=True)
class ModelRecord:
    run_id: str
    name: str
    version: str | None
    reused: bool = False
    gate: str = ""  # the version's aicd.gate tag: passed, or failed for one registered anyway

    @property
    def model_uri(self) -> str:
        return f"models:/{self.name}/{self.version}" if self.version else ""


_SCHEMES = {"http", "https", "sqlite", "postgresql", "mysql", "mssql", "databricks", "databricks-uc"}


def _quoted(value: str) -> str:
    """A value inside an MLflow search filter's single quotes."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _redacted(uri: str) -> str:
    """``https://user:secret@host`` -> ``https://user:***@host``."""
    return re.sub(r"(//[^/:@]+):[^/@]+@", r"\1:***@", uri)


def serving_checksum(meta: dict) -> str:
    """The SHA-256 of the file the model server loads: the ONNX export when there is one."""
    return meta.get("onnx_sha256") or meta["sha256"]


def _serving_requirements() -> list[str]:
    """What loading the model needs, pinned to what trained it. Stating it spares MLflow's inference,
    which re-imports the model in a subprocess and took 5 of the train step's 10 s of overhead."""
    from importlib.metadata import version

    return [f"{dist}=={version(dist)}" for dist in ("scikit-learn", "skops", "numpy", "scipy", "pandas")]


def _quiet_mlflow():
    """Import MLflow with telemetry off, its own retries off (ours apply) and its chatter down; validate and
    monitor, whose locks lack it, install it first (requirements/registry.lock)."""
    from .installs import ensure

    ensure("registry", lambda text: print(f"aicd: {text}", flush=True))
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    import logging
    import warnings

    warnings.filterwarnings("ignore", module=r"mlflow(\..*)?")
    import mlflow

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return mlflow


def _classify(exc: Exception) -> str:
    """'auth', 'missing', 'transient' or 'fatal' for an exception raised by the MLflow client."""
    text = f"{type(exc).__name__} {exc}"
    code = getattr(exc, "error_code", "") or ""
    if code in ("UNAUTHENTICATED", "PERMISSION_DENIED") or _AUTH.search(text):
        return "auth"
    if code == "RESOURCE_DOES_NOT_EXIST" or (code == "INVALID_PARAMETER_VALUE" and "not found" in text):
        return "missing"  # MLflow reports an unknown alias as an invalid parameter
    if code in _TRANSIENT_CODES or _TRANSIENT.search(text) or isinstance(exc, (ConnectionError, TimeoutError)):
        return "transient"
    return "fatal"


class MlflowRegistry:
    """One tracking server (or local sqlite store) and its model registry."""

    CLEANUP_SECONDS = 60.0  # undoing half state is worth waiting for longer than a normal call

    def __init__(self, tracking_uri: str, artifact_root: str | None = None, retry_seconds: float = 60.0):
        if not tracking_uri:
            raise UserError("no MLflow tracking URI given", hint="set the `tracking-uri` input or MLFLOW_TRACKING_URI")
        self.uri = tracking_uri
        self.where = f"MLflow at {_redacted(tracking_uri)}"  # what messages name: never a password
        self.artifact_root = artifact_root
        self.retry_seconds = retry_seconds
        scheme = tracking_uri.split("://", 1)[0] if "://" in tracking_uri else ""
        if scheme not in _SCHEMES:
            raise UserError(f"tracking URI {_redacted(tracking_uri)!r} is not one aicd supports",
                            hint="use http(s)://host:port for an MLflow server, or sqlite:///path/mlflow.db")
        self._probe()
        self.mlflow = _quiet_mlflow()
        self.mlflow.set_tracking_uri(tracking_uri)
        try:
            self.client = self.mlflow.MlflowClient(tracking_uri)
            self.client._tracking_client.store  # noqa: B018 - opens the store now, so a bad one fails here
        except Exception as exc:  # an MLflow or database error about the store itself
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise ServiceError(self.where, f"cannot open the tracking store: {first}", retryable=False,
                               hint="check the tracking URI") from None

    # -- plumbing ------------------------------------------------------------------------------
    def _probe(self) -> None:
        if not self.uri.startswith(("http://", "https://")):
            return
        try:
            with urllib.request.urlopen(self.uri.rstrip("/") + "/health", timeout=10) as resp:
                resp.read()
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise ServiceError(self.where, f"authentication refused (HTTP {exc.code})", retryable=False,
                                   hint="check MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD") from None
            # another status from /health (a proxy in front, say): let the real calls decide
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServiceError(self.where, f"unreachable ({reason})", retryable=True,
                               hint="start the tracking server or fix the `tracking-uri` input") from None

    def _call(self, doing: str, fn: Callable, *args, budget: float | None = None, missing_ok: bool = False,
              **kwargs):
        """Call the MLflow client, retrying transient failures with backoff for ``budget`` seconds
        (default ``retry_seconds``); with ``missing_ok``, a missing resource gives None."""
        deadline, delay = time.monotonic() + (self.retry_seconds if budget is None else budget), 0.5
        while True:
            try:
                return fn(*args, **kwargs)
            except AicdError:
                raise
            except Exception as exc:  # MLflow, requests and sqlalchemy errors all become ServiceError
                kind = _classify(exc)
                if kind == "missing" and missing_ok:
                    return None
                if kind == "transient" and time.monotonic() + delay < deadline:
                    time.sleep(delay * (0.5 + random.random()))
                    delay = min(delay * 2, 8.0)
                    continue
                raise self._error(doing, exc, kind) from None

    def _error(self, doing: str, exc: Exception, kind: str) -> ServiceError:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        if kind == "auth":
            return ServiceError(self.where, f"{doing}: authentication or permission refused ({first})",
                                retryable=False, hint="check MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/"
                                "PASSWORD and the user's permissions on this experiment and model")
        if kind == "transient":
            return ServiceError(self.where, f"{doing} failed after retrying for "
                                f"{self.retry_seconds:.0f}s ({first})", retryable=True,
                                hint="check that the tracking server is up, then re-run")
        return ServiceError(self.where, f"{doing} failed: {first}", retryable=False)

    # -- training ------------------------------------------------------------------------------
    def _experiment_id(self, name: str) -> str:
        found = self._call("looking up the experiment", self.client.get_experiment_by_name, name, missing_ok=True)
        if found:
            return found.experiment_id
        location = f"{self.artifact_root.rstrip('/')}/{name}" if self.artifact_root else None
        return self._call("creating the experiment", self.client.create_experiment, name, artifact_location=location)

    def find_version(self, name: str, identity: str) -> ModelRecord | None:
        """The registered version trained from exactly this identity, if there is one."""
        if not self._call("looking up the model", self.client.get_registered_model, name, missing_ok=True):
            return None
        versions = self._call("listing model versions", self.client.search_model_versions, f"name='{name}'")
        for v in sorted(versions, key=lambda v: int(v.version)):
            if v.tags.get(IDENTITY_TAG) == identity:
                return ModelRecord(v.run_id, name, str(v.version), reused=True, gate=v.tags.get("aicd.gate", ""))
        return None

    def record_training(self, *, name: str, params: dict, metrics: dict, tags: dict, model, meta: dict,
                        profile: dict, input_example, register: bool, onnx: bytes | None = None,
                        alias: str = "candidate", progress: Callable[[str], None] = lambda phase: None,
                        dataset: DatasetRecord | None = None,
                        seal: Callable[[Path], object] | None = None) -> ModelRecord:
        """Log one training run; when ``register``, add the model, a version and ``alias``.
        ``dataset`` is logged as the run's training input (MLflow's dataset lineage).

        ``progress`` is told each phase as it completes: run-created, values-logged, model-logged,
        version-registered, alias-set. ``onnx`` (a serialized export) is stored beside the skops
        file and gets its own checksum tag. ``seal`` (a signer) is given the finished model directory
        right before it is uploaded; if it raises, nothing is logged or registered.
        """
        experiment_id = self._experiment_id(name)
        run = self._call("creating the run", self.client.create_run, experiment_id, tags=tags)
        run_id = run.info.run_id
        progress("run-created")
        version = None
        try:
            self._log_values(run_id, params, metrics)
            if dataset is not None:
                self._log_dataset(run_id, dataset)
            progress("values-logged")
            files = (model, meta, profile, input_example, onnx, seal)
            version = self._log_and_register(run_id, name, files, alias, tags, progress) if register else None
            self._call("closing the run", self.client.set_terminated, run_id, "FINISHED")
        except BaseException:
            # all or nothing: a version whose run could not be closed is taken back with the run
            if version is not None:
                self._delete_version(name, version)
            with contextlib.suppress(Exception):
                self._call("marking the run FAILED", self.client.set_terminated, run_id, "FAILED",
                           budget=self.CLEANUP_SECONDS)
            raise
        return ModelRecord(run_id, name, version)

    def _delete_version(self, name: str, version: str) -> None:
        """Best effort (the service may be the reason we are here); deleting a version drops its aliases."""
        with contextlib.suppress(Exception):
            self._call("deleting the half-registered version", self.client.delete_model_version, name, version,
                       budget=self.CLEANUP_SECONDS)

    def _log_values(self, run_id: str, params: dict, metrics: dict) -> None:
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        finite = {k: float(v) for k, v in metrics.items() if v == v}  # NaN (e.g. one-class AUC) is not logged
        self._call("logging params and metrics", self.client.log_batch, run_id,
                   metrics=[Metric(k, v, now, 0) for k, v in finite.items()],
                   params=[Param(k, str(v)[:6000]) for k, v in params.items()])

    def _log_dataset(self, run_id: str, record: DatasetRecord) -> None:
        from mlflow.entities import Dataset, DatasetInput, InputTag

        entity = Dataset(record.name, record.digest, record.source_type, record.source, record.schema, record.profile)
        self._call("logging the training dataset", self.client.log_inputs, run_id,
                   [DatasetInput(entity, [InputTag("mlflow.data.context", "training")])])

    def training_datasets(self, run_id: str) -> list[DatasetRecord]:
        """The datasets a run logged as its training input (``[]`` for runs older than lineage)."""
        run = self._call("reading the run", self.client.get_run, run_id)
        inputs = run.inputs.dataset_inputs if run.inputs else []
        return [DatasetRecord(i.dataset.name, i.dataset.digest, i.dataset.source_type, i.dataset.source,
                              i.dataset.schema or "", i.dataset.profile or "") for i in inputs]

    def note_deployment(self, name: str, version: str, entry: dict) -> None:
        """Append ``entry`` (target, deployment, revision, image, at, command) to the version's
        ``aicd.deployments`` tag: the registry remembers every revision a version served as."""
        current = self._call("reading the model version", self.client.get_model_version, name, version)
        value = with_deployment(current.tags.get(DEPLOYMENTS_TAG), entry)
        self._call("tagging the model version", self.client.set_model_version_tag, name, version, DEPLOYMENTS_TAG,
                   value)

    def lineage(self, model_uri: str) -> Lineage:
        """Data → run → version → images and revisions, read back from the version and its run."""
        name, version = self.resolve(model_uri)
        found = self._call("reading the model version", self.client.get_model_version, name, version)
        import json

        try:
            deployments = json.loads(found.tags.get(DEPLOYMENTS_TAG) or "[]")
        except ValueError:
            deployments = []
        return Lineage(f"models:/{name}/{version}", found.run_id, self.training_datasets(found.run_id),
                       dict(found.tags), [d for d in deployments if isinstance(d, dict)])

    def _log_and_register(self, run_id, name, files, alias, tags, progress) -> str:
        checksums = self._log_model(run_id, *files)
        progress("model-logged")
        self._call("creating the registered model", self._ensure_registered_model, name)
        source = self._call("reading the run", self.client.get_run, run_id).info.artifact_uri.rstrip("/") + "/model"
        version_tags = {**checksums, **{k: v for k, v in tags.items() if k.startswith("aicd.")}}
        version = self._call("registering the model version", self._create_version_once, name, source, run_id,
                             version_tags)
        try:
            progress("version-registered")
            self._call(f"setting alias `{alias}`", self.client.set_registered_model_alias, name, alias,
                       version.version)
            progress("alias-set")
        except BaseException:
            self._delete_version(name, str(version.version))
            raise
        return str(version.version)

    def _create_version_once(self, name: str, source: str, run_id: str, tags: dict):
        """create_model_version, safe to retry: when an earlier attempt reached the server but its answer
        was lost, the version it made is found by run id instead of a second one being created."""
        made = self.client.search_model_versions(f"name = '{_quoted(name)}' and run_id = '{_quoted(run_id)}'")
        if made:
            return made[0]
        return self.client.create_model_version(name, source, run_id=run_id, tags=tags)

    def _log_model(self, run_id, model, meta, profile, input_example, onnx, seal) -> dict[str, str]:
        """Upload the model directory; returns its checksum tags (also set on the run)."""
        import mlflow.sklearn
        import skops.io

        with tempfile.TemporaryDirectory() as tmp:
            model_dir = Path(tmp) / "model"
            trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
            mlflow.sklearn.save_model(model, str(model_dir), skops_trusted_types=trusted, input_example=input_example,
                                      pip_requirements=_serving_requirements())
            checksums = {CHECKSUM_TAG: sha256_file(model_dir / MODEL_FILE)}
            meta = {**meta, "sha256": checksums[CHECKSUM_TAG], "trusted_types": trusted}
            if onnx is not None:
                (model_dir / ONNX_FILE).write_bytes(onnx)
                checksums[ONNX_CHECKSUM_TAG] = meta["onnx_sha256"] = sha256_file(model_dir / ONNX_FILE)
            (model_dir / META_FILE).write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")
            (model_dir / PROFILE_FILE).write_text(json.dumps(profile), encoding="utf-8")
            if seal is not None:  # last: the signature covers every file written above
                seal(model_dir)
            self._call("uploading the model", self.client.log_artifacts, run_id, str(model_dir), "model")
        for tag, value in checksums.items():
            self._call("tagging the run", self.client.set_tag, run_id, tag, value)
        return checksums

    def _ensure_registered_model(self, name: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException as exc:
            if _classify(exc) != "missing":
                raise
            self.client.create_registered_model(name)

    # -- aliases -------------------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: str) -> None:
        self._call(f"moving alias `{alias}`", self.client.set_registered_model_alias, name, alias, version)

    def alias_version(self, name: str, alias: str) -> str | None:
        found = self._call(f"resolving alias `{alias}`", self.client.get_model_version_by_alias, name, alias,
                           missing_ok=True)
        return str(found.version) if found else None

    def promote(self, name: str, version: str) -> str | None:
        """Make ``version`` the champion; the replaced champion stays reachable as ``previous-champion``."""
        previous = self.alias_version(name, "champion")
        if previous == str(version):
            return previous
        if previous:
            self.set_alias(name, "previous-champion", previous)
        self.set_alias(name, "champion", str(version))
        if self.alias_version(name, "challenger") == str(version):  # it won in production: no longer a challenger
            self._call("removing alias `challenger`", self.client.delete_registered_model_alias, name, "challenger")
        return previous

    def versions(self, name: str) -> list[str]:
        found = self._call("listing model versions", self.client.search_model_versions, f"name='{name}'")
        return sorted((v.version for v in found), key=int)

    def run_metrics(self, run_id: str) -> dict[str, float]:
        return dict(self._call("reading the run", self.client.get_run, run_id).data.metrics)

    # -- training Jobs (model.runner: kubernetes) ---------------------------------------------------
    def tag_run(self, run_id: str, key: str, value: str) -> None:
        self._call("tagging the run", self.client.set_tag, run_id, key, value)

    def log_summary(self, run_id: str, markdown: str) -> None:
        """The step summary a training Job wrote, kept with its run for the step that watches it."""
        self._call("storing the summary", self.client.log_text, run_id, markdown, SUMMARY_ARTIFACT)

    def _job_runs(self, name: str, key: str, job_id: str) -> list:
        found = self._call("looking up the experiment", self.client.get_experiment_by_name, name, missing_ok=True)
        if not found:
            return []
        return self._call("searching runs", self.client.search_runs, [found.experiment_id],
                          f"tags.`{key}` = '{_quoted(job_id)}'")

    def job_run(self, name: str, job_id: str) -> dict | None:
        """The tags of the run the training Job ``job_id`` created, or None."""
        runs = self._job_runs(name, JOB_TAG, job_id)
        return dict(runs[0].data.tags) if runs else None

    def job_result(self, name: str, job_id: str) -> tuple[dict[str, str], str] | None:
        """(the step's outputs, the Job's summary) from the run the Job created or reused; None when
        no run carries its tag."""
        runs = self._job_runs(name, JOB_TAG, job_id)
        reused = not runs
        runs = runs or self._job_runs(name, REUSED_BY_JOB_TAG, job_id)
        if not runs:
            return None
        run = runs[0]
        tags, run_id = run.data.tags, run.info.run_id
        made = self._call("listing model versions", self.client.search_model_versions,
                          f"name = '{_quoted(name)}' and run_id = '{_quoted(run_id)}'")
        record = ModelRecord(run_id, name, str(made[0].version) if made else None)
        metrics = {k: v for k, v in run.data.metrics.items()}
        outputs = {"passed": "true" if tags.get("aicd.gate") == "passed" else "false", "run-id": run_id,
                   "model-uri": record.model_uri, "model-version": record.version or "", "model-name": name,
                   "metrics": json.dumps(metrics, sort_keys=True, separators=(",", ":")),
                   "reused": "true" if reused else "false"}
        summary = ""  # a reused run's summary is an older Job's: the step says "reused" instead
        with contextlib.suppress(Exception), tempfile.TemporaryDirectory() as tmp:
            if reused:
                raise LookupError
            path = self.mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=SUMMARY_ARTIFACT,
                                                            dst_path=tmp, tracking_uri=self.uri)
            summary = Path(path).read_text(encoding="utf-8")
        return outputs, summary

    def discard_job(self, name: str, job_id: str, budget: float | None = None) -> tuple[list[str], bool]:
        """Delete every version the training Job ``job_id`` registered and mark its runs FAILED (the Job
        did not succeed, so nothing of it may stay registered). Returns the deleted versions and
        whether the registry could be searched and cleaned at all (each call retried for ``budget``
        seconds, default CLEANUP_SECONDS)."""
        budget = self.CLEANUP_SECONDS if budget is None else budget
        removed: list[str] = []
        try:
            found = self._call("looking up the experiment", self.client.get_experiment_by_name, name,
                               missing_ok=True, budget=budget)
            runs = self._call("searching runs", self.client.search_runs, [found.experiment_id],
                              f"tags.`{JOB_TAG}` = '{_quoted(job_id)}'", budget=budget) if found else []
            for run in runs:
                made = self._call("listing model versions", self.client.search_model_versions,
                                  f"name = '{_quoted(name)}' and run_id = '{_quoted(run.info.run_id)}'", budget=budget)
                for v in made:
                    self._call("deleting the version", self.client.delete_model_version, name, str(v.version),
                               budget=budget)
                    removed.append(str(v.version))
                with contextlib.suppress(AicdError):
                    self._call("marking the run FAILED", self.client.set_terminated, run.info.run_id, "FAILED",
                               budget=budget)
        except AicdError:
            return removed, False
        return removed, True

    # -- serving -------------------------------------------------------------------------------
    def fetch_model(self, model_uri: str, dest: str | Path) -> tuple[Path, dict]:
        """Download ``models:/name/version`` (or ``@alias``) to ``dest``; verify its checksum.

        Returns the model directory and its metadata, with ``model_name``/``model_version``/
        ``run_id`` filled in from the registry.
        """
        name, version = self.resolve(model_uri)
        mv = self._call(f"reading {model_uri}", self.client.get_model_version, name, version)
        local = self._call(f"downloading {model_uri}", self.mlflow.artifacts.download_artifacts,
                           artifact_uri=f"models:/{name}/{version}", dst_path=str(dest), tracking_uri=self.uri)
        model_dir = Path(local)
        if not (model_dir / META_FILE).is_file() or not mv.tags.get(CHECKSUM_TAG):
            raise UserError(f"{model_uri} is not an aicd model (no {META_FILE} or checksum tag)",
                            hint="deploy a version registered by action-train")
        meta = json.loads((model_dir / META_FILE).read_text(encoding="utf-8"))
        meta["sha256"] = self._verified(model_uri, model_dir / MODEL_FILE, mv.tags[CHECKSUM_TAG])
        meta.pop("onnx_sha256", None)  # trust the registry's tags, not the downloaded metadata
        if ONNX_CHECKSUM_TAG in mv.tags:
            meta["onnx_sha256"] = self._verified(model_uri, model_dir / ONNX_FILE, mv.tags[ONNX_CHECKSUM_TAG])
        meta.update(model_name=name, model_version=str(version), run_id=mv.run_id)
        return model_dir, meta

    def _verified(self, model_uri: str, path: Path, expected: str) -> str:
        actual = sha256_file(path) if path.is_file() else "missing"
        if actual != expected:
            raise ServiceError(self.where, f"{model_uri}: {path.name} checksum mismatch "
                               f"(registry {expected}, file {actual})", retryable=False,
                               hint="the stored model was changed after training; retrain or restore it")
        return actual

    def resolve(self, model_uri: str) -> tuple[str, str]:
        """(name, version) of ``models:/name/version`` or ``models:/name@alias``."""
        if not model_uri.startswith("models:/"):
            raise UserError(f"model URI {model_uri!r} is not a registry URI",
                            hint="give models:/<name>/<version> or models:/<name>@<alias>")
        rest = model_uri[len("models:/"):]
        if "@" in rest:
            name, alias = rest.split("@", 1)
            version = self.alias_version(name, alias)
            if version is None:
                raise UserError(f"{model_uri}: model {name!r} has no alias {alias!r}")
            return name, version
        name, _, version = rest.partition("/")
        if not version.isdigit():
            raise UserError(f"model URI {model_uri!r} has no version number",
                            hint="give models:/<name>/<version> or models:/<name>@<alias>")
        return name, version

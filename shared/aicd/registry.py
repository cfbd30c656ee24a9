"""The MLflow adapter: tracking runs, registering model versions, moving aliases, fetching models.

Contracts:
- ``record_training`` either leaves a FINISHED run with a registered version carrying the alias,
  or a run marked FAILED/refused and *no* new version: a version whose alias could not be set is
  deleted again, so nothing half-registered stays behind.
- Every MLflow or network error leaves this module as :class:`~aicd.errors.ServiceError` naming
  the tracking URI; an http(s) server is probed first so an unreachable one fails in seconds, not
  after MLflow's own minutes of retries.
- A fetched model directory is checked against the SHA-256 recorded on its version at training.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .errors import AicdError, ServiceError, UserError

__all__ = ["META_FILE", "MODEL_FILE", "MlflowRegistry", "ModelRecord", "sha256_file"]

MODEL_FILE = "model.skops"
META_FILE = "aicd.json"
CHECKSUM_TAG = "aicd.model_sha256"


@dataclass(frozen=True)
class ModelRecord:
    run_id: str
    name: str
    version: str | None

    @property
    def model_uri(self) -> str:
        return f"models:/{self.name}/{self.version}" if self.version else ""


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _quiet_mlflow():
    """Import MLflow with telemetry off and its chatter down (both are env/log settings)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    import logging
    import warnings

    warnings.filterwarnings("ignore", module=r"mlflow(\..*)?")
    import mlflow

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return mlflow


class MlflowRegistry:
    """One tracking server (or local sqlite store) and its model registry."""

    def __init__(self, tracking_uri: str, artifact_root: str | None = None):
        if not tracking_uri:
            raise UserError("no MLflow tracking URI given", hint="set the `tracking-uri` input or MLFLOW_TRACKING_URI")
        self.uri = tracking_uri
        self.artifact_root = artifact_root
        self._probe()
        self.mlflow = _quiet_mlflow()
        self.mlflow.set_tracking_uri(tracking_uri)
        self.client = self.mlflow.MlflowClient(tracking_uri)

    def _probe(self) -> None:
        if not self.uri.startswith(("http://", "https://")):
            return
        try:
            with urllib.request.urlopen(self.uri.rstrip("/") + "/health", timeout=10) as resp:
                resp.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServiceError(f"MLflow at {self.uri}", f"unreachable ({reason})", retryable=True,
                               hint="start the tracking server or fix the `tracking-uri` input") from None

    @contextlib.contextmanager
    def _errors(self, doing: str):
        try:
            yield
        except AicdError:
            raise
        except Exception as exc:  # MLflow, requests and sqlalchemy errors all become ServiceError
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise ServiceError(f"MLflow at {self.uri}", f"{doing} failed: {first}", retryable=True) from None

    def _experiment_id(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found:
            return found.experiment_id
        location = f"{self.artifact_root.rstrip('/')}/{name}" if self.artifact_root else None
        return self.client.create_experiment(name, artifact_location=location)

    def record_training(self, *, name: str, params: dict, metrics: dict, tags: dict, model,
                        meta: dict, input_example, register: bool, alias: str = "candidate") -> ModelRecord:
        """Log one training run; when ``register``, add the model, a version and ``alias``."""
        with self._errors("recording the training run"):
            experiment_id = self._experiment_id(name)
            run = self.client.create_run(experiment_id, tags=tags)
        run_id = run.info.run_id
        try:
            with self._errors("logging params and metrics"):
                self._log_values(run_id, params, metrics)
            version = self._log_and_register(run_id, name, model, meta, input_example, alias) if register else None
        except BaseException:
            with contextlib.suppress(Exception):
                self.client.set_terminated(run_id, "FAILED")
            raise
        with self._errors("closing the run"):
            self.client.set_terminated(run_id, "FINISHED")
        return ModelRecord(run_id, name, version)

    def _log_values(self, run_id: str, params: dict, metrics: dict) -> None:
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        self.client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
                              params=[Param(k, str(v)[:6000]) for k, v in params.items()])

    def _log_and_register(self, run_id, name, model, meta, input_example, alias) -> str:
        import mlflow.sklearn
        import skops.io

        with tempfile.TemporaryDirectory() as tmp, self._errors("logging the model"):
            model_dir = Path(tmp) / "model"
            trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
            mlflow.sklearn.save_model(model, str(model_dir), skops_trusted_types=trusted, input_example=input_example)
            checksum = sha256_file(model_dir / MODEL_FILE)
            meta = {**meta, "sha256": checksum, "trusted_types": trusted}
            (model_dir / META_FILE).write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")
            self.client.log_artifacts(run_id, str(model_dir), "model")
            self.client.set_tag(run_id, CHECKSUM_TAG, checksum)
        with self._errors("registering the model"):
            self._ensure_registered_model(name)
            source = self.client.get_run(run_id).info.artifact_uri.rstrip("/") + "/model"
            version = self.client.create_model_version(name, source, run_id=run_id, tags={CHECKSUM_TAG: checksum})
        try:
            with self._errors(f"setting alias `{alias}`"):
                self.client.set_registered_model_alias(name, alias, version.version)
        except BaseException:
            with contextlib.suppress(Exception):
                self.client.delete_model_version(name, version.version)
            raise
        return str(version.version)

    def _ensure_registered_model(self, name: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException:
            self.client.create_registered_model(name)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        with self._errors(f"moving alias `{alias}`"):
            self.client.set_registered_model_alias(name, alias, version)

    def versions(self, name: str) -> list[str]:
        with self._errors("listing model versions"):
            return sorted((v.version for v in self.client.search_model_versions(f"name='{name}'")), key=int)

    def fetch_model(self, model_uri: str, dest: str | Path) -> tuple[Path, dict]:
        """Download ``models:/name/version`` (or ``@alias``) to ``dest``; verify its checksum.

        Returns the model directory and its metadata, with ``model_name``/``model_version``/
        ``run_id`` filled in from the registry.
        """
        name, version = self._resolve(model_uri)
        with self._errors(f"downloading {model_uri}"):
            mv = self.client.get_model_version(name, version)
            local = self.mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}",
                                                             dst_path=str(dest), tracking_uri=self.uri)
        model_dir = Path(local)
        meta = json.loads((model_dir / META_FILE).read_text(encoding="utf-8"))
        expected = mv.tags.get(CHECKSUM_TAG)
        actual = sha256_file(model_dir / MODEL_FILE)
        if not expected or actual != expected:
            raise ServiceError(f"MLflow at {self.uri}", f"{model_uri}: model checksum mismatch "
                               f"(registry {expected}, file {actual})", retryable=False,
                               hint="the stored model was changed after training; retrain or restore it")
        meta.update(model_name=name, model_version=str(version), run_id=mv.run_id)
        return model_dir, meta

    def _resolve(self, model_uri: str) -> tuple[str, str]:
        if not model_uri.startswith("models:/"):
            raise UserError(f"model URI {model_uri!r} is not a registry URI",
                            hint="give models:/<name>/<version> or models:/<name>@<alias>")
        rest = model_uri[len("models:/"):]
        if "@" in rest:
            name, alias = rest.split("@", 1)
            with self._errors(f"resolving alias {alias!r} of {name!r}"):
                return name, str(self.client.get_model_version_by_alias(name, alias).version)
        name, _, version = rest.partition("/")
        if not version.isdigit():
            raise UserError(f"model URI {model_uri!r} has no version number",
                            hint="give models:/<name>/<version> or models:/<name>@<alias>")
        return name, version

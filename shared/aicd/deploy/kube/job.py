"""The training Job of ``model.runner: kubernetes`` (pure: data in, dicts out).

The Job runs ``aicd train`` in the training image (``aicd image train``) on the same inputs the
step was given, with aicd.yml from a ConfigMap and the handed-over variables from a Secret — both
owned by the Job, so deleting the Job deletes them. Contracts:
- One pod, never retried (``backoffLimit: 0``): a second attempt would fit on the same data again;
  the step reports the failure instead. ``activeDeadlineSeconds`` bounds the whole Job, pending
  time included.
- The pod runs as uid 65532 with a read-only root, no privilege escalation, no capabilities, the
  runtime's seccomp profile and no API token (training needs no Kubernetes access); ``/tmp`` is an
  emptyDir, aicd.yml is mounted at ``/workspace/<its path>`` (so messages name the same file:line as
  on the runner) and each ``model.kubernetes.volumes`` claim at its mount.
- The last lines of a failed pod's log are its termination message (``FallbackToLogsOnError``):
  the step reads the one-line reason from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ...config.training import TrainingKubernetesConfig
from .manifests import placement

__all__ = ["CONTAINER", "JOB_LABEL", "TrainingJob", "config_map", "job", "secret"]

CONTAINER = "train"
JOB_LABEL = "aicd.dev/training-job"
WORKSPACE = "/workspace"
GRACE_SECONDS = 10  # SIGTERM to SIGKILL: the pod's aicd takes back a half-registered version in this time
KEEP_FINISHED_SECONDS = 86_400  # a finished Job (and its log) stays a day for `kubectl logs`


@dataclass(frozen=True)
class TrainingJob:
    """What one training Job is: its name and namespace, what it runs, and with what."""

    name: str
    namespace: str
    model_name: str
    image: str
    config_path: str  # aicd.yml, relative to the workspace ("" for the built-in defaults)
    env: Mapping[str, str]  # plain variables: the step's inputs as AICD_*, MLflow's URI, the commit ...
    secret_names: tuple[str, ...] = ()  # variables the Secret holds (their values never enter the Job's spec)
    files: tuple[str, ...] = ()  # more workspace files the ConfigMap carries (the entrypoint's module)

    @property
    def labels(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": self.model_name.replace("__", "-")[:63].strip("-._") or "model",
                "app.kubernetes.io/managed-by": "aicd", "app.kubernetes.io/component": "training",
                JOB_LABEL: self.name}


def job(t: TrainingJob, cfg: TrainingKubernetesConfig, suspended: bool = False) -> dict:
    """The Job manifest; ``suspended``: no pod until ``spec.suspend`` is set false (the step does,
    once the ConfigMap and Secret the pod mounts exist)."""
    mounts = [{"name": "tmp", "mountPath": "/tmp"}, {"name": "workspace", "mountPath": WORKSPACE}]
    volumes: list[dict] = [{"name": "tmp", "emptyDir": {}}, {"name": "workspace", "emptyDir": {}}]
    if t.config_path:
        mounts.append({"name": "config", "mountPath": f"{WORKSPACE}/{t.config_path}", "subPath": "aicd.yml",
                       "readOnly": True})
    for i, path in enumerate(t.files):
        mounts.append({"name": "config", "mountPath": f"{WORKSPACE}/{path}", "subPath": f"file-{i}",
                       "readOnly": True})
    if t.config_path or t.files:
        volumes.append({"name": "config", "configMap": {"name": t.name}})
    for i, v in enumerate(cfg.volumes):
        mounts.append({"name": f"data-{i}", "mountPath": v.mount, "readOnly": v.read_only})
        volumes.append({"name": f"data-{i}", "persistentVolumeClaim": {"claimName": v.claim,
                                                                        "readOnly": v.read_only}})
    container = {
        "name": CONTAINER, "image": t.image, "args": ["train"], "workingDir": WORKSPACE,
        "env": [{"name": k, "value": v} for k, v in sorted(t.env.items())],
        "resources": cfg.resources, "volumeMounts": mounts,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                            "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]}},
    }
    if t.secret_names:
        container["envFrom"] = [{"secretRef": {"name": t.name}}]
    pod_spec = {
        "restartPolicy": "Never", "automountServiceAccountToken": False, "enableServiceLinks": False,
        "terminationGracePeriodSeconds": GRACE_SECONDS,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}, "fsGroup": 65532},
        "containers": [container], "volumes": volumes, **placement(cfg),
    }
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": t.name, "namespace": t.namespace, "labels": t.labels},
        "spec": {"backoffLimit": 0, "activeDeadlineSeconds": cfg.active_deadline_seconds, "suspend": suspended,
                 "ttlSecondsAfterFinished": KEEP_FINISHED_SECONDS,
                 "template": {"metadata": {"labels": t.labels}, "spec": pod_spec}},
    }


def _owned(t: TrainingJob, job_uid: str) -> dict:
    """Metadata of an object the Job owns: the garbage collector deletes it with the Job."""
    return {"name": t.name, "namespace": t.namespace, "labels": t.labels,
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": t.name, "uid": job_uid,
                                 "blockOwnerDeletion": False}]}


def config_map(t: TrainingJob, job_uid: str, text: str, files: Mapping[str, str] | None = None) -> dict:
    """aicd.yml as the step read it, and ``files`` (workspace path -> text) as ``file-<i>`` in the
    order of ``t.files``."""
    data = {"aicd.yml": text} if text else {}
    data.update({f"file-{i}": (files or {})[path] for i, path in enumerate(t.files)})
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _owned(t, job_uid), "data": data}


def secret(t: TrainingJob, job_uid: str, values: Mapping[str, str]) -> dict:
    """The handed-over variables (MLflow credentials, ``model.kubernetes.env``)."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _owned(t, job_uid), "type": "Opaque",
            "stringData": dict(values)}

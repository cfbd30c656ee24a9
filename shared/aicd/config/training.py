"""``model.runner`` and ``model.kubernetes``: where the training runs.

    model:
      runner: local                   # local (in the step) | kubernetes (a Job in the tenant's namespace)
      kubernetes:
        image: registry.example.com/aicd-train:<tag>   # `aicd image train --registry ...` prints it
        namespace: ""                 # empty: as the deploy (aicd-<tenant>, deploy.kubernetes.namespace, aicd)
        resources: {requests: {cpu: "1", memory: 2Gi}, limits: {memory: 4Gi, nvidia.com/gpu: 1}}
        node-selector: {}
        tolerations: []               # as a pod spec spells them (a tainted GPU pool needs one)
        image-pull-secrets: []
        active-deadline-seconds: 3600 # the Job is stopped, and nothing registered, after this long
        volumes: [{claim: training-data, mount: /data}]   # PersistentVolumeClaims the Job mounts (read-only)
        tracking-uri: ""              # MLflow as the Job sees it; empty: the step's tracking URI
        env: []                       # names of the runner's variables handed to the Job in a Secret

Each key is a field below, read by :mod:`aicd.config.reader` (file:line errors). The Kubernetes
spellings (tolerations, resources, Secret names) are checked by the same rules as the deploy's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ConfigError
from .deploy import SUBDOMAIN, _resources, _secret_names, _string_map, _tolerations
from .reader import Entry, Reader, setting

__all__ = ["RUNNERS", "JobVolume", "TrainingKubernetesConfig"]

RUNNERS = ("local", "kubernetes")
DEFAULT_RESOURCES = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "4Gi"}}
RESERVED_MOUNTS = ("/tmp", "/workspace")  # the Job's scratch space and its aicd.yml
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _mount(e: Entry) -> str:
    path = e.text()
    if not path or not path.startswith("/") or path.rstrip("/") in ("", *RESERVED_MOUNTS) \
            or any(part in ("..", ".") for part in path.split("/")):
        raise e.fail(f"must be an absolute folder other than /, {' and '.join(RESERVED_MOUNTS)}, got {path!r}",
                     "e.g. /data")
    return path.rstrip("/")


def _claim(e: Entry) -> str:
    name = e.text()
    if not name or len(name) > 253 or not SUBDOMAIN.match(name):
        raise e.fail(f"{name!r} is not a PersistentVolumeClaim name", "lower-case letters, digits, '-' and '.'")
    return name


@dataclass(frozen=True)
class JobVolume:
    """A PersistentVolumeClaim of the namespace, mounted read-only at ``mount`` unless ``read-only: false``."""

    claim: str = setting("", parse=_claim)
    mount: str = setting("/data", parse=_mount)
    read_only: bool = setting(True)


def _volumes(e: Entry) -> tuple[JobVolume, ...]:
    volumes = tuple(e.section_at(JobVolume, f"{e.path}[{i}]", raw) for i, raw in enumerate(e.sequence()))
    mounts = [v.mount for v in volumes]
    for i, mount in enumerate(mounts):
        if any(mount == other or mount.startswith(other + "/") for other in mounts[:i]):
            raise e.fail(f"{mount} is inside another volume's mount", path=f"{e.path}[{i}].mount")
    return volumes


def _env_names(e: Entry) -> tuple[str, ...]:
    names = e.strings()
    for i, name in enumerate(names):
        if not ENV_NAME.match(name):
            raise e.fail(f"{name!r} is not an environment variable name", path=f"{e.path}[{i}]")
    return names


def _image(e: Entry) -> str:
    image = e.text()
    if image and (any(c.isspace() for c in image) or image.startswith("-")):
        raise e.fail(f"{image!r} is not an image reference", "e.g. registry.example.com/aicd-train:1a2b3c")
    return image


@dataclass(frozen=True)
class TrainingKubernetesConfig:
    image: str = setting("", parse=_image)
    namespace: str = setting("")  # empty: the deploy's namespace rule
    resources: dict = setting(factory=lambda: dict(DEFAULT_RESOURCES), parse=_resources)
    node_selector: dict = setting(factory=dict, parse=_string_map)
    tolerations: tuple = setting((), parse=_tolerations)
    image_pull_secrets: tuple = setting((), parse=_secret_names)
    active_deadline_seconds: int = setting(3600, low=1, high=7 * 86_400)
    volumes: tuple = setting((), parse=_volumes)
    tracking_uri: str = setting("")
    env: tuple = setting((), parse=_env_names)


def check_runner(r: Reader, path: str, runner: str, kubernetes: TrainingKubernetesConfig) -> None:
    """A Kubernetes runner needs the image its Job runs."""
    if runner == "kubernetes" and not kubernetes.image:
        raise ConfigError(f"`{path}.kubernetes.image` is required with `{path}.runner: kubernetes`", file=r.file,
                          line=r.lines.get(f"{path}.kubernetes") or r.lines.get(f"{path}.runner"),
                          hint="build it with `aicd image train --registry <registry>` and write the reference "
                               "it prints")

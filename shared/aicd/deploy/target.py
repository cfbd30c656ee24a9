"""The deploy target interface: one contract, one result type, one registry.

A *target* is where a model's revisions run — ``local`` (model-server processes on loopback),
``docker`` (containers behind a front container), ``kubernetes`` (Deployments behind a Service).
Each is one module implementing :class:`Target` and one line of :data:`TARGETS`; the deploy stage
and the production gate look targets up by name and never branch on it.

Every target keeps the same history (:mod:`.history`): a deploy makes the new revision serve only
once it is ready (the current one keeps serving until then, and again if it fails); the previous
revision is the standby a plain rollback returns to instantly; the last ``deploy.keep-revisions``
can be returned to; a rollback retires every revision above the one it returns to; a revision
number is never handed out twice. Results are :class:`Result` for every verb of every target.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ..config import KubernetesConfig
from ..errors import NotSupported
from .history import DEFAULT_KEEP

__all__ = ["TARGETS", "Candidate", "Release", "Result", "Settings", "Target", "open_target",
           "target_class"]


@dataclass(frozen=True)
class Release:
    """One revision, as every target reports it."""

    revision: int
    model_uri: str = ""
    model_version: str = ""
    run_id: str = ""
    image: str = ""  # docker, kubernetes: the image it runs
    commit: str = ""
    address: str = ""  # where it alone runs: local its own URL, docker its container, kubernetes its Deployment
    shadow_version: str = ""  # the model that shadow-scores its requests, if any
    variant: str = "stable"  # the variant label its metrics carry


@dataclass(frozen=True)
class Result:
    """What a verb left behind."""

    endpoint: str  # the deployment's stable endpoint (local: the serving revision's own URL)
    serving: Release
    standby: Release | None = None  # what a plain rollback returns to now
    retired: Release | None = None  # a rollback: the revision it left
    ready_seconds: float | None = None  # start (or wake) to ready; about 0 for an instant switch
    state: str = ""  # kubernetes: where a staged rollout stands, in words
    recovered_seconds: float | None = None  # a failed rollout: until the previous revision fully served again


@dataclass(frozen=True)
class Candidate:
    """A model to deploy, fetched from the registry (and, for image targets, built into ``image``)."""

    model_uri: str
    model_dir: Path
    meta: dict
    image: str = ""  # docker, kubernetes
    commit: str = ""
    shadow: tuple[str, Path, dict] | None = None  # (uri, directory, metadata) of a shadow model


@dataclass(frozen=True)
class Settings:
    """What a stage tells a target about the deployment it opens (each target reads its own part)."""

    model_name: str = ""  # the registered model: docker and kubernetes name the deployment after it
    variant: str = "stable"  # local, docker: the variant label its metrics carry (a canary is its own deployment)
    keep: int = DEFAULT_KEEP
    ready_timeout: float = 60.0
    observe_seconds: float = 10.0  # docker: how long a new revision is watched after taking traffic
    feedback_token: str = ""
    progress: Callable[[str], None] = field(default=lambda text: None, compare=False)
    state_dir: Path = Path(".aicd/deploy")  # local
    listen: str = "127.0.0.1:8080"  # docker: the front's address
    deployment: str = ""  # docker: an existing deployment found by its endpoint (else from model_name)
    docker_host: str = ""  # docker: empty means DOCKER_HOST or the default socket
    kubeconfig: str = ""  # kubernetes
    namespace: str = ""  # kubernetes
    kubernetes: KubernetesConfig = field(default_factory=KubernetesConfig)


class Target:
    """One deployment on one target. Subclasses implement the verbs they offer; the others say so.

    ``deploy`` — run the candidate as the next revision and make it serve once ready; if it fails,
    raise (ServiceError) with the current revision still serving and nothing of the new one left.
    ``rollback`` — serve revision ``to`` (default: the previous one) again, retiring every revision
    above it; UserError when there is nothing to return to. ``current`` — the serving release, or
    None. ``history`` — the releases a rollback can return to, newest first. ``stop`` — remove the
    deployment entirely. ``promote`` / ``abort`` — move a staged rollout (a canary or A/B inside one
    deployment) on, or back.
    """

    kind: ClassVar[str]
    verbs: ClassVar[frozenset[str]] = frozenset({"deploy", "rollback", "stop"})
    # what to do instead of a verb the target does not offer
    instead: ClassVar[dict[str, str]] = {
        "stop": "remove the deployment's objects with the platform's own tools",
        "promote": "a canary here is a deployment of its own: deploy the candidate as stable once the production "
                   "gate says promote",
        "abort": "a canary here is a deployment of its own: stop it with command: stop and the inputs that name "
                 "it (local: its state-dir; docker: its variant)",
    }
    # True where a canary or A/B rollout lives inside the deployment (promote / abort); False where a
    # canary is a deployment of its own (its own variant), taken out of service by stopping it
    stages_rollouts: ClassVar[bool] = False
    needs_image: ClassVar[bool] = False  # runs a serving image (built by the stage, or the `image` input)

    @classmethod
    def open(cls, settings: Settings) -> Target:
        raise NotImplementedError

    @classmethod
    def check_verb(cls, verb: str) -> None:
        """NotSupported — before anything is opened — when this target does not offer ``verb``."""
        if verb not in cls.verbs:
            raise NotSupported(cls.kind, verb, cls.instead[verb])

    @property
    def where(self) -> str:
        """The deployment in words, for messages: ``the deployment in .aicd/deploy``."""
        raise NotImplementedError

    def deploy(self, candidate: Candidate) -> Result:
        raise NotImplementedError

    def rollback(self, to: int | None = None) -> Result:
        raise NotImplementedError

    def current(self) -> Release | None:
        raise NotImplementedError

    def history(self) -> list[Release]:
        raise NotImplementedError

    def has_feedback_token(self) -> bool:
        """Whether the deployment's servers have a token for POST /feedback (without one the
        production gate cannot measure online accuracy)."""
        raise NotImplementedError

    def stop(self) -> None:
        self.check_verb("stop")
        raise NotImplementedError

    def promote(self) -> Result:
        self.check_verb("promote")
        raise NotImplementedError

    def abort(self) -> Result:
        self.check_verb("abort")
        raise NotImplementedError


# target name -> "module:class", imported on first use (the docker SDK and the Kubernetes client
# are only loaded by the target that needs them)
TARGETS = {
    "local": "aicd.deploy.local:LocalTarget",
    "docker": "aicd.deploy.docker_target:DockerTarget",
    "kubernetes": "aicd.deploy.kube.target:KubeTarget",
}


def target_class(kind: str) -> type[Target]:
    """The class registered as ``kind`` (imported now)."""
    module, _, name = TARGETS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def open_target(kind: str, settings: Settings) -> Target:
    """The target registered as ``kind``, opened on ``settings``."""
    return target_class(kind).open(settings)

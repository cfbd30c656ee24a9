"""What the production gate does about a decision: roll back, promote, ask for retraining."""

from __future__ import annotations

from collections.abc import Mapping

from ..deploy.local import LocalTarget
from ..errors import ConfigError, UserError
from ..gha import Actions
from ..monitor.decide import Decision
from ..registry import MlflowRegistry
from .promote import promote

__all__ = ["dispatch_retrain", "promote_candidate", "roll_back"]

TARGETS = ("local", "docker", "kubernetes")


def roll_back(inputs: Mapping[str, str], env: Mapping[str, str], mode: str, model: dict) -> str:
    """Take the judged version out of service; returns what happened, for the summary.

    A kubernetes canary or A/B rollout is aborted (stable, or a, keeps all traffic). Otherwise the
    deployment returns to its previous revision — only if it still serves the judged version, so a
    deploy that happened meanwhile is never undone by a stale verdict.
    """
    target = inputs.get("target") or "local"
    if target not in TARGETS:
        raise ConfigError(f"input `target`: {target!r} is not one of {', '.join(TARGETS)}")
    judged = str(model.get("version", ""))
    if target == "kubernetes":
        from .deploy_kube import kube_target

        kube = kube_target(inputs, env, model.get("name", ""), lambda text: None)
        if mode != "none":
            outcome = kube.abort()
            return f"{mode} aborted: revision {outcome.revision} serves all traffic ({kube.namespace}/{kube.name})"
        record = kube.current_release()
        _same_version(record, judged)
        outcome = kube.rollback()
        return f"revision {record.revision} → revision {outcome.revision} ({kube.namespace}/{kube.name})"
    if target == "docker":
        from ..deploy.docker_target import DockerTarget, docker_client
        from .deploy_docker import deployment_name

        docker = DockerTarget(docker_client(env.get("DOCKER_HOST", "")), deployment_name(model.get("name", "")))
        _same_version(docker.current(), judged)
        done = docker.rollback()
        return f"revision {done.rolled_back.revision} → revision {done.serving.revision} ({done.serving.container})"
    local = LocalTarget(inputs.get("state-dir") or ".aicd/deploy")
    _same_version(local.current(), judged)
    done = local.rollback()
    return f"revision {done.rolled_back.revision} → revision {done.serving.revision} at {done.serving.endpoint}"


def _same_version(current, judged: str) -> None:
    if current is None or str(current.model_version) != judged:
        now = current.model_version if current else "nothing"
        raise UserError(f"not rolling back: the deployment now serves model version {now}, not the judged "
                        f"version {judged}", hint="another deploy happened meanwhile; monitor it afresh")


def promote_candidate(inputs: Mapping[str, str], env: Mapping[str, str], model: dict, gh: Actions) -> str:
    """Moves the alias ``champion`` to the judged version; returns its URI."""
    registry = MlflowRegistry(inputs.get("tracking-uri") or env.get("MLFLOW_TRACKING_URI", ""))
    name, version, _ = promote(registry, inputs.get("tenant") or "",
                               f"models:/{model.get('name')}/{model.get('version')}", gh)
    return f"models:/{name}/{version}"


def dispatch_retrain(inputs: Mapping[str, str], env: Mapping[str, str], model: dict, decision: Decision) -> None:
    """``repository_dispatch`` to the repository's retrain workflow, with the drift evidence."""
    from ..github import dispatch

    token = inputs.get("github-token") or ""
    repository = inputs.get("repository") or env.get("GITHUB_REPOSITORY", "")
    if not token or not repository:
        raise ConfigError("on-drift: retrain needs `github-token` and `repository` (owner/name)",
                          hint="pass secrets.GITHUB_TOKEN with permissions contents: write")
    drift = [c.to_dict() for c in decision.evaluation.drift if c.verdict == "drift"]
    payload = {"model": model.get("name", ""), "version": model.get("version", ""),
               "run_id": model.get("run_id", ""), "tenant": inputs.get("tenant") or "", "reason": decision.reason,
               "drift": drift}  # to_dict() is JSON-safe already
    dispatch(env.get("GITHUB_API_URL") or "https://api.github.com", repository, token,
             inputs.get("retrain-event") or "aicd-retrain", payload)

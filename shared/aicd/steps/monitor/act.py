"""What the production gate does about a decision: roll back, promote, ask for retraining."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ...deploy.local import LocalTarget
from ...deploy.naming import deployment_name
from ...errors import ConfigError, UserError
from ...gha import Actions
from ...monitor.decide import GROUPS, Decision
from ...registry import MlflowRegistry
from ..promote import promote
from ..targets import kube_target

__all__ = ["dispatch_retrain", "promote_candidate", "roll_back"]

TARGETS = ("local", "docker", "kubernetes")


def roll_back(inputs: Mapping[str, str], env: Mapping[str, str], mode: str, model: dict) -> str:
    """Take the judged version out of service; returns what happened as one phrase, for the summary.

    A kubernetes canary or A/B rollout is aborted (stable, or a, keeps all traffic); on local and
    docker, where a canary is a deployment of its own (its state-dir; ``<model>-canary``), that
    deployment is stopped. Otherwise the deployment returns to its previous revision. Each only if it
    still serves the judged version, so a deploy that happened meanwhile is never undone by a stale
    verdict.
    """
    target = inputs.get("target") or "local"
    if target not in TARGETS:
        raise ConfigError(f"input `target`: {target!r} is not one of {', '.join(TARGETS)}")
    judged = str(model.get("version", ""))
    if target == "kubernetes":
        kube = kube_target(inputs, env, model.get("name", ""), lambda text: None)
        if mode != "none":
            outcome = kube.abort()
            return f"{mode} aborted: revision {outcome.revision} serves all traffic ({kube.namespace}/{kube.name})"
        record = kube.current_release()
        _same_version(record, judged, f"{kube.namespace}/{kube.name}")
        outcome = kube.rollback()
        return f"rolled back revision {record.revision} → revision {outcome.revision} ({kube.namespace}/{kube.name})"
    candidate = GROUPS[mode][1]
    if target == "docker":
        from ...deploy.docker_target import DockerTarget, docker_client

        variant = "stable" if mode == "none" else candidate  # a canary is its own deployment, <model>-canary
        docker = DockerTarget(docker_client(env.get("DOCKER_HOST", "")), deployment_name(model.get("name", ""),
                                                                                         variant))
        _same_version(docker.current(), judged, f"docker deployment {docker.deployment}")
        if mode != "none":
            docker.stop_all()
            return f"stopped the {candidate} deployment {docker.deployment}; the {GROUPS[mode][0]} keeps serving"
        done = docker.rollback()
        return f"rolled back revision {done.rolled_back.revision} → revision {done.serving.revision} " \
               f"({done.serving.container})"
    state_dir = Path(inputs.get("state-dir") or ".aicd/deploy")
    if not (state_dir / "state.json").is_file():
        raise ConfigError(f"input `state-dir`: {str(state_dir)!r} holds no deployment, so there is nothing to roll "
                          "back", hint="give the state-dir the deploy used (for a canary: the canary's own)")
    local = LocalTarget(state_dir)
    current = local.current()
    if mode != "none" and current is not None and current.variant != candidate:
        raise ConfigError(f"input `state-dir`: {str(state_dir)!r} holds the {current.variant} deployment, not the "
                          f"{candidate} that was judged; nothing was rolled back",
                          hint=f"give the state-dir the {candidate}'s deploy used")
    _same_version(current, judged, f"the deployment in {state_dir}")
    if mode != "none":  # the judged side is its own deployment (its own state-dir): taking it away is the rollback
        local.stop_all()
        return f"stopped the {candidate} deployment in {state_dir}; the {GROUPS[mode][0]} keeps serving"
    done = local.rollback()
    return f"rolled back revision {done.rolled_back.revision} → revision {done.serving.revision} at " \
           f"{done.serving.endpoint}"


def _same_version(current, judged: str, where: str) -> None:
    if current is None:
        raise UserError(f"not rolling back: {where} serves nothing", hint="deploy it first, or check the inputs "
                        "that name it")
    if str(current.model_version) != judged:
        raise UserError(f"not rolling back: {where} now serves model version {current.model_version}, not the "
                        f"judged version {judged}", hint="another deploy happened meanwhile; monitor it afresh")


def promote_candidate(inputs: Mapping[str, str], env: Mapping[str, str], model: dict, gh: Actions) -> str:
    """Moves the alias ``champion`` to the judged version; returns its URI."""
    registry = MlflowRegistry(inputs.get("tracking-uri") or env.get("MLFLOW_TRACKING_URI", ""))
    name, version, _ = promote(registry, inputs.get("tenant") or "",
                               f"models:/{model.get('name')}/{model.get('version')}", gh)
    return f"models:/{name}/{version}"


def dispatch_retrain(inputs: Mapping[str, str], env: Mapping[str, str], model: dict, decision: Decision) -> None:
    """``repository_dispatch`` to the repository's retrain workflow, with the drift evidence."""
    from ...github import dispatch

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

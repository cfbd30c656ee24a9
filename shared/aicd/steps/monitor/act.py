"""What the production gate does about a decision: roll back, promote, ask for retraining."""

from __future__ import annotations

from collections.abc import Mapping

from ...errors import ConfigError, UserError
from ...gha import Actions
from ...monitor.decide import GROUPS, Decision
from ...registry import MlflowRegistry
from ..promote import promote
from ..targets import open_from_inputs

__all__ = ["dispatch_retrain", "promote_candidate", "roll_back"]

def roll_back(inputs: Mapping[str, str], env: Mapping[str, str], mode: str, model: dict) -> str:
    """Take the judged version out of service; returns what happened as one phrase, for the summary.

    Where a canary or A/B rollout lives inside the deployment (kubernetes), it is aborted: stable, or
    a, keeps all traffic. Where a canary is a deployment of its own (local: its state-dir; docker:
    ``<model>-canary``), that deployment is stopped. Otherwise the deployment returns to its previous
    revision. Each only if it still serves the judged version, so a deploy that happened meanwhile is
    never undone by a stale verdict.
    """
    base, candidate = GROUPS[mode]
    target = open_from_inputs(inputs, env, "rollback", model_name=model.get("name", ""),
                              variant="stable" if mode == "none" else candidate)
    judged = str(model.get("version", ""))
    if mode != "none" and target.stages_rollouts:
        result = target.abort()
        return f"{mode} aborted: revision {result.serving.revision} serves all traffic ({target.where})"
    current = target.current()
    if current is not None:
        if mode != "none" and current.variant != candidate:
            raise ConfigError(f"{target.where} holds the {current.variant} deployment, not the {candidate} that was "
                              "judged; nothing was rolled back",
                              hint=f"give the inputs that name the {candidate}'s deployment; on local, its state-dir")
        _same_version(current, judged, target.where)
    if mode != "none":  # the judged side is its own deployment: taking it away is the rollback
        target.stop()
        return f"stopped the {candidate} deployment ({target.where}); the {base} keeps serving"
    result = target.rollback()
    same = " — it serves the same model version; deploy a good version" \
        if result.serving.model_version == judged else ""
    return f"rolled back revision {current.revision if current else '?'} → revision {result.serving.revision} " \
           f"({target.where}), now serving at {result.endpoint}{same}"


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

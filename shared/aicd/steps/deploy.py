"""``aicd deploy``: build the serving image and roll it out (target local, docker or kubernetes), roll back,
promote or abort a canary, or stop."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..deploy.local import LocalTarget, Revision
from ..deploy.rollout import Rollout
from ..errors import ConfigError
from ..gha import Actions
from ..registry import MlflowRegistry, serving_checksum
from ..tenancy import check_tenant, owns
from .specs import SPECS
from .summary import table

DESCRIPTION, INPUTS, OUTPUTS = SPECS["deploy"]
COMMANDS = ("deploy", "build", "rollback", "stop", "promote", "abort")
TARGETS = ("local", "docker", "kubernetes")


def run(inputs: Mapping[str, str], gh: Actions, env: Mapping[str, str] | None = None) -> dict[str, str]:
    env = env if env is not None else os.environ
    for secret in ("registry-password", "feedback-token"):
        if inputs.get(secret):
            gh.mask(inputs[secret])
    token = inputs.get("feedback-token") or ""
    if token and not (token.isascii() and token.isprintable() and " " not in token):
        raise ConfigError("input `feedback-token` must be printable ASCII without spaces",
                          hint="e.g. the output of `openssl rand -hex 32`, stored as a repository secret")
    check_tenant(inputs.get("tenant") or "")
    target_name, command = inputs.get("target") or "local", inputs.get("command") or "deploy"
    if target_name not in TARGETS:
        raise ConfigError(f"input `target`: {target_name!r} is not supported", hint=f"use one of {', '.join(TARGETS)}")
    if command not in COMMANDS:
        raise ConfigError(f"input `command`: {command!r} is not one of {', '.join(COMMANDS)}")
    if inputs.get("shadow-model-uri") and (target_name == "kubernetes" or command != "deploy"):
        raise ConfigError(f"input `shadow-model-uri` applies to deploying on the local and docker targets, not "
                          f"{command} on {target_name}", hint="leave it empty here; the production gate then "
                          "compares accuracy unpaired")
    timeout = _seconds(inputs, "ready-timeout", "60")
    if target_name == "kubernetes" and command != "build":
        from .deploy_kube import run_kubernetes

        if command == "stop":
            raise ConfigError("input `command`: stop is not offered for kubernetes",
                              hint="delete the namespace's aicd objects with kubectl if you mean it")
        return run_kubernetes(inputs, gh, env, command)
    if command in ("promote", "abort"):
        raise ConfigError(f"input `command`: {command} applies to the kubernetes target's canary and ab strategies")
    if command == "build" or target_name == "docker":
        from .deploy_docker import run_docker

        return run_docker(inputs, gh, env, command, timeout)
    return _run_local(inputs, gh, env, command, timeout)


def _run_local(inputs: Mapping[str, str], gh: Actions, env: Mapping[str, str], command: str,
               timeout: float) -> dict[str, str]:
    state_dir = Path(inputs.get("state-dir") or ".aicd/deploy")
    if state_dir.exists() and not state_dir.is_dir():
        raise ConfigError(f"input `state-dir`: {str(state_dir)!r} is a file, not a folder",
                          hint="name the folder that holds (or will hold) the deployment's state")
    if command in ("stop", "rollback") and not (state_dir / "state.json").is_file():
        raise ConfigError(f"input `state-dir`: {str(state_dir)!r} holds no deployment",
                          hint="give the state-dir the deploy step used")
    wanted, _ = revision_input(inputs), variant_input(inputs)
    target = LocalTarget(state_dir, timeout, keep_revisions(inputs))
    if inputs.get("feedback-token") and command == "deploy":
        target.set_feedback_token(inputs["feedback-token"])
    if command == "stop":
        target.stop_all()
        gh.info(f"aicd deploy: stopped every revision in {target.dir}")
        return {}
    if command == "rollback":
        return _finish_local(gh, "rollback", target.rollback(wanted))
    model_uri = require_model_uri(inputs)
    registry = MlflowRegistry(inputs.get("tracking-uri") or env.get("MLFLOW_TRACKING_URI", ""))
    number, folder = target.next_revision_dir()
    gh.info(f"aicd deploy: fetching {model_uri} for revision {number}")
    model_dir, meta = registry.fetch_model(model_uri, folder / "model")
    rev = Revision(number, model_uri, meta["model_version"], meta["run_id"], serving_checksum(meta),
                   str(model_dir), variant=variant_input(inputs))
    if inputs.get("shadow-model-uri"):
        shadow_uri = inputs["shadow-model-uri"]
        check_owner(inputs, model_name_of(shadow_uri))
        gh.info(f"aicd deploy: fetching the shadow model {shadow_uri}")
        shadow_dir, shadow = registry.fetch_model(shadow_uri, folder / "shadow")
        rev.shadow_dir, rev.shadow_sha256 = str(shadow_dir), serving_checksum(shadow)
        rev.shadow_version = str(shadow["model_version"])
    gh.info(f"aicd deploy: starting revision {number} (model version {rev.model_version}) and waiting for /readyz")
    rollout = target.deploy(rev)
    if not target.has_feedback_token():
        warn_no_feedback(gh)
    return _finish_local(gh, "deploy", rollout)


def warn_no_feedback(gh: Actions, where: str = "") -> None:
    """A deploy without a feedback token is allowed (predictions work), but the gate goes blind."""
    gh.annotate("warning", f"no `feedback-token`{where}: the model server refuses POST /feedback, so the "
                "production gate cannot measure online accuracy; pass a secret as `feedback-token`",
                title="aicd deploy")


VARIANTS = ("stable", "canary", "a", "b")


def variant_input(inputs: Mapping[str, str]) -> str:
    """The `variant` input: the label a local or docker deployment's metrics carry."""
    variant = inputs.get("variant") or "stable"
    if variant not in VARIANTS:
        raise ConfigError(f"input `variant`: {variant!r} is not one of {', '.join(VARIANTS)}")
    return variant


def revision_input(inputs: Mapping[str, str]) -> int | None:
    """The `revision` input of a rollback: a revision number, or None for the previous one."""
    text = inputs.get("revision") or ""
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"input `revision`: {text!r} is not a revision number", hint="e.g. 3, or empty for the "
                          "previous revision")
    return int(text)


def keep_revisions(inputs: Mapping[str, str]) -> int:
    """deploy.keep-revisions of the `config` input's aicd.yml (the default without one)."""
    from ..config import load_config

    return load_config(inputs.get("config")).deploy.keep_revisions


def require_model_uri(inputs: Mapping[str, str]) -> str:
    """The `model-uri` input, of a model the `tenant` input may deploy."""
    if not inputs.get("model-uri"):
        raise ConfigError("input `model-uri` is required to deploy", hint="pass the model-uri output of action-train")
    check_owner(inputs, model_name_of(inputs["model-uri"]))
    return inputs["model-uri"]


def model_name_of(uri: str) -> str:
    """The registered model name of models:/<name>/<version> or models:/<name>@<alias>."""
    return uri.removeprefix("models:/").split("/")[0].split("@")[0]


def check_owner(inputs: Mapping[str, str], model_name: str) -> None:
    """A tenant touches only its own models (and no tenant only un-namespaced ones): ConfigError otherwise."""
    tenant = inputs.get("tenant") or ""
    if not owns(tenant, model_name):
        who = f"tenant {tenant!r}" if tenant else "a deploy without a tenant"
        raise ConfigError(f"{who} may not touch the deployment of model {model_name!r}",
                          hint="give the tenant that owns it, or deploy the tenant's own model")


def fetch(inputs: Mapping[str, str], env: Mapping[str, str], dest: Path) -> tuple[Path, dict]:
    registry = MlflowRegistry(inputs.get("tracking-uri") or env.get("MLFLOW_TRACKING_URI", ""))
    return registry.fetch_model(require_model_uri(inputs), dest)


def _seconds(inputs: Mapping[str, str], key: str, default: str) -> float:
    text = inputs.get(key) or default
    try:
        value = float(text)
    except ValueError:
        value = -1
    low = "above 0" if key == "ready-timeout" else "from 0"
    if not 0 <= value <= 86_400 or (value == 0 and key == "ready-timeout"):  # NaN fails the comparison too
        raise ConfigError(f"input `{key}`: {text!r} is not a number of seconds {low} up to 86400")
    return value


def _finish_local(gh: Actions, command: str, rollout: Rollout[Revision]) -> dict[str, str]:
    serving, standby = rollout.serving, rollout.standby
    outputs = {"endpoint": serving.endpoint, "revision": str(serving.revision),
               "previous-revision": str(standby.revision) if standby else "", "model-version": serving.model_version,
               "image": "", "digest": "", "ready-seconds": f"{rollout.ready_seconds:g}"}
    gh.set_outputs(outputs)
    rows = [["▶ serving", serving.revision, serving.model_uri, serving.run_id, serving.endpoint]]
    if standby:
        rows.append(["standby (running)", standby.revision, standby.model_uri, standby.run_id, standby.endpoint])
    if rollout.rolled_back:
        left = rollout.rolled_back
        rows.append(["rolled back (retired)", left.revision, left.model_uri, left.run_id, "stopped"])
    if serving.shadow_dir:
        rows.append(["shadow (scores, never answers)", "", f"version {serving.shadow_version}", "", "same server"])
    verb = "deployed" if command == "deploy" else "rolled back"
    took = "answered /readyz" if command == "deploy" else "took traffic"
    gh.summary(f"## 🚀 aicd release — {verb} (local)\n\nRevision {serving.revision} {took} "
               f"{rollout.ready_seconds:.1f} s after it {'started' if command == 'deploy' else 'was asked to'}.\n\n" +
               table(["", "revision", "model", "run", "endpoint"], rows))
    return outputs


__all__ = ["COMMANDS", "DESCRIPTION", "INPUTS", "OUTPUTS", "TARGETS", "VARIANTS", "check_owner", "fetch",
           "model_name_of", "require_model_uri", "run", "variant_input"]

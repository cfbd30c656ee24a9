"""``aicd deploy``: build the serving image and roll it out (target local, docker or kubernetes), roll back,
promote or abort a canary, or stop."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ...deploy.local import LocalTarget, Revision
from ...deploy.rollout import Rollout
from ...errors import ConfigError
from ...gha import Actions
from ...registry import MlflowRegistry, serving_checksum
from ...tenancy import check_tenant
from ..specs import SPECS
from ..summary import table
from .inputs import (
    fetch_shadow,
    keep_revisions,
    require_model_uri,
    revision_input,
    seconds,
    shadow_uri,
    variant_input,
    warn_no_feedback,
)

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
    timeout = seconds(inputs, "ready-timeout", "60")
    if target_name == "kubernetes" and command != "build":
        from .kube import run_kubernetes

        if command == "stop":
            raise ConfigError("input `command`: stop is not offered for kubernetes",
                              hint="delete the namespace's aicd objects with kubectl if you mean it")
        return run_kubernetes(inputs, gh, env, command)
    if command in ("promote", "abort"):
        raise ConfigError(f"input `command`: {command} applies to the kubernetes target's canary and ab strategies")
    if command == "build" or target_name == "docker":
        from .docker import run_docker

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
    model_uri, _ = require_model_uri(inputs), shadow_uri(inputs)  # both checked before a revision is taken
    registry = MlflowRegistry(inputs.get("tracking-uri") or env.get("MLFLOW_TRACKING_URI", ""))
    before = target.current()
    number, folder = target.next_revision_dir()
    gh.info(f"aicd deploy: fetching {model_uri} for revision {number}")
    model_dir, meta = registry.fetch_model(model_uri, folder / "model")
    rev = Revision(number, model_uri, meta["model_version"], meta["run_id"], serving_checksum(meta),
                   str(model_dir), variant=variant_input(inputs))
    shadow = fetch_shadow(inputs, env, gh, folder / "shadow", meta)
    if shadow:
        rev.shadow_dir, rev.shadow_sha256 = str(shadow[1]), serving_checksum(shadow[2])
        rev.shadow_version = str(shadow[2]["model_version"])
    elif before and before.shadow_dir:
        gh.annotate("warning", f"revision {before.revision} had a shadow model (version {before.shadow_version}); "
                    f"revision {number} has none, so action-monitor compares accuracy unpaired from now on — pass "
                    "`shadow-model-uri` again to keep pairing", title="aicd deploy")
    gh.info(f"aicd deploy: starting revision {number} (model version {rev.model_version}) and waiting for /readyz")
    rollout = target.deploy(rev)
    if not target.has_feedback_token():
        warn_no_feedback(gh)
    return _finish_local(gh, "deploy", rollout)


def _finish_local(gh: Actions, command: str, rollout: Rollout[Revision]) -> dict[str, str]:
    serving, standby = rollout.serving, rollout.standby
    outputs = {"endpoint": serving.endpoint, "revision": str(serving.revision),
               "previous-revision": str(standby.revision) if standby else "", "model-version": serving.model_version,
               "image": "", "digest": "", "ready-seconds": f"{rollout.ready_seconds:g}"}
    gh.set_outputs(outputs)
    rows = [["▶ serving", serving.revision, serving.model_uri, serving.run_id, serving.endpoint]]
    if serving.shadow_dir:  # right under the revision it belongs to
        rows.append([f"↳ its shadow (scores, never answers; variant {serving.variant})", "",
                     f"version {serving.shadow_version}", "", "same server"])
    if standby:
        rows.append(["standby (running)", standby.revision, standby.model_uri, standby.run_id, standby.endpoint])
    if rollout.rolled_back:
        left = rollout.rolled_back
        rows.append(["rolled back (retired)", left.revision, left.model_uri, left.run_id, "stopped"])
    verb = "deployed" if command == "deploy" else "rolled back"
    took = "answered /readyz" if command == "deploy" else "took traffic"
    gh.summary(f"## 🚀 aicd release — {verb} (local)\n\nRevision {serving.revision} {took} "
               f"{rollout.ready_seconds:.1f} s after it {'started' if command == 'deploy' else 'was asked to'}.\n\n" +
               table(["", "revision", "model", "run", "endpoint"], rows))
    return outputs


__all__ = ["COMMANDS", "DESCRIPTION", "INPUTS", "OUTPUTS", "TARGETS", "run"]

"""``aicd deploy``: build the serving image and roll it out on a target (local, docker or kubernetes),
roll back, promote or abort a staged rollout, or stop.

Target-independent: the target named by the `target` input is looked up in
:data:`aicd.deploy.target.TARGETS` and driven through the :class:`~aicd.deploy.target.Target`
verbs; what a target does not offer is one typed line (:class:`~aicd.deploy.target.NotSupported`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from ...deploy.image import BuiltImage, Recipe, build_and_push
from ...deploy.naming import model_name_of
from ...deploy.target import Candidate, Release, Target
from ...errors import AicdError, ConfigError, RolloutFailed
from ...gha import Actions
from ...provenance import commit_of, source_of
from ...registry import MlflowRegistry
from ...tenancy import check_tenant
from .. import read_inputs
from ..specs import SPECS
from ..targets import open_from_inputs
from .inputs import (
    check_owner,
    fetch,
    fetch_shadow,
    require_model_uri,
    shadow_uri,
    warn_no_feedback,
)
from .signature import check_signing, sign_image, verify_before_deploy
from .summary import comment_build, comment_release, render_build, render_release

DESCRIPTION, INPUTS, OUTPUTS = SPECS["deploy"]

__all__ = ["DESCRIPTION", "INPUTS", "OUTPUTS", "run"]


def run(inputs: Mapping[str, str], gh: Actions, env: Mapping[str, str] | None = None) -> dict[str, str]:
    env = env if env is not None else os.environ
    inputs = read_inputs(INPUTS, inputs)
    for secret in ("registry-password", "feedback-token", "cosign-key", "cosign-password"):
        if inputs.get(secret):
            gh.mask(inputs[secret])
    token = inputs.get("feedback-token") or ""
    if token and not (token.isascii() and token.isprintable() and " " not in token):
        raise ConfigError("input `feedback-token` must be printable ASCII without spaces",
                          hint="e.g. the output of `openssl rand -hex 32`, stored as a repository secret")
    check_tenant(inputs["tenant"])
    kind, command = inputs["target"], inputs["command"]
    if inputs.get("shadow-model-uri") and (kind == "kubernetes" or command != "deploy"):
        raise ConfigError(f"input `shadow-model-uri` applies to deploying on the local and docker targets, not "
                          f"{command} on {kind}", hint="leave it empty here")
    if inputs["revision"] is not None and command != "rollback":
        raise ConfigError(f"input `revision` applies to command: rollback, not {command}",
                          hint="leave it empty, or set command: rollback to return to that revision")
    check_signing(inputs, kind, command)
    if command == "build":
        return _build_only(inputs, gh, env)
    if command == "deploy":
        require_model_uri(inputs)
    target = open_from_inputs(inputs, env, command, progress=lambda text: gh.info(f"aicd deploy: {text}"))
    if command == "deploy":
        return _deploy(inputs, gh, env, target)
    if command == "stop":
        _check_owners(inputs, target)
        target.stop()
        gh.info(f"aicd deploy: stopped {target.where}")
        gh.summary(f"## ⏹ aicd release — stopped ({kind})\n\nEvery revision of {target.where} is stopped.")
        return {}
    if command == "rollback":
        _check_owners(inputs, target)
        return _finish(gh, inputs, env, command, target, lambda: target.rollback(inputs["revision"]))
    return _finish(gh, inputs, env, command, target, {"promote": target.promote, "abort": target.abort}[command])


def _deploy(inputs: Mapping[str, str], gh: Actions, env: Mapping[str, str], target: Target) -> dict[str, str]:
    model_uri, _ = require_model_uri(inputs), shadow_uri(inputs)  # both checked before anything is fetched
    before = target.current()
    with tempfile.TemporaryDirectory(prefix="aicd-deploy-") as tmp:
        gh.info(f"aicd deploy: fetching {model_uri}")
        model_dir, meta = fetch(inputs, env, Path(tmp) / "model", lambda text: gh.info(f"aicd deploy: {text}"))
        shadow = fetch_shadow(inputs, env, gh, Path(tmp) / "shadow", meta)
        if before and before.shadow_version and not shadow:
            gh.annotate("warning", f"revision {before.revision} had a shadow model (version "
                        f"{before.shadow_version}); this one has none, so action-monitor compares accuracy unpaired "
                        "from now on — pass `shadow-model-uri` again to keep pairing", title="aicd deploy")
        image = _image(inputs, gh, env, model_uri, model_dir, meta, shadow) if target.needs_image else None
        if image is not None:
            image = verify_before_deploy(inputs, gh, env, image)  # raises before the target is touched
        candidate = Candidate(model_uri, model_dir, meta, image.reference if image else "", commit_of(env), shadow)
        outputs = _finish(gh, inputs, env, "deploy", target, lambda: target.deploy(candidate), image)
    if not target.has_feedback_token():
        warn_no_feedback(gh)
    return outputs


def _finish(gh: Actions, inputs: Mapping[str, str], env: Mapping[str, str], command: str, target: Target, verb,
            image: BuiltImage | None = None) -> dict[str, str]:
    """Run the verb; publish outputs and the summary — of a failed rollout too, before it is raised."""
    try:
        result = verb()
    except RolloutFailed as failed:
        if failed.result is not None:
            _publish(gh, inputs, env, command, target, failed.result, image, failed=str(failed))
        raise
    return _publish(gh, inputs, env, command, target, result, image)


def _publish(gh: Actions, inputs: Mapping[str, str], env: Mapping[str, str], command: str, target: Target, result,
             image: BuiltImage | None, failed: str = "") -> dict[str, str]:
    serving, standby = result.serving, result.standby
    outputs = {"endpoint": result.endpoint, "revision": str(serving.revision),
               "previous-revision": str(standby.revision) if standby else "", "model-version": serving.model_version,
               "image": serving.image, "digest": image.digest if image else "", "sbom": image.sbom if image else "",
               "ready-seconds": "" if result.ready_seconds is None else f"{result.ready_seconds:g}",
               "strategy-state": result.state}
    gh.set_outputs(outputs)
    gh.summary(render_release(command, target, result, image, failed))
    strategy = inputs.get("strategy") or ""  # empty: aicd.yml's (kubernetes; the state says where it stands)
    gh.comment(lambda links: comment_release(command, target, result, image, strategy, links, failed))
    if not failed:
        _note_lineage(inputs, env, gh, command, target, serving)
    return outputs


def _note_lineage(inputs: Mapping[str, str], env: Mapping[str, str], gh: Actions, command: str, target: Target,
                  serving: Release) -> None:
    """Tell the registry which revision the serving version now runs as (``aicd lineage`` reads it).
    Best effort: the rollout has happened, so a registry that cannot be written to is a warning."""
    if not serving.model_uri.startswith("models:/") or not serving.model_version:
        return
    entry = {"target": inputs["target"], "deployment": target.where, "revision": serving.revision,
             "image": serving.image, "commit": serving.commit, "command": command,
             "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    try:
        registry = MlflowRegistry(inputs.get("tracking-uri") or env.get("MLFLOW_TRACKING_URI", ""), retry_seconds=10)
        registry.note_deployment(model_name_of(serving.model_uri), serving.model_version, entry)
    except AicdError as exc:
        gh.annotate("warning", f"revision {serving.revision} serves, but its lineage was not recorded: {exc}",
                    title="aicd deploy")


def _image(inputs: Mapping[str, str], gh: Actions, env: Mapping[str, str], model_uri: str, model_dir: Path,
           meta: dict, shadow) -> BuiltImage:
    """The `image` input (already built and pushed), else the serving image built and pushed now."""
    if inputs.get("image"):
        return sign_image(inputs, gh, env, BuiltImage(inputs["image"], "", reused=True))
    from ...deploy.docker_target import docker_client

    image = build_and_push(docker_client(env.get("DOCKER_HOST", "")), _recipe(inputs, env), model_uri, model_dir,
                           meta, shadow, progress=lambda line: gh.info(f"aicd deploy: {line}"))
    return sign_image(inputs, gh, env, image)


def _build_only(inputs: Mapping[str, str], gh: Actions, env: Mapping[str, str]) -> dict[str, str]:
    with tempfile.TemporaryDirectory(prefix="aicd-deploy-") as tmp:
        model_dir, meta = fetch(inputs, env, Path(tmp) / "model")
        image = _image(inputs, gh, env, require_model_uri(inputs), model_dir, meta, None)
    outputs = {"endpoint": "", "revision": "", "previous-revision": "", "model-version": str(meta["model_version"]),
               "image": image.reference, "digest": image.digest, "sbom": image.sbom, "ready-seconds": "",
               "strategy-state": ""}
    gh.set_outputs(outputs)
    gh.summary(render_build(image))
    gh.comment(lambda links: comment_build(image))
    return outputs


def _recipe(inputs: Mapping[str, str], env: Mapping[str, str]) -> Recipe:
    root = env.get("AICD_CACHE_DIR") or (f"{env['RUNNER_TOOL_CACHE']}/aicd" if env.get("RUNNER_TOOL_CACHE") else "")
    cache = Path(root or os.path.expanduser("~/.cache/aicd"))
    cache.mkdir(parents=True, exist_ok=True)
    return Recipe(base=inputs["base-image"], registry=inputs.get("registry") or "",
                  image_name=inputs.get("image-name") or "", username=inputs.get("registry-username") or "",
                  password=inputs.get("registry-password") or "", commit=commit_of(env), source=source_of(env),
                  cache_dir=cache)


def _check_owners(inputs: Mapping[str, str], target: Target) -> None:
    """A rollback or stop touches only deployments of models the tenant owns, however they were found."""
    for name in {model_name_of(r.model_uri) for r in target.history() if r.model_uri}:
        check_owner(inputs, name)

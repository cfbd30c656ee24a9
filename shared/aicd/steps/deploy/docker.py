"""The docker half of ``aicd deploy``: image build and push, then the docker target (or build only)."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from ...deploy.docker_target import DockerTarget, Slot, deployment_at, docker_client
from ...deploy.history import DEFAULT_KEEP
from ...deploy.image import BuiltImage, ImageBuilder, image_labels, image_tag, repository_name
from ...deploy.naming import deployment_name, model_name_of
from ...deploy.rollout import Rollout
from ...errors import ConfigError
from ...gha import Actions, md_code
from ...provenance import commit_of, source_of
from ...registry import serving_checksum
from ..summary import table
from .inputs import (
    check_owner,
    fetch,
    fetch_shadow,
    keep_revisions,
    require_model_uri,
    revision_input,
    seconds,
    shadow_uri,
    variant_input,
    warn_no_feedback,
)

__all__ = ["build_and_push", "run_docker"]


def run_docker(inputs: Mapping[str, str], gh: Actions, env: Mapping[str, str], command: str,
               timeout: float) -> dict[str, str]:
    listen = _listen(inputs)  # input mistakes first, before anything talks to Docker
    wanted, keep, variant = revision_input(inputs), keep_revisions(inputs), variant_input(inputs)
    client = docker_client(env.get("DOCKER_HOST", ""))
    if command in ("rollback", "stop"):
        target = _target(client, listen, _deployment_of(inputs, client, listen, variant), timeout, 0, gh, keep=keep)
        for name in {model_name_of(s.model_uri) for s in target.slots() if s.model_uri}:
            check_owner(inputs, name)  # the models it serves, whichever way the deployment was found
        if command == "stop":
            target.stop_all()
            gh.info(f"aicd deploy: removed every container of deployment {target.deployment}")
            return {}
        return _finish(gh, "rollback", target, target.rollback(wanted), None)
    model_uri, _ = require_model_uri(inputs), shadow_uri(inputs)  # both checked before anything is fetched
    with tempfile.TemporaryDirectory(prefix="aicd-deploy-") as tmp:
        model_dir, meta = fetch(inputs, env, Path(tmp) / "model")
        shadow = fetch_shadow(inputs, env, gh, Path(tmp) / "shadow", meta)
        image = build_and_push(inputs, env, gh, model_uri, model_dir, meta, client, shadow)
    if command == "build":
        return _finish_build(gh, image, meta)
    target = _target(client, listen, deployment_name(meta["model_name"], variant), timeout,
                     seconds(inputs, "observe-seconds", "10"), gh, inputs.get("feedback-token") or "", keep, variant)
    rollout = target.deploy(image.reference)
    if not target.has_feedback_token():
        warn_no_feedback(gh)
    return _finish(gh, "deploy", target, rollout, image)


def _deployment_of(inputs: Mapping[str, str], client, listen: str, variant: str) -> str:
    """The deployment to roll back or stop: the model-uri's (and variant's), else the one serving at ``listen``."""
    uri = inputs.get("model-uri", "")
    if uri.startswith("models:/"):
        return deployment_name(model_name_of(uri), variant)
    if uri:
        raise ConfigError(f"input `model-uri`: {uri!r} is not models:/<name>/<version> or models:/<name>@<alias>")
    found = deployment_at(client, listen)
    if found is None:
        raise ConfigError(f"no aicd deployment serves at {listen} on this Docker engine",
                          hint="give the `listen` the deploy used (or the `model-uri` of the deployed model)")
    return found


def _listen(inputs: Mapping[str, str]) -> str:
    listen = inputs.get("listen") or "127.0.0.1:8080"
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"input `listen`: {listen!r} is not address:port", hint="e.g. 127.0.0.1:8080")
    return listen


def _target(client, listen: str, deployment: str, timeout: float, observe: float, gh: Actions,
            feedback_token: str = "", keep: int = DEFAULT_KEEP, variant: str = "stable") -> DockerTarget:
    return DockerTarget(client, deployment, listen, timeout, observe, keep=keep, variant=variant,
                        progress=lambda event: gh.info(f"aicd deploy: {event}"), feedback_token=feedback_token)


def build_and_push(inputs, env, gh: Actions, model_uri: str, model_dir: Path, meta: dict,
                   client=None, shadow: tuple[str, Path, dict] | None = None) -> BuiltImage:
    """Build the serving image for ``model_dir`` (with ``shadow``'s model at /shadow, scoring every
    request unserved) and push it when the `registry` input is set."""
    client = client or docker_client(env.get("DOCKER_HOST", ""))
    commit, source = commit_of(env), source_of(env)
    checksum = serving_checksum(meta)
    repository = repository_name(inputs.get("registry", ""), inputs.get("image-name") or meta["model_name"])
    runtime_env = {"AICD_MODEL_SHA256": checksum, "AICD_MODEL_NAME": meta["model_name"],
                   "AICD_MODEL_VERSION": str(meta["model_version"]), "AICD_RUN_ID": meta["run_id"]}
    labels = image_labels(meta, model_uri, checksum, source, commit)
    tag = image_tag(str(meta["model_version"]), commit)
    if shadow:
        uri, _, shadow_meta = shadow
        runtime_env.update(AICD_SHADOW_MODEL_DIR="/shadow", AICD_SHADOW_SHA256=serving_checksum(shadow_meta),
                           AICD_SHADOW_MODEL_VERSION=str(shadow_meta["model_version"]))
        labels.update({"io.aicd.shadow.uri": uri, "io.aicd.shadow.version": str(shadow_meta["model_version"]),
                       "io.aicd.shadow.sha256": serving_checksum(shadow_meta)})
        tag += f"-shadow{shadow_meta['model_version']}"  # never the tag of the same model without a shadow
    builder = ImageBuilder(client, _cache_dir(env), progress=lambda line: gh.info(f"aicd deploy: {line}"))
    started = time.monotonic()
    image = builder.build(base=inputs.get("base-image") or "python:3.12-slim", repository=repository,
                          tag=tag, model_dir=model_dir, meta=meta, env=runtime_env, labels=labels,
                          shadow=(shadow[1], shadow[2]) if shadow else None)
    if not image.reused:
        gh.info(f"aicd deploy: built {image.reference} ({image.size_mb:.0f} MB) in {time.monotonic() - started:.1f} s")
    if inputs.get("registry"):
        image = builder.push(image, inputs.get("registry-username", ""), inputs.get("registry-password", ""))
        gh.info(f"aicd deploy: pushed {image.reference}@{image.digest}")
    return image


def _cache_dir(env: Mapping[str, str]) -> Path:
    root = env.get("AICD_CACHE_DIR") or (f"{env['RUNNER_TOOL_CACHE']}/aicd" if env.get("RUNNER_TOOL_CACHE") else "")
    path = Path(root or os.path.expanduser("~/.cache/aicd"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _finish_build(gh: Actions, image: BuiltImage, meta: dict) -> dict[str, str]:
    outputs = {"endpoint": "", "revision": "", "previous-revision": "", "model-version": str(meta["model_version"]),
               "image": image.reference, "digest": image.digest, "ready-seconds": ""}
    gh.set_outputs(outputs)
    gh.summary("## 📦 aicd release — image built\n\n" + _image_table(image))
    return outputs


def _finish(gh: Actions, command: str, target: DockerTarget, rollout: Rollout,
            image: BuiltImage | None) -> dict[str, str]:
    serving, standby = rollout.serving, rollout.standby
    outputs = {"endpoint": target.endpoint, "revision": str(serving.revision),
               "previous-revision": str(standby.revision) if standby else "", "model-version": serving.model_version,
               "image": serving.image, "digest": image.digest if image else "",
               "ready-seconds": f"{rollout.ready_seconds:g}"}
    gh.set_outputs(outputs)
    verb = "deployed" if command == "deploy" else "rolled back"
    took = (f"Revision {serving.revision} answered /readyz {rollout.ready_seconds:.1f} s after it started."
            if command == "deploy" else f"Revision {serving.revision} took traffic {rollout.ready_seconds:.1f} s "
            f"after the rollback began; revision {rollout.rolled_back.revision if rollout.rolled_back else '?'} "
            "is retired (removed; its image stays).")
    parts = [f"## 🚀 aicd release — {verb} (docker)\n\nStable endpoint **{target.endpoint}** "
             f"(deployment {md_code(target.deployment)}). {took}", _revisions_table(target, serving, standby)]
    if image:
        parts.append(_image_table(image))
    gh.summary("\n\n".join(parts))
    return outputs


def _revisions_table(target: DockerTarget, serving: Slot, standby: Slot | None) -> str:
    """Every revision a rollback can return to, newest first, and what each is doing."""
    kept = set(target.history().kept)
    rows = []
    for slot in sorted((s for s in target.slots() if s.revision in kept), key=lambda s: -s.revision):
        role = "▶ serving" if slot.revision == serving.revision else \
            "standby (running)" if standby and slot.revision == standby.revision else "kept (stopped)"
        rows.append([role, slot.revision, slot.model_uri or slot.model_version, slot.image, slot.container])
    return "### Revisions kept for rollback\n\n" + table(["", "revision", "model", "image", "container"], rows)


def _image_table(image: BuiltImage) -> str:
    return table(["image", "digest", "size"], [[image.reference, image.digest or "not pushed",
                                                 f"{image.size_mb:.0f} MB"]])

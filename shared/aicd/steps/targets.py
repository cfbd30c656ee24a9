"""Opening a deploy target from a stage's inputs: shared by the deploy stage and the production gate's
actions (which roll back, stop or abort what it judged). Every input a target reads is checked here,
before anything talks to a service."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from ..config import load_config
from ..deploy.naming import model_name_of
from ..deploy.target import Settings, Target, open_target, target_class
from ..errors import ConfigError
from ..tenancy import check_tenant, owns
from ..under_act import state_dir
from . import Inputs

__all__ = ["check_owner", "namespace_for", "open_from_inputs", "settings_from"]


def namespace_for(tenant: str, configured: str) -> str:
    """A tenant always gets its own namespace ``aicd-<tenant>``; without a tenant, the configured one."""
    if tenant:
        return f"aicd-{check_tenant(tenant)}"
    return configured or "aicd"


def settings_from(inputs: Inputs, env: Mapping[str, str], *, model_name: str | None = None,
                  variant: str | None = None, progress: Callable[[str], None] = lambda text: None) -> Settings:
    """Everything a target reads, from the stage's inputs (those it declares; the others keep the
    Settings defaults) and aicd.yml's deploy section. ``model_name`` defaults to the `model-uri`
    input's, ``variant`` to the `variant` input."""
    uri = inputs.get("model-uri") or ""
    if uri and not uri.startswith("models:/"):
        raise ConfigError(f"input `model-uri`: {uri!r} is not models:/<name>/<version> or models:/<name>@<alias>",
                          hint="pass the model-uri output of action-train")
    model_name = model_name if model_name is not None else model_name_of(uri) if uri else ""
    tenant = check_tenant(inputs.get("tenant") or "")
    if model_name:
        check_owner(inputs, model_name)
    deploy = load_config(inputs.get("config"), tenant).deploy
    kubernetes = deploy.kubernetes
    if inputs.get("strategy"):
        kubernetes = replace(kubernetes, strategy=inputs["strategy"])
    declared = {key: inputs[name] for key, name in (("ready_timeout", "ready-timeout"),
                                                    ("observe_seconds", "observe-seconds"),
                                                    ("feedback_token", "feedback-token"), ("variant", "variant"))
                if name in inputs}
    if "listen" in inputs:
        declared["listen"] = _listen(inputs["listen"])
    if variant is not None:
        declared["variant"] = variant
    return Settings(model_name=model_name, keep=deploy.keep_revisions, progress=progress,
                    state_dir=_state_dir(inputs, env), docker_host=env.get("DOCKER_HOST", ""),
                    kubeconfig=inputs.get("kubeconfig") or env.get("KUBECONFIG") or
                    os.path.expanduser("~/.kube/config"),
                    namespace=inputs.get("namespace") or namespace_for(tenant, kubernetes.namespace),
                    kubernetes=kubernetes, **declared)


def _state_dir(inputs: Inputs, env: Mapping[str, str]) -> Path:
    """The local target's state folder; under act placed where it outlives the job (aicd.under_act),
    and only the local target, which keeps its revisions there, has it checked."""
    if inputs.get("target", "local") == "local":
        return state_dir(inputs["state-dir"], env)
    return Path(inputs["state-dir"])


def open_from_inputs(inputs: Inputs, env: Mapping[str, str], verb: str, **how) -> Target:
    """The target the `target` input names, opened on :func:`settings_from` (``how``: its keyword
    arguments) — after checking it offers ``verb`` (NotSupported otherwise, before anything is opened)."""
    kind = inputs["target"]
    target_class(kind).check_verb(verb)
    return open_target(kind, settings_from(inputs, env, **how))


def check_owner(inputs: Mapping[str, str], model_name: str) -> None:
    """A tenant touches only its own models (and no tenant only un-namespaced ones): ConfigError otherwise."""
    tenant = inputs.get("tenant") or ""
    if not owns(tenant, model_name):
        who = f"tenant {tenant!r}" if tenant else "a deploy without a tenant"
        raise ConfigError(f"{who} may not touch the deployment of model {model_name!r}",
                          hint="give the tenant that owns it, or deploy the tenant's own model")


def _listen(listen: str) -> str:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"input `listen`: {listen!r} is not address:port", hint="e.g. 127.0.0.1:8080")
    return listen

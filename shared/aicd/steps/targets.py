"""Opening a deploy target from a stage's inputs: shared by the deploy stage and the production gate's
actions (which roll back or take out what it judged)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace

from ..config import load_config
from ..config_deploy import STRATEGIES
from ..deploy.kube.client import KubeClient
from ..deploy.kube.target import KubeTarget
from ..deploy.naming import deployment_name
from ..errors import ConfigError
from ..tenancy import check_tenant, owns

__all__ = ["kube_target", "namespace_for"]


def namespace_for(tenant: str, configured: str) -> str:
    """A tenant always gets its own namespace ``aicd-<tenant>``; without a tenant, the configured one."""
    if tenant:
        return f"aicd-{check_tenant(tenant)}"
    return configured or "aicd"


def kube_target(inputs: Mapping[str, str], env: Mapping[str, str], model_name: str, progress) -> KubeTarget:
    """The target for ``model_name`` from the step's inputs: config, strategy, tenant, namespace, kubeconfig."""
    cfg = load_config(inputs.get("config")).deploy.kubernetes
    if inputs.get("strategy"):
        if inputs["strategy"] not in STRATEGIES:
            raise ConfigError(f"input `strategy`: {inputs['strategy']!r} is not one of {', '.join(STRATEGIES)}")
        cfg = replace(cfg, strategy=inputs["strategy"])
    tenant = check_tenant(inputs.get("tenant") or "")
    if tenant and not owns(tenant, model_name):
        raise ConfigError(f"tenant {tenant!r} may not deploy {model_name!r}", hint="deploy the tenant's own model")
    namespace = inputs.get("namespace") or namespace_for(tenant, cfg.namespace)
    kubeconfig = inputs.get("kubeconfig") or env.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    api = KubeClient.from_kubeconfig(kubeconfig)
    return KubeTarget(api, deployment_name(model_name.split("__")[-1]), namespace, cfg, progress=progress)

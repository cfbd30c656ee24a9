"""The deploy stage's inputs, read and checked once for every target (the local, docker and kubernetes halves)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ...deploy.naming import model_name_of
from ...errors import ConfigError
from ...gha import Actions
from ...registry import MlflowRegistry
from ...tenancy import owns

__all__ = ["VARIANTS", "check_owner", "fetch", "keep_revisions", "require_model_uri", "revision_input", "seconds",
           "variant_input", "warn_no_feedback"]


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
    from ...config import load_config

    return load_config(inputs.get("config")).deploy.keep_revisions


def require_model_uri(inputs: Mapping[str, str]) -> str:
    """The `model-uri` input, of a model the `tenant` input may deploy."""
    if not inputs.get("model-uri"):
        raise ConfigError("input `model-uri` is required to deploy", hint="pass the model-uri output of action-train")
    check_owner(inputs, model_name_of(inputs["model-uri"]))
    return inputs["model-uri"]


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


def seconds(inputs: Mapping[str, str], key: str, default: str) -> float:
    text = inputs.get(key) or default
    try:
        value = float(text)
    except ValueError:
        value = -1
    low = "above 0" if key == "ready-timeout" else "from 0"
    if not 0 <= value <= 86_400 or (value == 0 and key == "ready-timeout"):  # NaN fails the comparison too
        raise ConfigError(f"input `{key}`: {text!r} is not a number of seconds {low} up to 86400")
    return value

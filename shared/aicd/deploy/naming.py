"""Names every target derives from a model (pure): the registered name in a URI, a deployment's name."""

from __future__ import annotations

__all__ = ["deployment_name", "model_name_of"]


def model_name_of(uri: str) -> str:
    """The registered model name of models:/<name>/<version> or models:/<name>@<alias>."""
    return uri.removeprefix("models:/").split("/")[0].split("@")[0]


def deployment_name(model_name: str, variant: str = "stable") -> str:
    """Docker- and DNS-safe name of a model's deployment (``<tenant>__<name>`` keeps its tenant prefix);
    a canary (or a/b) deployment of the same model is ``<name>-<variant>``."""
    name = model_name.lower().replace("__", "--").replace("_", "-")
    return name if variant == "stable" else f"{name}-{variant}"

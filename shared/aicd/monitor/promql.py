"""PromQL label matchers, shared by the Prometheus source and the alert rules (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..errors import ConfigError

__all__ = ["escape", "label_matchers", "selector"]

MATCHER = re.compile(r'\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(?:=~|!~|!=|=)\s*"(?:[^"\\\n]|\\.)*"\s*(?:,|$)')


def label_matchers(text: str, key: str) -> str:
    """A user's extra matchers (``namespace="aicd-acme", job=~"serve.*"``, braces optional), checked;
    ``key`` names the input or option in the error (e.g. "input `selector`")."""
    inner = text.strip().removeprefix("{").removesuffix("}").strip().rstrip(",")
    pos = 0
    while pos < len(inner):
        match = MATCHER.match(inner, pos)
        if not match:
            raise ConfigError(f"{key} must be PromQL label matchers like namespace=\"aicd-acme\", got {text!r}")
        pos = match.end()
    return inner


def escape(value: str) -> str:
    """A label value inside PromQL double quotes."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def selector(labels: Mapping[str, str], *extra: str) -> str:
    """``{a="x",b="y",<extra>}`` with values escaped."""
    return "{" + ",".join([f'{k}="{escape(v)}"' for k, v in labels.items()] + [e for e in extra if e]) + "}"

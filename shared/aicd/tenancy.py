"""Tenant ids and the names they own (pure).

A tenant's registered models, experiments and deploy state live under ``<tenant>__<name>``. Tenant
ids are DNS labels (lower-case letters, digits, '-', at most 40 characters), so they are safe in
paths, Kubernetes namespaces and MLflow names, and can never contain the ``__`` separator; model
names may not contain it either, so the split is unambiguous and one tenant can never address
another tenant's names.
"""

from __future__ import annotations

import re

from .errors import ConfigError

__all__ = ["RULE", "check_tenant", "is_tenant_id", "owns", "qualified_name"]

_TENANT = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")
SEPARATOR = "__"
RULE = "use 1-40 lower-case letters, digits or '-', starting and ending alphanumeric"


def is_tenant_id(text: object) -> bool:
    """Whether ``text`` is a valid (non-empty) tenant id."""
    return isinstance(text, str) and _TENANT.fullmatch(text) is not None


def check_tenant(tenant: str) -> str:
    """Return ``tenant`` if it is a valid id (empty means no tenant); raise ConfigError otherwise."""
    if tenant and not is_tenant_id(tenant):
        raise ConfigError(f"input `tenant`: {tenant!r} is not a valid tenant id", hint=RULE)
    return tenant


def qualified_name(tenant: str, name: str) -> str:
    """The registry name of ``name`` for ``tenant`` (``name`` itself without a tenant)."""
    return f"{check_tenant(tenant)}{SEPARATOR}{name}" if tenant else name


def owns(tenant: str, registered_name: str) -> bool:
    """Whether ``tenant`` may touch ``registered_name`` (without a tenant: only un-namespaced names)."""
    if not tenant:
        return SEPARATOR not in registered_name
    return registered_name.startswith(f"{check_tenant(tenant)}{SEPARATOR}")

"""Promotion: the explicit step that moves a registered model's ``champion`` alias.

Used by ``aicd monitor`` (``on-success: promote``) and by ``aicd promote`` for a manual promotion.
A tenant may only promote its own models; the replaced champion stays reachable as
``previous-champion`` for rollback.
"""

from __future__ import annotations

from ..errors import ConfigError
from ..gha import Actions, md_escape
from ..registry import MlflowRegistry
from ..tenancy import check_tenant, owns


def promote(registry: MlflowRegistry, tenant: str, model_uri: str, gh: Actions) -> tuple[str, str, str | None]:
    """Make ``model_uri`` the champion; returns (name, version, previous champion version)."""
    name, version = registry.resolve(model_uri)
    if not owns(check_tenant(tenant), name):
        raise ConfigError(f"model {name!r} does not belong to tenant {tenant or '(none)'!r}",
                          hint="a tenant can only promote models registered under <tenant>__<name>")
    previous = registry.promote(name, version)
    gh.info(f"aicd promote: {_what_changed(name, version, previous)}")
    return name, version, previous


def summarize(gh: Actions, name: str, version: str, previous: str | None) -> None:
    """The job summary of ``aicd promote`` (the production gate's own summary reports its promotion)."""
    gh.summary(f"## 🏆 aicd promote\n\n{md_escape(_what_changed(name, version, previous))}.")


def _what_changed(name: str, version: str, previous: str | None) -> str:
    if previous == version:
        return f"{name} version {version} was already champion; nothing changed"
    return f"{name} version {version} is now champion" + (f" (previous-champion: version {previous})"
                                                         if previous else "")

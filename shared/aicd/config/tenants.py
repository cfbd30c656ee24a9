"""The ``tenants:`` section of aicd.yml: how each tenant differs from the defaults (pure).

::

    tenants:
      acme:
        data: {source: data/acme.csv}
        model: {thresholds: {accuracy: 0.85}, params: {max_depth: 6}}
      globex: {}

A step run with input ``tenant: acme`` reads aicd.yml as if the tenant's ``data``, ``model``,
``monitor`` and ``deploy`` mappings were written over the top-level ones: mappings merge key by key,
all the way down; anything else (a list, a number, a string) replaces what it overrides. The merged
view is read by the same sections as the defaults, so an override is checked as strictly, and every
error names the key and the line where the override writes it (``tenants.acme.model.thresholdz``).
Each declared tenant's view is read with the file, so a mistake in one tenant's override stops every
step, not only that tenant's; once ``tenants:`` is declared, a tenant it does not name is refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..tenancy import RULE, is_tenant_id
from .reader import Entry, setting

__all__ = ["TenantOverride", "merge", "read_tenants", "split_lines", "view"]

KEY = "tenants"


@dataclass(frozen=True)
class TenantOverride:
    """``tenants.<tenant>``: the keys this tenant writes over each section, as written (they are
    checked when merged, by the section itself)."""

    data: dict[str, Any] = setting(factory=dict, parse=Entry.mapping)
    model: dict[str, Any] = setting(factory=dict, parse=Entry.mapping)
    monitor: dict[str, Any] = setting(factory=dict, parse=Entry.mapping)
    deploy: dict[str, Any] = setting(factory=dict, parse=Entry.mapping)


def read_tenants(e: Entry) -> dict[str, TenantOverride]:
    """``tenants:``: a mapping of tenant ids (by :mod:`aicd.tenancy`'s rules) to their overrides."""
    out = {}
    for name, raw in e.mapping().items():
        where = f"{e.path}.{name}"
        if not is_tenant_id(name):
            raise e.fail(f"{name!r} is not a valid tenant id", RULE, path=where)
        out[name] = e.section_at(TenantOverride, where, raw)
    return out


def merge(base: Any, over: Any) -> Any:
    """``over`` written over ``base``: two mappings merge key by key; anything else replaces."""
    if not (isinstance(base, dict) and isinstance(over, dict)):
        return over
    return {**base, **{key: merge(base.get(key), value) for key, value in over.items()}}


def split_lines(lines: Mapping[str, int]) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """The whole file's lines as the defaults' and each tenant's (by the path inside its override),
    in one pass: each view then costs its own size, not the file's."""
    base: dict[str, int] = {}
    tenants: dict[str, dict[str, int]] = {}
    for path, line in lines.items():
        if not _under(path, KEY):
            base[path] = line
        elif path.count(".") >= 2:
            _, tenant, inner = path.split(".", 2)
            tenants.setdefault(tenant, {})[inner] = line
    return base, tenants


def view(raw: Mapping[str, Any], base_lines: Mapping[str, int], own_lines: Mapping[str, int],
         tenant: str) -> tuple[dict, dict[str, int], dict[str, str]]:
    """The file as ``tenant`` reads it (``tenant`` declared), from the whole file's data and the lines
    :func:`split_lines` gives: the merged data (without ``tenants:``), the line of every key in it,
    and, for each key the override wrote, the path it is written under."""
    overrides = {section: over or {} for section, over in (raw[KEY][tenant] or {}).items()}
    merged = {key: value for key, value in raw.items() if key != KEY}
    for section, over in overrides.items():
        merged[section] = merge(merged.get(section), over)
    replaced = set(_leaves(overrides, ""))
    # a key the override replaces wholesale (a list, say) keeps none of the old value's lines
    merged_lines = {path: line for path, line in base_lines.items()
                    if not any(_under(path, r) and path != r for r in replaced)} if replaced else dict(base_lines)
    merged_lines.update(own_lines)
    return merged, merged_lines, {inner: f"{KEY}.{tenant}.{inner}" for inner in own_lines}


def _leaves(value: Any, path: str) -> Iterator[str]:
    """The paths of the values in ``value`` that are not mappings (what an override replaces)."""
    for key, inner in value.items():
        child = f"{path}.{key}" if path else str(key)
        if isinstance(inner, dict):
            yield from _leaves(inner, child)
        else:
            yield child


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith((f"{root}.", f"{root}["))

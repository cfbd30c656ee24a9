"""Sections kept in a folder for one later job to write: how parallel tenants share one comment.

A matrix of tenants must not write the pull request's comment from every job at once: each would read
the comment, add its section and write it back, and the last writer would drop the others' sections.
So with input ``pr-comment-dir`` a stage writes its section, keyed ``<stage>.<tenant>``, to a file in
that folder instead (``aicd-tenants.yml`` uploads the folder as an artifact), and one job after the
matrix gives every kept section to :func:`~.publish` at once (``aicd comment``). The folder holds
only aicd's own output; its files are still read as untrusted data: a malformed one is skipped with
a warning, never a crash.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ...gha import Actions
from .render import Links, Section, code

__all__ = ["Folder", "gather", "keep", "summary_of", "tenant_section"]

SUFFIX = ".section.json"
MAX_FILE = 1 << 20  # a section longer than GitHub's whole comment is no section of ours


@dataclass(frozen=True)
class Folder:
    """Where a stage keeps its section (``pr-comment-dir``), for which tenant, and what it links to."""

    path: str
    tenant: str
    links: Links


def tenant_section(section: Section, tenant: str) -> Section:
    """``section`` keyed ``<stage>.<tenant>``, its title naming the tenant (the comment lists every
    tenant's sections of one stage together)."""
    if not tenant:
        return section
    title, newline, rest = section.body.partition("\n")
    body = f"{title} · tenant {code(tenant)}{newline}{rest}" if title.startswith("#") else \
        f"**tenant {code(tenant)}**\n\n{section.body}"
    return Section(f"{section.key}.{tenant}", body)


def keep(folder: Folder, section: Section, gh: Actions) -> bool:
    """Write ``section`` (already keyed) into ``folder`` as ``<key>.section.json``; a failure is a warning
    (the comment is a report and never changes the step's outcome)."""
    path = Path(folder.path) / f"{section.key}{SUFFIX}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"key": section.key, "body": section.body}), encoding="utf-8")
    except OSError as exc:
        gh.annotate("warning", f"the pull-request comment section was not kept in {folder.path!r}: "
                    f"{exc.strerror or exc}", title="aicd PR comment")
        return False
    gh.info(f"aicd: kept this stage's pull-request comment section in {path}")
    return True


def gather(root: str, gh: Actions) -> list[Section]:
    """Every section kept under ``root`` (any depth: one artifact folder per tenant), by key; a file
    that is not one is skipped with a warning."""
    found: dict[str, Section] = {}
    base = Path(root)
    for path in sorted(base.rglob(f"*{SUFFIX}")) if base.is_dir() else []:
        section = _read(path)
        if section is None:
            gh.annotate("warning", f"skipped {str(path.relative_to(base))!r}: not a kept comment section",
                        title="aicd PR comment")
            continue
        found[section.key] = section
    return [found[key] for key in sorted(found)]


def _read(path: Path) -> Section | None:
    try:
        if path.stat().st_size > MAX_FILE:
            return None
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, Mapping) or not isinstance(raw.get("body"), str):
            return None
        return Section(raw["key"], raw["body"]) if isinstance(raw.get("key"), str) else None
    except (OSError, ValueError):  # unreadable, not JSON, not UTF-8, or a key no section may have
        return None


def summary_of(sections: list[Section]) -> str:
    """The job summary of the job after the matrix: every kept section, as the comment shows them."""
    if not sections:
        return ("## aicd — tenants\n\nNo section was kept: every tenant's job stopped before its first stage, "
                "or none was given `pr-comment-dir`.")
    return "## aicd — tenants\n\n" + "\n\n".join(s.body for s in sections)

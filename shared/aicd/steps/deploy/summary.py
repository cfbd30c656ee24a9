"""The deploy stage's job summary, the same for every target (pure: text from a Result)."""

from __future__ import annotations

from ...deploy.image import BuiltImage
from ...deploy.target import Release, Result, Target
from ...gha import md_escape
from ..prcomment import linked_model
from ..prcomment import render as pr
from ..summary import table

__all__ = ["comment_build", "comment_release", "render_build", "render_release"]

VERBS = {"deploy": "deployed", "rollback": "rolled back", "promote": "promoted", "abort": "aborted"}


def render_release(command: str, target: Target, result: Result, image: BuiltImage | None, failed: str = "") -> str:
    head = f"## ⏪ aicd release — {command} failed, rolled back" if failed else \
        f"## {'🚀' if command == 'deploy' else '⏪' if command in ('rollback', 'abort') else '✅'} aicd release — " \
        f"{VERBS[command]} ({target.kind})"
    parts = [head, _story(command, target, result)]
    if failed:
        parts.append(f"**Failed:** {failed}")
    if result.recovered_seconds is not None:
        parts.append(f"The previous revision was fully serving again {result.recovered_seconds:.1f} s after the "
                     "failure was detected.")
    parts.append("### Revisions kept for rollback\n\n" + _revisions(target, result))
    if image and image.image_id:
        parts.append(render_image(image))
    return "\n\n".join(parts)


def _story(command: str, target: Target, result: Result) -> str:
    serving = result.serving
    variant = f", variant {result.serving.variant}" if result.serving.variant != "stable" else ""
    lines = [f"Endpoint **{result.endpoint}** — {md_escape(target.where)}{variant}."]
    if result.state:
        lines.insert(0, result.state)
    if result.ready_seconds is not None:
        if command == "deploy":
            lines.append(f"Revision {serving.revision} answered /readyz {result.ready_seconds:.1f} s after it started.")
        else:
            retired = f"; revision {result.retired.revision} is retired" if result.retired else ""
            lines.append(f"Revision {serving.revision} took traffic {result.ready_seconds:.1f} s after the "
                         f"{command} began{retired}.")
    return "\n\n".join(lines)


def _revisions(target: Target, result: Result) -> str:
    """Every revision a rollback can return to, newest first, what each is doing, and the one retired."""
    rows = []
    for release in target.history():
        role = "▶ serving" if release.revision == result.serving.revision else \
            "standby" if result.standby and release.revision == result.standby.revision else "kept"
        rows.append(_row(role, release))
        if release.shadow_version and role == "▶ serving":  # right under the revision it belongs to
            rows.append([f"↳ its shadow (scores, never answers; variant {release.variant})", "",
                         f"version {release.shadow_version}", "", "", "", "same server"])
    if result.retired:
        rows.append(_row("rolled back (retired)", result.retired))
    return table(["", "revision", "model", "image", "run", "commit", "where"], rows)


def _row(role: str, release: Release) -> list:
    model = release.model_uri or ""
    if release.model_version and not model.endswith(f"/{release.model_version}"):  # an alias names no version
        model = f"{model} (version {release.model_version})".strip()
    return [role, release.revision, model, release.image, release.run_id[:8], release.commit[:7], release.address]


def render_image(image: BuiltImage) -> str:
    return table(["image", "digest", "size"], [[image.reference, image.digest or "not pushed",
                                                 f"{image.size_mb:.0f} MB"]])


def render_build(image: BuiltImage) -> str:
    return "## 📦 aicd release — image built\n\n" + render_image(image)


def comment_release(command: str, target: Target, result: Result, image: BuiltImage | None, strategy: str,
                    links: pr.Links, failed: str = "") -> pr.Section:
    """The release's part of the pull-request comment: what serves where, from which image, and how."""
    serving = result.serving
    head = f"#### ⏪ Release — {command} failed, rolled back ({target.kind})" if failed else \
        f"#### {'🚀' if command == 'deploy' else '⏪' if command in ('rollback', 'abort') else '✅'} Release — " \
        f"{VERBS[command]} ({target.kind})"
    model = linked_model(links, serving.model_uri) if serving.model_uri else pr.code(serving.model_version)
    lines = [f"Endpoint {pr.code(result.endpoint)} · revision {serving.revision} · {model}"
             + (f" · strategy {pr.code(strategy)}" if strategy else "")]
    if result.state:
        lines.append(pr.text(result.state))
    if failed:
        lines.append(f"**Failed:** {pr.text(failed)}")
    parts = [head, "\n\n".join(lines)]
    if serving.image or image:
        parts.append(pr.table(["image", "digest"], [[serving.image or image.reference,
                                                     (image.digest if image else "") or "not pushed"]]))
    return pr.Section("deploy", "\n\n".join(parts))


def comment_build(image: BuiltImage) -> pr.Section:
    return pr.Section("deploy", "#### 📦 Release — image built\n\n" + pr.table(
        ["image", "digest"], [[image.reference, image.digest or "not pushed"]]))

"""The sticky pull-request comment of a stage: where it goes, and writing the stage's section into it.

With input ``pr-comment: true`` (and ``github-token``), a stage run for a ``pull_request`` or
``pull_request_target`` event updates one comment on the pull request: the first comment, by a bot or
someone with write access, that starts with :data:`~aicd.steps.prcomment.render.MARKER` — else a new
one. The stage's section replaces its own and leaves the other stages' (see :mod:`.render`).

The comment is a report. It never changes the step's outcome: a read-only token (a fork's pull
request) is one ``notice``, any other GitHub failure one ``warning``, and the step keeps its own
verdict and exit status. Outside a pull-request event nothing is sent, silently. Only the inputs are
checked strictly, before the stage runs: ``pr-comment: true`` without a token, or a bad
``mlflow-ui-url``, is refused like any bad input.

The CLI calls :func:`target_of` before the stage and :func:`publish` after it (whatever the stage's
outcome); the stage hands its section over with :meth:`aicd.gha.Actions.comment`, as a function of
:class:`~.render.Links` called only when a comment is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...errors import AicdError, ConfigError, GateFailed, UserError
from ...gha import Actions
from ...tenancy import check_tenant
from ...urls import http_url
from .kept import Folder
from .render import MARKER, TITLES, Links, Run, Section, code, compose, table, text

if TYPE_CHECKING:  # the client imports requests (0.1-0.4 s): only a stage that comments pays for it
    from ...github_comments import Comment, IssueComments

__all__ = ["EVENTS", "Folder", "Target", "failure_section", "is_ours", "linked_model", "outputs_section", "publish",
           "target_of"]

EVENTS = ("pull_request", "pull_request_target")
SWITCH = ("false", "true")


@dataclass(frozen=True)
class Target:
    """Where the comment goes and what it links to. ``repr`` hides the token."""

    api_url: str
    repository: str
    number: int
    token: str
    run: Run
    links: Links

    def __repr__(self) -> str:
        return f"Target({self.api_url!r}, {self.repository!r}, #{self.number})"


def target_of(raw: Mapping[str, object], env: Mapping[str, str], gh: Actions) -> Target | Folder | None:
    """The comment's target from the stage's raw inputs and the runner's environment: the folder of
    ``pr-comment-dir`` (:mod:`.kept`; whatever the event, no token needed), else the pull request;
    None when ``pr-comment`` is off or the event is no pull request. ConfigError for a bad input; the
    token is masked at once."""
    switch = str(raw.get("pr-comment") or "").strip() or "false"
    if switch not in SWITCH:
        raise ConfigError(f"input `pr-comment`: {switch!r} is not one of {', '.join(SWITCH)}")
    ui = _mlflow_ui(raw, env)
    folder = str(raw.get("pr-comment-dir") or "").strip()
    if folder:
        # the tenant names the section and its file: checked here, before the stage runs
        return Folder(folder, check_tenant(str(raw.get("tenant") or "").strip()), Links(_run_url(env), ui))
    if switch == "false":
        return None
    from ...github import check_token
    from ...github_comments import PERMISSION_HINT

    token = str(raw.get("github-token") or "").strip()
    if token:
        gh.mask(token)
    check_token(token, "pr-comment: true", PERMISSION_HINT)
    if env.get("GITHUB_EVENT_NAME") not in EVENTS:
        return None
    number, head = _pull_request(env, gh)
    if number is None:
        return None
    repository, run_id, run_url = env.get("GITHUB_REPOSITORY", ""), env.get("GITHUB_RUN_ID", ""), _run_url(env)
    return Target(env.get("GITHUB_API_URL") or "https://api.github.com", repository, number, token,
                  Run(run_id if run_id.isdigit() else "", run_url, head or env.get("GITHUB_SHA", "")),
                  Links(run_url, ui))


def _run_url(env: Mapping[str, str]) -> str:
    """The workflow run's page, or empty outside Actions."""
    server = (env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
    repository, run_id = env.get("GITHUB_REPOSITORY", ""), env.get("GITHUB_RUN_ID", "")
    return f"{server}/{repository}/actions/runs/{run_id}" if repository and run_id.isdigit() else ""


def _mlflow_ui(raw: Mapping[str, object], env: Mapping[str, str]) -> str:
    """The `mlflow-ui-url` input (checked), else an http(s) tracking URI (an MLflow server is its own
    UI), else empty: no MLflow links."""
    given = str(raw.get("mlflow-ui-url") or "").strip()
    if given:
        return http_url(given, "input `mlflow-ui-url`")
    tracking = str(raw.get("tracking-uri") or env.get("MLFLOW_TRACKING_URI") or "").strip()
    try:
        return http_url(tracking, "tracking URI") if tracking.startswith(("http://", "https://")) else ""
    except ConfigError:  # the stage itself says what is wrong with its tracking URI
        return ""


def _pull_request(env: Mapping[str, str], gh: Actions) -> tuple[int | None, str]:
    """The pull request's number and head commit from the event payload (GITHUB_EVENT_PATH)."""
    path = env.get("GITHUB_EVENT_PATH", "")
    try:
        with open(path, encoding="utf-8") as fh:
            event = json.load(fh)
        pull = event.get("pull_request") or {}
        number = pull.get("number", event.get("number"))
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise ValueError("no pull request number")
    except (OSError, ValueError, AttributeError) as exc:
        gh.annotate("warning", f"no pull-request comment: the event payload GITHUB_EVENT_PATH {path!r} names no "
                    f"pull request ({getattr(exc, 'strerror', None) or exc})", title="aicd PR comment")
        return None, ""
    head = (pull.get("head") or {}).get("sha") if isinstance(pull.get("head"), dict) else ""
    return number, head if isinstance(head, str) else ""


def is_ours(comment: Comment) -> bool:
    """aicd's comment: it starts with the marker and a bot or someone with write access wrote it."""
    return comment.trusted and comment.body.startswith(MARKER)


def publish(target: Target, sections: Sequence[Section], gh: Actions, client: IssueComments | None = None) -> bool:
    """Write ``sections`` into the pull request's aicd comment (one read, one write); True when it was
    written. Never raises an AicdError: a read-only token is a notice, any other failure a warning."""
    from ...github_comments import MAX_BODY, Comment, IssueComments

    try:
        comments = client or IssueComments(target.api_url, target.repository, target.number, target.token)
        found = comments.find(is_ours)
        body = compose(found.body if found else None, sections, target.run, MAX_BODY)
        if found:
            comments.update(found.id, body)
        else:
            found = Comment(comments.create(body), body, True)
    except AicdError as exc:
        if getattr(exc, "read_only", False):
            gh.annotate("notice", "no pull-request comment: the token may read but not write comments (a fork's "
                        "pull request gets a read-only GITHUB_TOKEN); the step's own verdict stands",
                        title="aicd PR comment")
        else:
            gh.annotate("warning", f"the pull-request comment was not written: {exc}", title="aicd PR comment")
        return False
    gh.info(f"aicd: pull request #{target.number}: comment {found.id} holds this stage's section")
    return True


def failure_section(stage: str, error: BaseException) -> Section:
    """The section of a stage that stopped before it could give its own: what stopped it, in one line."""
    if isinstance(error, GateFailed):
        head = f"#### ❌ {TITLES[stage]} — failed"
    elif isinstance(error, UserError):
        head = f"#### ❌ {TITLES[stage]} — refused (nothing was changed)"
    elif isinstance(error, AicdError):
        head = f"#### ❌ {TITLES[stage]} — failed"
    else:
        head = f"#### ❌ {TITLES[stage]} — internal error (a bug in aicd)"
        return Section(stage, f"{head}\n\n{text(type(error).__name__)}: {text(error)}")
    return Section(stage, f"{head}\n\n{text(error)}")


def outputs_section(stage: str, outputs: Mapping[str, str]) -> Section:
    """The section of a stage that gave none of its own (e.g. a training Job watched from here): its outputs."""
    rows = [[name, value] for name, value in outputs.items() if value]
    body = table(["output", "value"], rows) if rows else "No outputs."
    return Section(stage, f"#### ✅ {TITLES[stage]} — done\n\n{body}")


def linked_model(links: Links, model_uri: str) -> str:
    """A ``models:/<name>/<version>`` URI as its linked version; any other URI as code."""
    name, _, version = model_uri.removeprefix("models:/").rpartition("/")
    return links.model_version(name, version) if model_uri.startswith("models:/") and name and version.isdigit() \
        else code(model_uri)

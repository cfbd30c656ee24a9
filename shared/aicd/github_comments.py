"""The GitHub REST adapter of the sticky pull-request comment: list, create and update issue comments.

A pull request is an issue to this part of the API, so its conversation comments are issue comments
(REST API version 2022-11-28, https://docs.github.com/en/rest/issues/comments):

- ``GET {api}/repos/{owner}/{repo}/issues/{number}/comments?per_page=100`` lists them, oldest first,
  100 at most per page; further pages are named by the ``Link`` header's ``rel="next"`` URL, which is
  followed as given (GitHub writes ``/repositories/<id>/...`` there) but only on the API's own origin,
  so the token never travels elsewhere.
- ``POST {api}/repos/{owner}/{repo}/issues/{number}/comments`` with ``{"body": ...}`` creates one
  (201); ``PATCH {api}/repos/{owner}/{repo}/issues/comments/{id}`` with ``{"body": ...}`` updates it
  (200). A body holds at most 65,536 characters (longer: 422).

The token needs ``pull-requests: write`` (the workflow's GITHUB_TOKEN; for a fine-grained token the
"Pull requests" repository permission, write). A fork's pull request gets a read-only GITHUB_TOKEN: it
can list, and creating answers 403 "Resource not accessible by integration" (:class:`GitHubError`
with ``read_only``). Every error is a :class:`GitHubError` naming ``GitHub API at <url>``, scrubbed of
the token, without the HTTP library's exception underneath. GET and PATCH are retried on 5xx and
read errors as :mod:`aicd.http_client` says; a POST only when the connection failed, since a retried
create could leave two comments.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import AicdError, GitHubError
from .github import _REPOSITORY, API_VERSION, USER_AGENT, check_token, github_message, scrubbed, service_name
from .http_client import TransportError, reason, session
from .urls import http_url

__all__ = ["MAX_BODY", "Comment", "IssueComments"]

MAX_BODY = 65_536  # GitHub: "body is too long (maximum is 65536 characters)"
PER_PAGE = 100  # GitHub's maximum
MAX_PAGES = 200  # 20,000 comments: a pull request with more is not worth listing to the end
# Bots (github-actions[bot]) and people with write access wrote it: a stranger's comment that copies
# the marker is never taken for aicd's, so its text is never re-published.
TRUSTED = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
PERMISSION_HINT = ("give the job `permissions: pull-requests: write` (a fine-grained token: the Pull requests "
                   "repository permission, read and write)")
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


@dataclass(frozen=True)
class Comment:
    """One issue comment: its id, body and whether its author is trusted (a bot, or write access)."""

    id: int
    body: str
    trusted: bool


class IssueComments:
    """The comments of pull request ``number`` of ``repository``, through the API at ``api_url``.

    The constructor checks every argument (ConfigError naming it, never quoting the token); nothing is
    sent before a method is called. ``repr`` never shows the token."""

    def __init__(self, api_url: str, repository: str, number: int, token: str, *, timeout: float = 10,
                 attempts: int = 3, backoff: float = 1.0):
        self.api_url = http_url(api_url, "GITHUB_API_URL")
        if not _REPOSITORY.fullmatch(repository or "") or repository.split("/")[1] in (".", ".."):
            raise GitHubError(service_name(self.api_url), 0, f"GITHUB_REPOSITORY {repository!r} is not owner/name",
                              retryable=False)
        if not isinstance(number, int) or number < 1:
            raise GitHubError(service_name(self.api_url), 0, f"pull request number {number!r} is not a positive "
                              "integer", retryable=False)
        check_token(token, "the pull-request comment", PERMISSION_HINT)
        self.repository, self.number = repository, number
        self._token, self._timeout, self._attempts, self._backoff = token, timeout, max(1, attempts), backoff

    def __repr__(self) -> str:
        return f"IssueComments({self.api_url!r}, {self.repository!r}, {self.number})"

    def find(self, is_ours: Callable[[Comment], bool]) -> Comment | None:
        """The first (oldest) comment ``is_ours`` accepts, listing page after page; None when none is."""
        return next((c for c in self._all() if is_ours(c)), None)

    def create(self, body: str) -> int:
        """Create a comment holding ``body``; returns its id."""
        answer = self._call("POST", f"{self._repo_url()}/issues/{self.number}/comments", body, 201)[0]
        return _comment_id(answer, self.api_url)

    def update(self, comment_id: int, body: str) -> None:
        """Replace the body of comment ``comment_id``."""
        self._call("PATCH", f"{self._repo_url()}/issues/comments/{int(comment_id)}", body, 200)

    # -- the listing ------------------------------------------------------------------------------
    def _all(self) -> Iterator[Comment]:
        url = f"{self._repo_url()}/issues/{self.number}/comments?per_page={PER_PAGE}"
        for _ in range(MAX_PAGES):
            answer, link = self._call("GET", url, None, 200)
            if not isinstance(answer, list):
                raise self._error(0, "listing the comments gave no JSON list", retryable=True)
            yield from (_comment(item, self.api_url) for item in answer)
            url = self._next(link)
            if not url:
                return

    def _next(self, link: str) -> str:
        """The ``rel="next"`` URL of a Link header, refused unless on the API's own origin (the token
        goes with it)."""
        match = _NEXT.search(link or "")
        if not match:
            return ""
        url = match.group(1)
        if _origin(url) != _origin(self.api_url):
            raise self._error(0, f"the next page of comments is on another host ({urlsplit(url).netloc}); not "
                              "following it with the token", retryable=False)
        return url

    # -- one request ------------------------------------------------------------------------------
    def _repo_url(self) -> str:
        return f"{self.api_url}/repos/{self.repository}"

    def _call(self, method: str, url: str, body: str | None, expected: int) -> tuple[object, str]:
        """Send one request; the JSON answer and the Link header, or a scrubbed GitHubError."""
        data = None if body is None else self._body(body)
        headers = {"Accept": "application/vnd.github+json", "Authorization": f"Bearer {self._token}",
                   "X-GitHub-Api-Version": API_VERSION, "User-Agent": USER_AGENT}
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            status, raw, link, location = self._send(method, url, headers, data)
        except TransportError as exc:
            raise self._error(0, f"unreachable ({reason(exc)})", retryable=True,
                              hint="check GITHUB_API_URL and the runner's network") from None
        if status != expected:
            raise self._status_error(status, raw, method, location) from None
        try:
            return json.loads(raw.decode("utf-8")), link
        except ValueError:
            raise self._error(status, f"{method} answered HTTP {status} without a JSON body", retryable=True) from None

    def _body(self, body: str) -> bytes:
        if len(body) > MAX_BODY:  # the renderer keeps within it: this is the last line of defence
            raise self._error(0, f"the comment is {len(body)} characters; GitHub accepts at most {MAX_BODY}",
                              retryable=False)
        return json.dumps({"body": body}).encode()

    def _send(self, method: str, url: str, headers: dict, data: bytes | None) -> tuple[int, bytes, str, str]:
        """The one network call (retried as the module docstring says, never redirected)."""
        with session(self._attempts, self._backoff, methods=frozenset({"GET", "PATCH"})) as client:
            answer = client.request(method, url, data=data, headers=headers, timeout=self._timeout,
                                    allow_redirects=False, stream=True)
            with answer:
                raw = answer.raw.read(4 * 1024 * 1024, decode_content=True)
                return answer.status_code, raw, answer.headers.get("Link", ""), answer.headers.get("Location", "")

    def _status_error(self, status: int, raw: bytes, method: str, location: str) -> AicdError:
        said = github_message(raw)
        suffix = f" (GitHub: {said})" if said else ""
        what = {"GET": "listing", "POST": "creating", "PATCH": "updating"}[method]
        if status == 401:
            return self._error(status, f"the token was refused (HTTP 401): it is invalid or expired{suffix}",
                               hint="pass a current token in `github-token`")
        if status == 429 or (status == 403 and "rate limit" in said.lower()):
            return self._error(status, f"rate limit exceeded (HTTP {status}){suffix}", retryable=True)
        if status == 403:
            return self._error(status, f"the token may not write comments on {self.repository} (HTTP 403){suffix}",
                               hint=PERMISSION_HINT)
        if status == 404:
            return self._error(status, f"{what} a comment: pull request {self.number} of {self.repository} or the "
                               "comment was not found, or the token cannot see it (HTTP 404)")
        if 300 <= status < 400:
            return self._error(status, f"GitHub answered with a redirect (HTTP {status}) to {location or '?'}",
                               hint="the repository was probably renamed or transferred")
        return self._error(status, f"{what} a comment: HTTP {status}{suffix}", retryable=status >= 500)

    def _error(self, status: int, message: str, *, retryable: bool = False, hint: str = "") -> AicdError:
        error = GitHubError(service_name(self.api_url), status, message, retryable=retryable, hint=hint)
        return scrubbed(error, self._token)


def _comment(item: object, api_url: str) -> Comment:
    if not isinstance(item, dict) or not isinstance(item.get("body", ""), str | None):
        raise GitHubError(service_name(api_url), 200, "a listed comment is not a comment object", retryable=False)
    user = item.get("user") if isinstance(item.get("user"), dict) else {}
    trusted = user.get("type") == "Bot" or item.get("author_association") in TRUSTED
    return Comment(_comment_id(item, api_url), item.get("body") or "", trusted)


def _comment_id(item: object, api_url: str) -> int:
    value = item.get("id") if isinstance(item, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise GitHubError(service_name(api_url), 200, "a comment came back without a numeric id", retryable=False)
    return value


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port

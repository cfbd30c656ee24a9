"""A local, strict stand-in for GitHub's "Create a repository dispatch event" and issue-comment endpoints.

GitHub itself is out of reach of the tests, so this fake checks a request the way GitHub documents it
(REST API 2022-11-28, https://docs.github.com/en/rest/repos/repos#create-a-repository-dispatch-event)
and answers the way GitHub answers:

- ``POST /repos/<owner>/<repo>/dispatches`` for the configured repository (case-insensitive, as on
  GitHub); another path or method is 404 ``Not Found``, another repository too.
- ``Authorization: Bearer <token>``: a missing or unknown token is 401 ``Bad credentials``; a token
  configured read-only is 403 ``Resource not accessible by integration`` (a GITHUB_TOKEN without
  ``contents: write``).
- ``User-Agent`` present, else 403 (GitHub: "Request forbidden by administrative rules");
  ``Accept: application/vnd.github+json``, ``X-GitHub-Api-Version: 2022-11-28`` and
  ``Content-Type: application/json``, else 400 naming the header.
- The body is JSON (else 400 ``Problems parsing JSON``), an object with ``event_type`` (a string of
  1-100 characters) and optionally ``client_payload`` (an object of at most 10 top-level keys, less
  than 64 KB of JSON) and nothing else, else 422 with GitHub's ``Invalid request.`` message.
- Then 204 No Content, and ``(event_type, client_payload)`` is appended to ``events``.

The issue comments of the pull requests in ``pulls`` (https://docs.github.com/en/rest/issues/comments,
the same version and headers; writes also need ``Content-Type: application/json``):

- ``GET /repos/<owner>/<repo>/issues/<n>/comments`` lists them oldest first, ``per_page`` (default 30)
  at most 100 — more is capped at 100, as GitHub does, and recorded as a violation — and ``page``
  (from 1); the ``Link`` header names the ``next``/``last``/``first``/``prev`` pages as GitHub does,
  through ``/repositories/<id>/issues/<n>/comments?...``, which is served too. A read-only token may list.
- ``POST`` there with ``{"body": "..."}`` creates one (201, Location, the comment's JSON) authored by
  ``github-actions[bot]`` (``type: Bot``); ``PATCH /repos/<owner>/<repo>/issues/comments/<id>``
  updates one (200). ``body`` missing or not a string is 422; more than 65,536 characters is 422
  ``Validation Failed`` with GitHub's "body is too long (maximum is 65536 characters)". An unknown
  pull request or comment is 404; a read-only token writing is 403 ``Resource not accessible by
  integration`` (a fork's pull request).

Tests seed other people's comments with ``add_comment`` and read the stored ones in ``comments``.

Every refused request is also appended to ``violations`` (one line each), so a test asserts
``fake.violations == []`` after the client under test talked to it. ``fail_next(n)`` answers the next
``n`` requests with 502 (or another status, or a redirect) before any check, to exercise retries.
Every request, refused or not, is kept in ``requests``.

Use it as the ``fake_github`` fixture or as a context manager: ``with FakeGitHub() as gh: ...``.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

__all__ = ["FakeGitHub", "Received", "fake_github"]

API_VERSION = "2022-11-28"
DOCS = "https://docs.github.com/rest/repos/repos#create-a-repository-dispatch-event"
COMMENTS_DOCS = "https://docs.github.com/rest/issues/comments"
MAX_BODY = 65_536
_PATH = re.compile(r"/repos/([^/]+)/([^/]+)/dispatches")
_LIST = re.compile(r"/(?:repos/([^/]+)/([^/]+)|repositories/(\d+))/issues/(\d+)/comments")
_ONE = re.compile(r"/repos/([^/]+)/([^/]+)/issues/comments/(\d+)")
BOT = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Refused(Exception):
    def __init__(self, status: int, message: str, violation: str, extra: dict | None = None):
        super().__init__(violation)
        self.status, self.message, self.violation, self.extra = status, message, violation, extra or {}


class FakeGitHub:
    """The fake API on ``api_url`` (a free loopback port), for one repository and its tokens."""

    def __init__(self, repository: str = "octo-org/octo-repo", token: str = "ghs_fake0123456789abcdef",
                 read_only_tokens: tuple[str, ...] = ("ghs_readonly0123456789",), pulls: tuple[int, ...] = (7,)):
        self.repository, self.token, self.read_only_tokens = repository, token, read_only_tokens
        self.repository_id = 1300192
        self.comments: dict[int, list[dict]] = {number: [] for number in pulls}
        self._next_id = 1_000_000
        self.events: list[tuple[str, dict | None]] = []
        self.violations: list[str] = []
        self.requests: list[Received] = []
        self._failures: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.api_url = ""

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> FakeGitHub:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.api_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-github",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(10)
            self._server = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- test controls ---------------------------------------------------------------------------
    def fail_next(self, n: int, status: int = 502, location: str = "") -> None:
        """Answer the next ``n`` requests with ``status`` (before checking them); with ``location``, a
        redirect there (GitHub answers a renamed repository's API calls with 301/307)."""
        with self._lock:
            self._failures.extend([(status, location)] * n)

    def add_comment(self, number: int, body: str, login: str = "octocat", type: str = "User",
                    association: str = "CONTRIBUTOR") -> int:
        """Seed a comment on pull request ``number`` as someone else wrote it; returns its id."""
        with self._lock:
            return self._store(number, body, {"login": login, "id": 583231, "type": type}, association)["id"]

    def _store(self, number: int, body: str, user: dict, association: str) -> dict:
        self._next_id += 1
        comment = {"id": self._next_id, "node_id": f"IC_{self._next_id}", "body": body, "user": user,
                   "author_association": association, "created_at": "2026-01-01T00:00:00Z",
                   "updated_at": "2026-01-01T00:00:00Z",
                   "url": f"{self.api_url}/repos/{self.repository}/issues/comments/{self._next_id}",
                   "html_url": f"https://github.com/{self.repository}/pull/{number}#issuecomment-{self._next_id}",
                   "issue_url": f"{self.api_url}/repos/{self.repository}/issues/{number}"}
        self.comments[number].append(comment)
        return comment

    # -- the endpoints ---------------------------------------------------------------------------
    def _handle(self, received: Received) -> tuple[int, object, dict[str, str]]:
        """Status, JSON answer (None for no body) and extra headers of one request."""
        with self._lock:
            self.requests.append(received)
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            status, location = failure
            return status, {"message": "Moved Permanently" if location else "Server Error"}, \
                ({"Location": location} if location else {})
        try:
            if "/issues/" in received.path.partition("?")[0]:
                return self._comments_endpoint(received)
            event = self._check(received)
        except _Refused as refused:
            with self._lock:
                self.violations.append(refused.violation)
            docs = DOCS if "/issues/" not in received.path else COMMENTS_DOCS
            return refused.status, {"message": refused.message, "documentation_url": docs,
                                    "status": str(refused.status), **refused.extra}, {}
        with self._lock:
            self.events.append(event)
        return 204, None, {}

    def _comments_endpoint(self, req: Received) -> tuple[int, object, dict[str, str]]:
        path, _, query = req.path.partition("?")
        listing, one = _LIST.fullmatch(path), _ONE.fullmatch(path)
        if not listing and not one:
            raise _Refused(404, "Not Found", f"{req.method} {path}: no such issues endpoint")
        write = req.method in ("POST", "PATCH")
        if (listing and req.method not in ("GET", "POST")) or (one and req.method not in ("GET", "PATCH")):
            raise _Refused(404, "Not Found", f"{req.method} {path}: not a method of this endpoint")
        self._check_auth(req.headers.get("authorization"), write=write)
        owner_repo = f"{listing[1]}/{listing[2]}" if listing and listing[1] else f"{one[1]}/{one[2]}" if one else None
        if owner_repo is not None and owner_repo.lower() != self.repository.lower():
            raise _Refused(404, "Not Found", f"repository {owner_repo} is not {self.repository}")
        if listing and listing[3] and int(listing[3]) != self.repository_id:
            raise _Refused(404, "Not Found", f"repository id {listing[3]} is not {self.repository_id}")
        self._check_headers(req.headers, content_type=write)
        with self._lock:
            if listing:
                number = int(listing[4])
                if number not in self.comments:
                    raise _Refused(404, "Not Found", f"pull request {number} does not exist")
                if req.method == "GET":
                    return self._page(number, query)
                comment = self._store(number, self._check_comment_body(req.body), BOT, "NONE")
                return 201, comment, {"Location": comment["url"]}
            comment = next((c for cs in self.comments.values() for c in cs if c["id"] == int(one[3])), None)
            if comment is None:
                raise _Refused(404, "Not Found", f"comment {one[3]} does not exist")
            if req.method == "PATCH":
                comment["body"] = self._check_comment_body(req.body)
                comment["updated_at"] = "2026-01-01T00:00:01Z"
            return 200, dict(comment), {}

    def _page(self, number: int, query: str) -> tuple[int, list, dict[str, str]]:
        """One page of the listing and GitHub's Link header (called with the lock held)."""
        params = dict(urllib.parse.parse_qsl(query))
        try:
            per_page, page = int(params.get("per_page", 30)), int(params.get("page", 1))
        except ValueError:
            self.violations.append(f"per_page/page not integers: {query!r}")
            per_page, page = 30, 1
        if per_page > 100:  # GitHub serves 100 and says nothing: a client asking for more gets less than it thinks
            self.violations.append(f"per_page={per_page}: GitHub serves at most 100")
            per_page = 100
        per_page, page = max(per_page, 1), max(page, 1)
        items = self.comments[number]
        last = max(1, -(-len(items) // per_page))
        base = f"{self.api_url}/repositories/{self.repository_id}/issues/{number}/comments?per_page={per_page}&page="
        links = [(page + 1, "next"), (last, "last")] if page < last else []
        links += [(1, "first"), (page - 1, "prev")] if page > 1 else []
        headers = {"Link": ", ".join(f'<{base}{p}>; rel="{rel}"' for p, rel in links)} if links else {}
        return 200, [dict(c) for c in items[(page - 1) * per_page:page * per_page]], headers

    @staticmethod
    def _check_comment_body(body: bytes) -> str:
        try:
            data = json.loads(body)
        except ValueError:
            raise _Refused(400, "Problems parsing JSON", "body: not JSON") from None
        if not isinstance(data, dict) or "body" not in data:
            raise _Refused(422, 'Invalid request.\n\n"body" wasn\'t supplied.', "body: no `body` key")
        text = data["body"]
        if not isinstance(text, str):
            raise _Refused(422, f"Invalid request.\n\nFor 'properties/body', {text!r} is not a string.",
                           "body: `body` is not a string")
        if len(text) > MAX_BODY:
            raise _Refused(422, "Validation Failed", f"body: {len(text)} characters, more than {MAX_BODY}",
                           extra={"errors": [{"resource": "IssueComment", "code": "custom", "field": "body",
                                              "message": "body is too long (maximum is 65536 characters)"}]})
        return text

    def _check(self, req: Received) -> tuple[str, dict | None]:
        match = _PATH.fullmatch(req.path)
        if not match:
            raise _Refused(404, "Not Found", f"{req.method} {req.path}: not the dispatches endpoint")
        if req.method != "POST":
            raise _Refused(404, "Not Found", f"{req.method} {req.path}: the method must be POST")
        self._check_auth(req.headers.get("authorization"))
        if f"{match[1]}/{match[2]}".lower() != self.repository.lower():
            raise _Refused(404, "Not Found", f"repository {match[1]}/{match[2]} is not {self.repository}")
        self._check_headers(req.headers)
        return self._check_body(req.body)

    def _check_auth(self, value: str | None, write: bool = True) -> None:
        if not value or not value.startswith("Bearer "):
            raise _Refused(401, "Requires authentication", "Authorization: missing or not `Bearer <token>`")
        token = value[len("Bearer "):]
        if token in self.read_only_tokens:
            if not write:
                return
            raise _Refused(403, "Resource not accessible by integration", "the token is read-only")
        if token != self.token:
            raise _Refused(401, "Bad credentials", "Authorization: not the expected token")

    @staticmethod
    def _check_headers(headers: dict[str, str], content_type: bool = True) -> None:
        if not headers.get("user-agent"):
            raise _Refused(403, "Request forbidden by administrative rules. Please make sure your request has a "
                           "User-Agent header", "User-Agent: missing")
        expected = {"accept": "application/vnd.github+json", "x-github-api-version": API_VERSION,
                    **({"content-type": "application/json"} if content_type else {})}
        for name, value in expected.items():
            if headers.get(name) != value:
                raise _Refused(400, f"Invalid header {name}: {headers.get(name)!r}",
                               f"{name}: {headers.get(name)!r}, expected {value!r}")

    @staticmethod
    def _check_body(body: bytes) -> tuple[str, dict | None]:
        try:
            data = json.loads(body)
        except ValueError:
            raise _Refused(400, "Problems parsing JSON", "body: not JSON") from None
        if not isinstance(data, dict):
            raise _Refused(422, "Invalid request.\n\nThe body is not an object.", "body: not a JSON object")
        extra = sorted(set(data) - {"event_type", "client_payload"})
        if extra:
            raise _Refused(422, f'Invalid request.\n\n"{extra[0]}" is not a permitted key.',
                           f"body: extra keys {extra}")
        event_type = data.get("event_type")
        if not isinstance(event_type, str) or not 1 <= len(event_type) <= 100:
            raise _Refused(422, "Invalid request.\n\nFor 'properties/event_type', the value must be a string of "
                           "1 to 100 characters.", f"body: event_type {event_type!r}")
        payload = data.get("client_payload")
        if "client_payload" in data and not isinstance(payload, dict):
            raise _Refused(422, f"Invalid request.\n\nFor 'properties/client_payload', {payload!r} is not an "
                           "object.", "body: client_payload is not an object")
        if payload is not None and len(payload) > 10:
            raise _Refused(422, f"Invalid request.\n\nNo more than 10 properties are allowed; {len(payload)} were "
                           "supplied.", f"body: client_payload has {len(payload)} top-level keys")
        if payload is not None and len(json.dumps(payload).encode()) >= 64 * 1024:
            raise _Refused(422, "client_payload is too large.", "body: client_payload is 64 KB or more")
        return event_type, payload


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer, extra = fake._handle(Received(self.command, self.path, headers, body))
            data = json.dumps(answer).encode() if answer is not None else b""
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            if status != 204:  # 204 No Content carries neither a body nor a Content-Length
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format, *args):  # quiet: the test asserts on what was recorded
            pass

    return Handler


@pytest.fixture
def fake_github():
    """A started :class:`FakeGitHub`, stopped after the test."""
    with FakeGitHub() as fake:
        yield fake

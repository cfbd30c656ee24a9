"""A local, strict stand-in for GitHub's "Create a repository dispatch event" endpoint.

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
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

__all__ = ["FakeGitHub", "Received", "fake_github"]

API_VERSION = "2022-11-28"
DOCS = "https://docs.github.com/rest/repos/repos#create-a-repository-dispatch-event"
_PATH = re.compile(r"/repos/([^/]+)/([^/]+)/dispatches")


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Refused(Exception):
    def __init__(self, status: int, message: str, violation: str):
        super().__init__(violation)
        self.status, self.message, self.violation = status, message, violation


class FakeGitHub:
    """The fake API on ``api_url`` (a free loopback port), for one repository and its tokens."""

    def __init__(self, repository: str = "octo-org/octo-repo", token: str = "ghs_fake0123456789abcdef",
                 read_only_tokens: tuple[str, ...] = ("ghs_readonly0123456789",)):
        self.repository, self.token, self.read_only_tokens = repository, token, read_only_tokens
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

    # -- the endpoint ----------------------------------------------------------------------------
    def _handle(self, received: Received) -> tuple[int, dict | None, str]:
        """Status, JSON answer (None for no body) and Location of one request."""
        with self._lock:
            self.requests.append(received)
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            status, location = failure
            return status, {"message": "Moved Permanently" if location else "Server Error"}, location
        try:
            event = self._check(received)
        except _Refused as refused:
            with self._lock:
                self.violations.append(refused.violation)
            return refused.status, {"message": refused.message, "documentation_url": DOCS,
                                    "status": str(refused.status)}, ""
        with self._lock:
            self.events.append(event)
        return 204, None, ""

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

    def _check_auth(self, value: str | None) -> None:
        if not value or not value.startswith("Bearer "):
            raise _Refused(401, "Requires authentication", "Authorization: missing or not `Bearer <token>`")
        token = value[len("Bearer "):]
        if token in self.read_only_tokens:
            raise _Refused(403, "Resource not accessible by integration", "token lacks contents: write")
        if token != self.token:
            raise _Refused(401, "Bad credentials", "Authorization: not the expected token")

    @staticmethod
    def _check_headers(headers: dict[str, str]) -> None:
        if not headers.get("user-agent"):
            raise _Refused(403, "Request forbidden by administrative rules. Please make sure your request has a "
                           "User-Agent header", "User-Agent: missing")
        expected = {"accept": "application/vnd.github+json", "x-github-api-version": API_VERSION,
                    "content-type": "application/json"}
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
            status, answer, location = fake._handle(Received(self.command, self.path, headers, body))
            data = json.dumps(answer).encode() if answer is not None else b""
            self.send_response(status)
            if location:
                self.send_header("Location", location)
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

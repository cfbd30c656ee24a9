"""The GitHub REST API adapter: one call, "Create a repository dispatch event".

It exists so the production gate can ask for a retrain: it fires a ``repository_dispatch`` event
carrying the evidence, and a workflow ``on: repository_dispatch: types: [aicd-retrain]`` picks it
up. HTTP goes through the one client of aicd's adapters (:mod:`aicd.http_client`: requests with
urllib3 retries, proxies and CA bundles from the environment).

The request is exactly the one GitHub documents (REST API version 2022-11-28,
https://docs.github.com/en/rest/repos/repos#create-a-repository-dispatch-event):
``POST {api_url}/repos/{owner}/{repo}/dispatches`` with ``Accept: application/vnd.github+json``,
``Authorization: Bearer <token>``, ``X-GitHub-Api-Version: 2022-11-28``, ``Content-Type:
application/json``, a ``User-Agent`` (GitHub rejects requests without one) and the body
``{"event_type": ..., "client_payload": {...}}``; success is ``204 No Content``. The limits are
GitHub's: ``event_type`` 1-100 characters, ``client_payload`` at most 10 top-level properties and
less than 64 KB of JSON. The token needs write access to the repository: ``permissions: contents:
write`` for the workflow's GITHUB_TOKEN, the "Contents" repository permission (write) for a
fine-grained token, the ``repo`` scope for a classic one.

The pure parts (:func:`validate`, :func:`build_request`, :func:`error_for_status`) take data in and
give data out; :func:`_post` is the only function that touches the network. The token never
appears in a message, a ``repr`` or an exception: every error is built here, scrubbed of it, and
raised without the HTTP library's cause.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import AicdError, ConfigError, ServiceError
from .http_client import RETRIED, TransportError, reason, session

__all__ = ["API_VERSION", "DispatchRequest", "build_request", "check_token", "dispatch", "error_for_status",
           "github_message", "scrubbed", "validate"]

API_VERSION = "2022-11-28"
USER_AGENT = "aicd"
MAX_EVENT_TYPE = 100
MAX_PAYLOAD_KEYS = 10
MAX_PAYLOAD_BYTES = 64 * 1024  # GitHub: "The total size of the JSON payload must be less than 64KB."
_REPOSITORY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?/[A-Za-z0-9._-]+")
_TOKEN = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces: anything else breaks the header
_PERMISSION_HINT = ("give the workflow's GITHUB_TOKEN `permissions: contents: write`, or use a fine-grained "
                    "token with the Contents repository permission (read and write) or a classic token with "
                    "the repo scope")


@dataclass(frozen=True)
class DispatchRequest:
    """A request ready to send. ``repr`` hides the Authorization header."""

    url: str
    headers: Mapping[str, str]
    body: bytes

    def __repr__(self) -> str:
        shown = {k: ("Bearer ***" if k.lower() == "authorization" else v) for k, v in self.headers.items()}
        return f"DispatchRequest(url={self.url!r}, headers={shown!r}, body={self.body!r})"


def service_name(api_url: str) -> str:
    """What every error names: ``GitHub API at <url>``."""
    return f"GitHub API at {api_url.rstrip('/')}"


def validate(api_url: str, repository: str, token: str, event_type: str, client_payload: object) -> bytes:
    """Check every argument against GitHub's documented limits; return the JSON body.

    Raises :class:`ConfigError` naming the argument (never quoting the token) when ``api_url`` is not
    http(s), ``repository`` is not ``owner/name``, ``token`` is empty or not a header-safe string,
    ``event_type`` is not 1-100 characters, or ``client_payload`` is not a JSON object with at most
    10 top-level keys and less than 64 KB.
    """
    if not api_url.startswith(("https://", "http://")):
        raise ConfigError(f"GitHub API URL {api_url!r} is not an http(s) URL",
                          hint="leave it empty to use GITHUB_API_URL, e.g. https://api.github.com")
    if not _REPOSITORY.fullmatch(repository or "") or repository.split("/")[1] in (".", ".."):
        raise ConfigError(f"input `repository`: {repository!r} is not owner/name",
                          hint="give the repository to dispatch to as owner/name, e.g. octo-org/octo-repo")
    check_token(token, "dispatching a GitHub event", _PERMISSION_HINT)
    if not isinstance(event_type, str) or not 1 <= len(event_type) <= MAX_EVENT_TYPE:
        raise ConfigError(f"input `retrain-event`: the event type must be 1 to {MAX_EVENT_TYPE} characters, "
                          f"got {len(event_type) if isinstance(event_type, str) else type(event_type).__name__}")
    return _payload_body(event_type, client_payload)


def check_token(token: str, needs: str, permission_hint: str) -> None:
    """ConfigError (never quoting the token) when input `github-token` is empty or not header-safe;
    ``needs`` says what wants it, ``permission_hint`` what the token must be allowed."""
    if not token:
        raise ConfigError(f"input `github-token` is empty: {needs} needs a token",
                          hint="pass `github-token: ${{ secrets.GITHUB_TOKEN }}` and " + permission_hint)
    if not _TOKEN.fullmatch(token):
        raise ConfigError("input `github-token` contains spaces, line breaks or non-ASCII characters",
                          hint="pass the token alone, without a `Bearer` prefix or a trailing newline")


def _payload_body(event_type: str, client_payload: object) -> bytes:
    if not isinstance(client_payload, Mapping):
        raise ConfigError(f"client_payload must be a JSON object, got {type(client_payload).__name__}")
    if len(client_payload) > MAX_PAYLOAD_KEYS:
        raise ConfigError(f"client_payload has {len(client_payload)} top-level keys; GitHub accepts at most "
                          f"{MAX_PAYLOAD_KEYS}", hint="nest the extra fields under one key")
    try:
        payload = json.dumps(dict(client_payload), separators=(",", ":"), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"client_payload is not JSON: {exc}") from None
    if len(payload.encode()) >= MAX_PAYLOAD_BYTES:
        raise ConfigError(f"client_payload is {len(payload.encode())} bytes of JSON; GitHub accepts less than "
                          f"{MAX_PAYLOAD_BYTES}", hint="send a summary and keep the full evidence in the report")
    return json.dumps({"event_type": event_type, "client_payload": dict(client_payload)},
                      separators=(",", ":"), sort_keys=True).encode()


def build_request(api_url: str, repository: str, token: str, event_type: str,
                  client_payload: Mapping[str, object]) -> DispatchRequest:
    """The validated request: URL, GitHub's documented headers and the JSON body."""
    body = validate(api_url, repository, token, event_type, client_payload)
    headers = {"Accept": "application/vnd.github+json", "Authorization": f"Bearer {token}",
               "X-GitHub-Api-Version": API_VERSION, "Content-Type": "application/json", "User-Agent": USER_AGENT}
    return DispatchRequest(f"{api_url.rstrip('/')}/repos/{repository}/dispatches", headers, body)


def error_for_status(status: int, body: bytes, api_url: str, repository: str,
                     location: str = "") -> AicdError | None:
    """What a response status means: None for 2xx (GitHub answers 204), else the error to raise.

    ``retryable`` is True for 5xx and rate limits; :func:`dispatch` retries only 5xx.
    """
    if 200 <= status < 300:
        return None
    where, said = service_name(api_url), github_message(body)
    suffix = f" (GitHub: {said})" if said else ""
    if status == 401:
        return ServiceError(where, f"the token was refused (HTTP 401): it is invalid or expired{suffix}",
                            retryable=False, hint="pass a current token in `github-token`")
    if status == 429 or (status == 403 and "rate limit" in said.lower()):
        return ServiceError(where, f"rate limit exceeded (HTTP {status}){suffix}", retryable=True,
                            hint="wait for the rate limit to reset, then re-run")
    if status == 403:
        return ServiceError(where, f"the token may not create a repository dispatch event on {repository} "
                            f"(HTTP 403){suffix}", retryable=False, hint=_PERMISSION_HINT)
    if status == 404:
        return ServiceError(where, f"repository {repository} not found, or the token cannot see it (HTTP 404)",
                            retryable=False, hint="check that `repository` is right and that the token can "
                            "access it: " + _PERMISSION_HINT)
    if status == 422:
        return ServiceError(where, f"GitHub rejected the dispatch event (HTTP 422): {said or 'validation failed'}",
                            retryable=False, hint="check `retrain-event` and the client payload")
    if 300 <= status < 400:
        return ServiceError(where, f"GitHub answered with a redirect (HTTP {status}) to {location or '?'}",
                            retryable=False, hint="the repository was probably renamed or transferred: use its "
                            "new owner/name")
    return ServiceError(where, f"HTTP {status}{suffix}", retryable=status >= 500,
                        hint="GitHub may be having trouble, see https://www.githubstatus.com; re-run later"
                        if status >= 500 else "")


def github_message(body: bytes) -> str:
    """GitHub's ``message`` (and 422 ``errors``) as one line; the raw text when it is not JSON."""
    try:
        data = json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        data = body.decode("utf-8", "replace")
    if isinstance(data, dict):
        parts = [str(data.get("message") or "")]
        for err in data.get("errors") or []:
            parts.append(str(err.get("message") or err.get("code") or err) if isinstance(err, dict) else str(err))
        data = "; ".join(p for p in parts if p)
    return " ".join(str(data).split())[:300]


def dispatch(api_url: str, repository: str, token: str, event_type: str, client_payload: dict, *,
             timeout: float = 10, attempts: int = 3, backoff: float = 1.0) -> None:
    """Create a ``repository_dispatch`` event ``event_type`` carrying ``client_payload`` on ``repository``.

    Contract:
    - Arguments are validated before anything is sent (:func:`validate`): a bad one is a
      :class:`ConfigError` and no request is made.
    - Returns None on 2xx (GitHub answers 204 No Content).
    - Connection errors, timeouts and HTTP 500/502/503/504 are tried ``attempts`` times in all, with
      urllib3's exponential backoff (:mod:`aicd.http_client`: none before the first retry, then
      ``backoff * 2``, ``backoff * 4`` ... seconds); then a :class:`ServiceError` with
      ``retryable=True``.
    - Any 4xx is raised at once, never retried, as a :class:`ServiceError` with ``retryable=False``
      (rate limits: ``retryable=True``): 401 invalid or expired token, 403 missing permission,
      404 repository not found or not visible to the token, 422 GitHub's validation message.
      Redirects are not followed (the token must not travel to another URL): a 3xx is an error too.
    - Every error names ``GitHub API at <api_url>`` and what to do; none contains the token, and
      none carries the HTTP library's exception underneath.
    """
    try:
        request = build_request(api_url, repository, token, event_type, client_payload)
    except AicdError as exc:
        raise scrubbed(exc, token) from None
    tries = max(1, attempts)
    try:
        status, body, location = _post(request, timeout, tries, backoff)
    except TransportError as exc:
        error: AicdError = ServiceError(service_name(api_url), f"unreachable ({reason(exc)})", retryable=True,
                                        hint="check the GitHub API URL and the runner's network, then re-run")
        status = 0
    else:
        error = error_for_status(status, body, api_url, repository, location)
        if error is None:
            return
    if tries > 1 and (status == 0 or status in RETRIED):
        error.message += f" (tried {tries} times)"
    raise scrubbed(error, token) from None


def scrubbed(error: AicdError, token: str) -> AicdError:
    """The same error with the token (should anything ever echo it) replaced by ``***``."""
    if token:
        error.message, error.hint = error.message.replace(token, "***"), error.hint.replace(token, "***")
    error.args = (error.message,)
    return error


def _post(request: DispatchRequest, timeout: float, attempts: int, backoff: float) -> tuple[int, bytes, str]:
    """The one network call: POST the request (retried as the contract says, never redirected);
    return status, body (first 64 KB) and Location."""
    with session(attempts, backoff) as client:
        answer = client.post(request.url, data=request.body, headers=dict(request.headers), timeout=timeout,
                             allow_redirects=False, stream=True)
        with answer:
            return answer.status_code, answer.raw.read(65536, decode_content=True), answer.headers.get("Location", "")

"""The dispatch client against a local fake of GitHub's endpoint that checks every request as GitHub documents it."""

import http.client
import json
import time
import traceback

import pytest

from aicd.errors import ServiceError
from aicd.github import dispatch
from tests.integration.conftest import free_port
from tests.integration.fake_github import FakeGitHub

EVIDENCE = {"decision": "retrain", "model": {"name": "coffee", "version": "3"},
            "drift": {"kl": {"hour": 0.14}, "threshold": 0.1}, "run": "https://github.com/o/r/actions/runs/1"}


def no_sleep(seconds):
    raise AssertionError("this case must not retry")


def assert_no_token(exc, token):
    text = "".join(traceback.format_exception(exc)) + repr(exc) + exc.hint
    assert token not in text


def test_success_is_recorded_with_the_exact_payload(fake_github):
    dispatch(fake_github.api_url, fake_github.repository, fake_github.token, "aicd-retrain", EVIDENCE)
    assert fake_github.violations == []
    assert fake_github.events == [("aicd-retrain", EVIDENCE)]
    (received,) = fake_github.requests
    assert received.method == "POST" and received.path == "/repos/octo-org/octo-repo/dispatches"
    assert received.headers["user-agent"] == "aicd"
    assert received.headers["authorization"] == f"Bearer {fake_github.token}"


def test_two_502_then_success(fake_github):
    fake_github.fail_next(2)
    started = time.monotonic()
    dispatch(fake_github.api_url, fake_github.repository, fake_github.token, "aicd-retrain", EVIDENCE, backoff=0.2)
    assert len(fake_github.requests) == 3 and time.monotonic() - started >= 0.4  # urllib3's backoff: 0, then 0.4 s
    assert fake_github.events == [("aicd-retrain", EVIDENCE)] and fake_github.violations == []


def test_502_every_time_gives_up_retryable(fake_github):
    fake_github.fail_next(5)
    with pytest.raises(ServiceError, match=r"HTTP 502 .*\(tried 3 times\)") as info:
        dispatch(fake_github.api_url, fake_github.repository, fake_github.token, "e", {}, backoff=0.05)
    assert info.value.retryable and len(fake_github.requests) == 3 and fake_github.events == []
    assert_no_token(info.value, fake_github.token)


@pytest.mark.parametrize("case", ["401", "403", "404"])
def test_refusals_are_clear_and_not_retried(fake_github, case):
    token, repository = fake_github.token, fake_github.repository
    if case == "401":
        token, needle = "ghs_expired0123456789", "invalid or expired"
    elif case == "403":
        token, needle = fake_github.read_only_tokens[0], "contents: write"
    else:
        repository, needle = "octo-org/elsewhere", "octo-org/elsewhere not found, or the token cannot see it"
    with pytest.raises(ServiceError) as info:
        dispatch(fake_github.api_url, repository, token, "aicd-retrain", EVIDENCE)
    assert f"HTTP {case}" in str(info.value) and needle in str(info.value)
    assert str(info.value).startswith(f"GitHub API at {fake_github.api_url}: ")
    assert not info.value.retryable
    assert len(fake_github.requests) == 1 and fake_github.events == [] and len(fake_github.violations) == 1
    assert_no_token(info.value, token)


def test_github_down_is_unreachable_after_retries():
    url, token = f"http://127.0.0.1:{free_port()}", "ghs_secret0123456789"
    with pytest.raises(ServiceError, match=r"unreachable .*[Cc]onnection refused.*\(tried 3 times\)") as info:
        dispatch(url, "octo-org/octo-repo", token, "e", {}, timeout=2, backoff=0.05)
    assert info.value.retryable
    assert_no_token(info.value, token)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed_so_the_token_stays_home(fake_github, status):
    with FakeGitHub() as elsewhere:
        target = f"{elsewhere.api_url}/repos/{elsewhere.repository}/dispatches"
        fake_github.fail_next(1, status, location=target)
        with pytest.raises(ServiceError, match=f"redirect \\(HTTP {status}\\) to {target}") as info:
            dispatch(fake_github.api_url, fake_github.repository, fake_github.token, "e", {})
        assert "renamed or transferred" in info.value.hint
        assert elsewhere.requests == [] and len(fake_github.requests) == 1


# -- the fake itself is strict: it refuses what GitHub refuses, and says so -----------------------

def raw(fake, *, body=None, headers=None, path=None, method="POST"):
    """Send a request by hand (http.client adds no headers of its own); return status and message."""
    base = {"Accept": "application/vnd.github+json", "Authorization": f"Bearer {fake.token}",
            "X-GitHub-Api-Version": "2022-11-28", "Content-Type": "application/json", "User-Agent": "test"}
    data = body if isinstance(body, bytes) else json.dumps(body or {"event_type": "e"}).encode()
    conn = http.client.HTTPConnection(fake.api_url.removeprefix("http://"), timeout=5)
    try:
        conn.request(method, path or f"/repos/{fake.repository}/dispatches", body=data,
                     headers={k: v for k, v in {**base, **(headers or {})}.items() if v is not None})
        resp = conn.getresponse()
        answer = resp.read()
    finally:
        conn.close()
    return resp.status, json.loads(answer)["message"] if answer else answer


@pytest.mark.parametrize("kwargs, status, message", [
    ({"headers": {"User-Agent": None}}, 403, "User-Agent"),
    ({"headers": {"X-GitHub-Api-Version": "2021-01-01"}}, 400, "x-github-api-version"),
    ({"headers": {"Accept": "application/json"}}, 400, "accept"),
    ({"headers": {"Content-Type": "text/plain"}}, 400, "content-type"),
    ({"headers": {"Authorization": None}}, 401, "Requires authentication"),
    ({"headers": {"Authorization": "token ghs_fake0123456789abcdef"}}, 401, "Requires authentication"),
    ({"path": "/repos/OCTO-ORG/octo-repo/dispatch"}, 404, "Not Found"),
    ({"method": "PUT"}, 404, "Not Found"),
    ({"body": b"{not json"}, 400, "Problems parsing JSON"),
    ({"body": ["e"]}, 422, "not an object"),
    ({"body": {"event_type": "e", "ref": "main"}}, 422, '"ref" is not a permitted key'),
    ({"body": {"event_type": ""}}, 422, "1 to 100 characters"),
    ({"body": {"event_type": "x" * 101}}, 422, "1 to 100 characters"),
    ({"body": {"event_type": "e", "client_payload": "x"}}, 422, "is not an object"),
    ({"body": {"event_type": "e", "client_payload": {str(i): i for i in range(11)}}}, 422,
     "No more than 10 properties are allowed; 11 were supplied"),
])
def test_the_fake_refuses_like_github_and_records_it(fake_github, kwargs, status, message):
    code, said = raw(fake_github, **kwargs)
    assert code == status and message in said
    assert len(fake_github.violations) == 1 and fake_github.events == []


def test_the_fake_accepts_the_documented_request_and_matches_the_repository_case_insensitively(fake_github):
    code, body = raw(fake_github, path="/repos/Octo-Org/Octo-Repo/dispatches",
                     body={"event_type": "e", "client_payload": {str(i): i for i in range(10)}})
    assert (code, body) == (204, b"")
    assert fake_github.violations == [] and fake_github.events == [("e", {str(i): i for i in range(10)})]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 429])
def test_a_4xx_is_never_retried(fake_github, status):
    fake_github.fail_next(1, status)
    with pytest.raises(ServiceError, match=f"HTTP {status}"):
        dispatch(fake_github.api_url, fake_github.repository, fake_github.token, "e", {}, backoff=0.05)
    assert len(fake_github.requests) == 1 and fake_github.events == []


def test_a_proxy_from_the_environment_is_used(fake_github, monkeypatch):
    """HTTP_PROXY is honoured as users of requests expect: here the proxy is the fake itself, which then
    sees the absolute URL a proxy is sent."""
    monkeypatch.setenv("HTTP_PROXY", fake_github.api_url)
    monkeypatch.setenv("NO_PROXY", "")
    with pytest.raises(ServiceError):  # the fake refuses the absolute-URL path it was sent as a proxy
        dispatch("http://github.invalid", fake_github.repository, fake_github.token, "e", {}, backoff=0.05)
    assert fake_github.requests and fake_github.requests[0].path.startswith("http://github.invalid/repos/")

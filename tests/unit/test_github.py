"""The GitHub dispatch client's pure parts: the request, validation, status mapping, retries, no token leaks."""

import json
import traceback

import pytest

from aicd import github, github_comments
from aicd.errors import ConfigError, ServiceError
from aicd.github import build_request, dispatch, error_for_status, validate

API = "https://api.github.com"
REPO = "octo-org/octo-repo"
TOKEN = "ghp_SECRETtoken0123456789"


def leaked(exc: BaseException) -> bool:
    text = "".join(traceback.format_exception(exc)) + repr(exc) + str(getattr(exc, "hint", ""))
    return TOKEN in text


def test_public_surface_is_pinned():
    assert github.__all__ == ["API_VERSION", "DispatchRequest", "build_request", "check_token", "dispatch",
                              "error_for_status", "github_message", "scrubbed", "validate"]
    assert github_comments.__all__ == ["MAX_BODY", "Comment", "IssueComments"]


def test_the_request_is_the_documented_one():
    req = build_request(API + "/", REPO, TOKEN, "aicd-retrain", {"drift": 0.12, "model": {"name": "m"}})
    assert req.url == "https://api.github.com/repos/octo-org/octo-repo/dispatches"
    assert req.headers == {"Accept": "application/vnd.github+json", "Authorization": f"Bearer {TOKEN}",
                           "X-GitHub-Api-Version": "2022-11-28", "Content-Type": "application/json",
                           "User-Agent": "aicd"}
    assert json.loads(req.body) == {"event_type": "aicd-retrain",
                                    "client_payload": {"drift": 0.12, "model": {"name": "m"}}}


def test_enterprise_server_api_url_keeps_its_path():
    req = build_request("https://ghe.example.com/api/v3", REPO, TOKEN, "e", {})
    assert req.url == "https://ghe.example.com/api/v3/repos/octo-org/octo-repo/dispatches"


def test_repr_of_a_request_hides_the_token():
    req = build_request(API, REPO, TOKEN, "e", {})
    assert TOKEN not in repr(req)
    assert "Bearer ***" in repr(req)


@pytest.mark.parametrize("repository", ["", "octo-org", "a/b/c", "/repo", "owner/", "owner/..", "-owner/r",
                                        "own er/r", "owner/r?x=1", "owner/r#f"])
def test_repository_must_be_owner_slash_name(repository):
    with pytest.raises(ConfigError, match=r"`repository`.*owner/name"):
        validate(API, repository, TOKEN, "e", {})


@pytest.mark.parametrize("repository", ["octo-org/octo-repo", "a/b", "Octo9/repo.name_x-y", "o/.github"])
def test_valid_repositories(repository):
    validate(API, repository, TOKEN, "e", {})


@pytest.mark.parametrize("event_type", ["", "x" * 101, None])
def test_event_type_is_1_to_100_characters(event_type):
    with pytest.raises(ConfigError, match="1 to 100 characters"):
        validate(API, REPO, TOKEN, event_type, {})


def test_event_type_of_100_characters_is_fine():
    validate(API, REPO, TOKEN, "x" * 100, {})


def test_client_payload_has_at_most_ten_top_level_keys():
    validate(API, REPO, TOKEN, "e", {f"k{i}": {"nested": list(range(20))} for i in range(10)})
    with pytest.raises(ConfigError, match="11 top-level keys; GitHub accepts at most 10"):
        validate(API, REPO, TOKEN, "e", {f"k{i}": i for i in range(11)})


@pytest.mark.parametrize("payload, needle", [([1, 2], "must be a JSON object"), ({"x": {1, 2}}, "not JSON"),
                                             ({"x": float("nan")}, "not JSON"),
                                             ({"x": "y" * 70000}, "bytes of JSON; GitHub accepts less than 65536")])
def test_client_payload_must_be_a_small_json_object(payload, needle):
    with pytest.raises(ConfigError, match=needle):
        validate(API, REPO, TOKEN, "e", payload)


def test_api_url_must_be_http():
    with pytest.raises(ConfigError, match="not an http"):
        validate("api.github.com", REPO, TOKEN, "e", {})


def test_an_empty_token_says_what_to_pass():
    with pytest.raises(ConfigError, match="`github-token` is empty") as info:
        validate(API, REPO, "", "e", {})
    assert "contents: write" in info.value.hint


@pytest.mark.parametrize("token", [TOKEN + "\n", "Bearer " + TOKEN, TOKEN + "\r\nX-Evil: 1", TOKEN + "é"])
def test_a_token_that_would_break_the_header_is_refused_without_quoting_it(token):
    with pytest.raises(ConfigError, match="`github-token` contains") as info:
        dispatch(API, REPO, token, "e", {})
    assert not leaked(info.value)


def test_a_token_given_as_repository_by_mistake_is_not_echoed():
    with pytest.raises(ConfigError) as info:
        dispatch(API, TOKEN, TOKEN, "e", {})
    assert not leaked(info.value)
    assert "***" in str(info.value)


# -- statuses ------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [200, 201, 204])
def test_2xx_is_success(status):
    assert error_for_status(status, b"", API, REPO) is None


@pytest.mark.parametrize("status, body, needles, retryable", [
    (401, b'{"message":"Bad credentials"}', ["HTTP 401", "invalid or expired", "Bad credentials"], False),
    (403, b'{"message":"Resource not accessible by integration"}',
     ["HTTP 403", "may not create a repository dispatch event on octo-org/octo-repo"], False),
    (404, b'{"message":"Not Found"}', ["octo-org/octo-repo not found, or the token cannot see it"], False),
    (422, b'{"message":"Invalid request.\\n\\nNo more than 10 properties are allowed; 11 were supplied."}',
     ["HTTP 422", "Invalid request. No more than 10 properties are allowed; 11 were supplied."], False),
    (422, b'{"message":"Validation Failed","errors":[{"resource":"Dispatch","code":"invalid","field":"event_type"},'
          b'{"message":"event_type is too long"}]}', ["Validation Failed; invalid; event_type is too long"], False),
    (403, b'{"message":"API rate limit exceeded for installation ID 1."}', ["rate limit exceeded (HTTP 403)"], True),
    (429, b'{"message":"You have exceeded a secondary rate limit."}', ["rate limit exceeded (HTTP 429)"], True),
    (400, b'{"message":"Problems parsing JSON"}', ["HTTP 400", "Problems parsing JSON"], False),
    (500, b"", ["HTTP 500"], True),
    (502, b"<html><body>Bad gateway\n</body></html>", ["HTTP 502", "<html><body>Bad gateway </body></html>"], True),
])
def test_each_status_maps_to_a_clear_service_error(status, body, needles, retryable):
    error = error_for_status(status, body, API + "/", REPO)
    assert isinstance(error, ServiceError)
    assert error.retryable is retryable
    assert str(error).startswith("GitHub API at https://api.github.com: ")
    assert "\n" not in str(error)
    for needle in needles:
        assert needle in str(error)


def test_403_says_which_permission_is_missing():
    hint = error_for_status(403, b"{}", API, REPO).hint
    assert "contents: write" in hint and "Contents repository permission" in hint and "repo scope" in hint


def test_a_redirect_names_where_it_pointed():
    error = error_for_status(307, b"", API, REPO, "https://api.github.com/repositories/1/dispatches")
    assert "redirect (HTTP 307) to https://api.github.com/repositories/1/dispatches" in str(error)
    assert "renamed or transferred" in error.hint


# -- one exchange (the network call, retries included, replaced by a script; real retries are tested
# against the fake GitHub in tests/integration/test_github_dispatch.py) ---------------------------

def scripted(monkeypatch, answer):
    """Replace the one network exchange by ``answer`` (a status, (status, body), or an exception)."""
    calls = []

    def post(request, timeout, attempts, backoff):
        calls.append((request, timeout, attempts, backoff))
        if isinstance(answer, BaseException):
            raise answer
        status, body = answer if isinstance(answer, tuple) else (answer, b"")
        return status, body, ""

    monkeypatch.setattr(github, "_post", post)
    return calls


def test_the_exchange_gets_the_timeout_attempts_and_backoff(monkeypatch):
    calls = scripted(monkeypatch, 204)
    dispatch(API, REPO, TOKEN, "e", {"a": 1}, timeout=7, attempts=4, backoff=0.25)
    assert [c[1:] for c in calls] == [(7, 4, 0.25)]


def test_a_5xx_after_the_retries_says_how_often_it_was_tried(monkeypatch):
    scripted(monkeypatch, 504)
    with pytest.raises(ServiceError, match=r"HTTP 504 \(tried 3 times\)") as info:
        dispatch(API, REPO, TOKEN, "e", {})
    assert info.value.retryable


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 429])
def test_a_4xx_says_nothing_of_retries(monkeypatch, status):
    scripted(monkeypatch, status)
    with pytest.raises(ServiceError, match=f"HTTP {status}") as info:
        dispatch(API, REPO, TOKEN, "e", {})
    assert "tried" not in str(info.value)


def test_no_answer_is_unreachable_without_the_librarys_exception(monkeypatch):
    import requests

    scripted(monkeypatch, requests.exceptions.ConnectionError(OSError("Network is unreachable")))
    with pytest.raises(ServiceError, match=r"unreachable \(Network is unreachable\) \(tried 3 times\)") as info:
        dispatch(API, REPO, TOKEN, "e", {})
    assert info.value.retryable and info.value.__cause__ is None and info.value.__suppress_context__


def test_one_attempt_means_no_retry(monkeypatch):
    calls = scripted(monkeypatch, 502)
    with pytest.raises(ServiceError) as info:
        dispatch(API, REPO, TOKEN, "e", {}, attempts=1)
    assert info.value.message.endswith("HTTP 502") and calls[0][2] == 1


def test_invalid_arguments_send_nothing(monkeypatch):
    calls = scripted(monkeypatch, 204)
    with pytest.raises(ConfigError):
        dispatch(API, REPO, TOKEN, "e", {f"k{i}": i for i in range(11)})
    assert calls == []


@pytest.mark.parametrize("status", [401, 403, 404, 422, 500])
def test_the_token_never_appears_even_if_github_echoes_it(monkeypatch, status):
    body = json.dumps({"message": f"token {TOKEN} refused", "errors": [{"message": TOKEN}]}).encode()
    scripted(monkeypatch, (status, body))
    with pytest.raises(ServiceError) as info:
        dispatch(API, REPO, TOKEN, "e", {})
    assert not leaked(info.value)

"""The sticky pull-request comment, written by the stages through the CLI against the strict fake of
GitHub's issue-comment endpoints: created once, updated in place, one section per stage, and never a
change of the step's exit status."""

from __future__ import annotations

import http.client
import io
import json

import pytest

from aicd import cli
from aicd.gha import Actions
from aicd.steps.prcomment.render import MARKER
from tests.integration.conftest import free_port

PR = 7
HEAD = "0123456789abcdef0123456789abcdef01234567"


def pr_env(fake, tmp_path, event="pull_request", run_id="4711", api_url=None):
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps({"number": PR, "pull_request": {"number": PR, "head": {"sha": HEAD}}}))
    return {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": event, "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_REPOSITORY": fake.repository, "GITHUB_API_URL": api_url or fake.api_url,
            "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": run_id,
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "GITHUB_OUTPUT": str(tmp_path / "output")}


def aicd(argv, env):
    """One stage through the CLI, as the action runs it; (exit status, log)."""
    stream = io.StringIO()
    status = cli.run(argv, env, Actions(env, stream))
    return status, stream.getvalue()


def validate(coffee, tmp_path, token, *extra):
    return ["validate", "--data", str(coffee["data"]), "--config", str(coffee["config"]),
            "--reference", str(coffee["reference"]), "--report", str(tmp_path / "reports" / "validate.json"),
            "--pr-comment", "true", "--github-token", token, *extra]


def assert_masked_only(log, token):
    """The token appears in the log only where it is masked (the runner hides it everywhere after)."""
    assert [line for line in log.splitlines() if token in line] == [f"::add-mask::{token}"]


def ours(fake):
    return [c for c in fake.comments[PR] if c["user"]["type"] == "Bot"]


def test_first_run_creates_the_comment_and_the_next_updates_it_on_page_two(fake_github, coffee, tmp_path):
    for i in range(120):  # others' comments; one forges the marker and must be left alone
        fake_github.add_comment(PR, f"{MARKER}\nforged by a stranger" if i == 3 else f"comment {i}")
    env = pr_env(fake_github, tmp_path)
    status, log = aicd(validate(coffee, tmp_path, fake_github.token), env)
    assert status == 0, log
    (comment,) = ours(fake_github)
    assert comment["body"].startswith(MARKER) and "Data gate — passed" in comment["body"]
    assert "<!-- aicd:section validate run=4711 -->" in comment["body"] and HEAD[:12] in comment["body"]
    assert [r.method for r in fake_github.requests] == ["GET", "GET", "POST"]
    for i in range(30):  # the comment is now number 121 of 151: on the second page
        fake_github.add_comment(PR, f"later {i}")
    status, log = aicd(validate(coffee, tmp_path, fake_github.token), env)
    assert status == 0, log
    assert [c["id"] for c in ours(fake_github)] == [comment["id"]]  # the same comment, updated
    methods = [(r.method, r.path.split("?")[0].split("/")[1]) for r in fake_github.requests[3:]]
    assert methods == [("GET", "repos"), ("GET", "repositories"), ("PATCH", "repos")]  # page 2 via GitHub's Link
    assert "forged by a stranger" in fake_github.comments[PR][3]["body"]
    assert fake_github.violations == []
    assert_masked_only(log, fake_github.token)


def test_the_stages_fill_sections_of_one_comment(fake_github, coffee, tmp_path):
    env = pr_env(fake_github, tmp_path)
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert aicd(validate(coffee, tmp_path, fake_github.token), env)[0] == 0
    status, log = aicd(["train", "--data", str(coffee["data"]), "--config", str(coffee["config"]),
                        "--tracking-uri", tracking, "--pr-comment", "true", "--github-token", fake_github.token,
                        "--mlflow-ui-url", "https://mlflow.example.com"], env)
    assert status == 0, log[-3000:]
    status, log = aicd(["monitor", "--endpoint", f"http://127.0.0.1:{free_port()}", "--config", str(coffee["config"]),
                        "--report", str(tmp_path / "reports" / "monitor.json"), "--pr-comment", "true",
                        "--github-token", fake_github.token], env)
    assert status == 1, log  # production cannot be read: the gate fails, and says so in its section
    (comment,) = ours(fake_github)
    body = comment["body"]
    order = [body.index(f"<!-- aicd:section {key} run=4711 -->") for key in ("validate", "train", "monitor")]
    assert order == sorted(order)
    assert "Model gate — passed" in body and "Confusion matrix" in body and "accuracy" in body
    assert "(<https://mlflow.example.com/#/models/coffee-recommender/versions/1>)" in body
    assert "https://mlflow.example.com/#/runs/" in body
    assert "Production gate — could not read production" in body
    assert fake_github.violations == []


def test_a_new_run_drops_the_sections_of_the_last_one(fake_github, coffee, tmp_path):
    assert aicd(validate(coffee, tmp_path, fake_github.token), pr_env(fake_github, tmp_path, run_id="1"))[0] == 0
    status, log = aicd(validate(coffee, tmp_path, fake_github.token, "--data", str(tmp_path / "missing.csv")),
                       pr_env(fake_github, tmp_path, run_id="2"))
    assert status == 1, log
    (comment,) = ours(fake_github)
    assert "run=1" not in comment["body"] and "Data gate — refused" in comment["body"]
    assert fake_github.violations == []


@pytest.mark.parametrize("data, expected", [("good", 0), ("missing", 1)])
def test_a_read_only_token_gives_a_notice_and_leaves_the_exit_status_alone(fake_github, coffee, tmp_path, data,
                                                                           expected):
    token = fake_github.read_only_tokens[0]
    extra = ("--data", str(tmp_path / "missing.csv")) if data == "missing" else ()
    status, log = aicd(validate(coffee, tmp_path, token, *extra), pr_env(fake_github, tmp_path))
    assert status == expected
    assert "::notice title=aicd PR comment::no pull-request comment: the token may read but not write" in log
    assert "::warning" not in log.replace("::warning title=aicd data drift", "")
    assert ours(fake_github) == [] and fake_github.violations == ["the token is read-only"]  # the one refused POST
    assert_masked_only(log, token)


def test_github_unreachable_is_one_warning_and_the_step_passes(fake_github, coffee, tmp_path):
    env = pr_env(fake_github, tmp_path, api_url=f"http://127.0.0.1:{free_port()}")
    status, log = aicd(validate(coffee, tmp_path, fake_github.token), env)
    assert status == 0
    (warning,) = [line for line in log.splitlines() if line.startswith("::warning title=aicd PR comment")]
    assert "unreachable" in warning
    assert_masked_only(log, fake_github.token)


def test_not_a_pull_request_sends_nothing(fake_github, coffee, tmp_path):
    status, log = aicd(validate(coffee, tmp_path, fake_github.token), pr_env(fake_github, tmp_path, event="push"))
    assert status == 0 and fake_github.requests == [] and "PR comment" not in log


def test_pr_comment_without_a_token_is_refused_before_anything_runs(fake_github, coffee, tmp_path):
    status, log = aicd(validate(coffee, tmp_path, ""), pr_env(fake_github, tmp_path))
    assert status == 1 and fake_github.requests == []
    (error,) = [line for line in log.splitlines() if line.startswith("::error")]
    assert "input `github-token` is empty: pr-comment: true needs a token" in error
    assert "pull-requests: write" in error
    assert not (tmp_path / "reports" / "validate.json").exists()


# -- the fake refuses what GitHub refuses ---------------------------------------------------------

def raw(fake, method, path, body=None, token=None):
    headers = {"Accept": "application/vnd.github+json", "Authorization": f"Bearer {token or fake.token}",
               "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "test", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection(fake.api_url.removeprefix("http://"), timeout=5)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body).encode(), headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null"), resp.getheader("Link") or ""
    finally:
        conn.close()


@pytest.mark.parametrize("method, path, body, status, message", [
    ("POST", f"/repos/octo-org/octo-repo/issues/{PR}/comments", {}, 422, "\"body\" wasn't supplied"),
    ("POST", f"/repos/octo-org/octo-repo/issues/{PR}/comments", {"body": 5}, 422, "is not a string"),
    ("POST", f"/repos/octo-org/octo-repo/issues/{PR}/comments", {"body": "x" * 65_537}, 422, "Validation Failed"),
    ("POST", "/repos/octo-org/octo-repo/issues/8/comments", {"body": "x"}, 404, "Not Found"),
    ("PATCH", "/repos/octo-org/octo-repo/issues/comments/1", {"body": "x"}, 404, "Not Found"),
    ("DELETE", f"/repos/octo-org/octo-repo/issues/{PR}/comments", None, 404, "Not Found"),
    ("GET", f"/repos/octo-org/elsewhere/issues/{PR}/comments", None, 404, "Not Found"),
])
def test_the_fake_refuses_comment_requests_like_github(fake_github, method, path, body, status, message):
    code, answer, _ = raw(fake_github, method, path, body)
    assert code == status and message in answer["message"] and len(fake_github.violations) == 1


def test_the_fake_pages_like_github_and_caps_per_page(fake_github):
    for i in range(250):
        fake_github.add_comment(PR, f"c{i}")
    code, page, link = raw(fake_github, "GET", f"/repos/octo-org/octo-repo/issues/{PR}/comments?per_page=100&page=2")
    assert code == 200 and [c["body"] for c in page][:1] == ["c100"] and len(page) == 100
    assert 'page=3>; rel="next"' in link and 'rel="last"' in link and 'rel="prev"' in link
    assert fake_github.violations == []
    code, page, _ = raw(fake_github, "GET", f"/repos/octo-org/octo-repo/issues/{PR}/comments?per_page=500")
    assert len(page) == 100 and fake_github.violations == ["per_page=500: GitHub serves at most 100"]
    body = "x" * 65_536  # exactly the limit is accepted
    code, created, _ = raw(fake_github, "POST", f"/repos/octo-org/octo-repo/issues/{PR}/comments", {"body": body})
    assert code == 201 and created["user"]["type"] == "Bot" and created["body"] == body

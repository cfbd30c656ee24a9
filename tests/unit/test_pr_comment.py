"""The pull-request comment's text: each stage's section, inert hostile names, the merge of sections
into one comment, and truncation within GitHub's 65,536 characters."""

from __future__ import annotations

import io
import json
import re
from types import SimpleNamespace

import pytest

from aicd.data.checks import Check
from aicd.data.drift import ColumnDrift
from aicd.deploy.image import BuiltImage
from aicd.deploy.target import Release, Result
from aicd.errors import ConfigError, DataError, GateFailed
from aicd.gha import Actions
from aicd.github_comments import MAX_BODY, Comment
from aicd.monitor.decide import Check as MonitorCheck
from aicd.monitor.decide import Decision, Evaluation
from aicd.monitor.metrics import Snapshot
from aicd.steps.deploy.summary import comment_release
from aicd.steps.monitor.summary import comment_section as monitor_section
from aicd.steps.prcomment import failure_section, is_ours, target_of
from aicd.steps.prcomment.render import MARKER, Links, Run, Section, compose, fit, parse, text, truncate
from aicd.steps.validate import comment_section as validate_section

HOSTILE = ["@admin", "<img src=x onerror=alert(1)>", "a|b", "](javascript:alert(1))", "x\n| forged | row |",
           "<!-- aicd:end validate -->", "#1", "https://evil.example/x", "&#64;admin", "$x^2$", "~~gone~~",
           "`code` *bold* _it_ [link](http://e.com)", "www.evil.example", "me@evil.example", ":smile:"]
LINKS = Links("https://github.com/o/r/actions/runs/9", "https://mlflow.example.com")
RUN = Run("9", "https://github.com/o/r/actions/runs/9", "0123456789abcdef")


def rendered_is_inert(markdown: str) -> None:
    """What GitHub would turn into markup, a ping or a link is absent from ``markdown`` outside aicd's own
    links and code spans."""
    prose = re.sub(r"`[^`]*`", "", markdown)  # code spans render literally
    prose = re.sub(r"\]\(<https://(github\.com/o/r/actions/runs/9|mlflow\.example\.com/[^>]*)>\)", "]", prose)
    assert not re.search(r"(?<![\\\w])@[A-Za-z0-9]", prose), prose  # a mention: @ followed by a name
    assert not re.search(r"(?<!\\)<[A-Za-z!/]", prose), prose  # an HTML tag or comment
    assert not re.search(r"(?<!\\)\[[^\]]*(?<!\\)\]\(", prose), prose  # a Markdown link
    # autolinks, issue references, entities, emoji codes
    assert not re.search(r"https?://|www\.|#\d|(?<!\\)&#|:smile:", prose), prose
    assert not re.search(r"(?<!\\)[$~]", prose), prose  # math, strike-through


def table_rows_have_columns(markdown: str, columns: int) -> None:
    """Every table row splits into ``columns`` cells on unescaped pipes: no name breaks out of a cell."""
    for line in (ln for ln in markdown.splitlines() if ln.startswith("|")):
        cells = re.split(r"(?<!\\)\|", line.replace("\\\\", ""))[1:-1]
        assert len(cells) == columns, line


@pytest.mark.parametrize("name", HOSTILE)
def test_text_is_inert_whatever_it_holds(name):
    shown = text(name)
    rendered_is_inert(shown)
    assert "\n" not in shown
    assert shown.replace("\u2060", "").replace("\\", "") == name.replace("\n", " ").replace("\\", "")


def data_section(html=""):
    checks = [Check("not_null", name, False, 0.2, 0.05, f"`{name}` has 20 % missing") for name in HOSTILE]
    checks.append(Check("rows", None, True, 3000, 100, "enough rows"))
    drift = [ColumnDrift(name, "numeric", "psi", 0.1 + i / 10, 0.2, 0.1 + i / 10 > 0.2, 100, 100, [], [], [])
             for i, name in enumerate(HOSTILE)]
    body = {"passed": False, "data": "data/<b>x</b>.csv", "rows": 3000, "columns": 9, "data_version": "abcd",
            "reference": "ref|@x.csv", "dataset_drifted": True, "drifted_weight": 0.8, "dataset_drift_share": 0.2,
            "weights": "importance", "label_drift": None, "prediction_drift": "not measured by the data gate"}
    return validate_section(body, checks, drift, LINKS, html)


def test_the_data_gate_section_shows_failed_checks_and_the_most_drifted_columns_inertly():
    section = data_section("aicd-reports/validate.html")
    assert section.key == "validate"
    assert "#### ❌ Data gate — failed" in section.body and "1 of 16 checks passed" in section.body
    assert "… and 5 more failed checks in the job summary." in section.body
    assert "13 of 15 columns drifted (dataset drifted)" in section.body
    assert "- **Dataset:** drifted — the drifted columns carry 80.0% of the features' importance" in section.body
    assert "- **Label:** not compared" in section.body and "- **Prediction:** not measured" in section.body
    # the five most drifted first, by statistic over threshold
    drifted_rows = [ln for ln in section.body.splitlines() if "| psi |" in ln]
    assert [row.split(" | ")[2] for row in drifted_rows] == ["1.5", "1.4", "1.3", "1.2", "1.1"]
    assert "](<https://github.com/o/r/actions/runs/9>)" in section.body
    assert "`aicd-reports/validate.html`" in section.body
    rendered_is_inert(section.body)
    table_rows_have_columns(section.body.split("Drift against")[0], 5)


def model_version_links_are_encoded():
    return Links(mlflow_ui="https://m.example.com/a)b").model_version("x y/z", "3")


def test_mlflow_links_encode_names_and_cannot_end_early():
    link = model_version_links_are_encoded()
    assert link == "[`x y/z` version `3`](<https://m.example.com/a%29b/#/models/x%20y%2Fz/versions/3>)"
    assert Links().model_version("m", "3") == "`m` version `3`" and Links().mlflow_run("abc") == "run `abc`"
    assert LINKS.mlflow_run("0" * 32) == f"[run `{'0' * 12}`](<https://mlflow.example.com/#/runs/{'0' * 32}>)"


def test_the_release_section_shows_image_digest_endpoint_and_strategy():
    release = Release(4, "models:/coffee/3", "3", "r1", "reg/coffee:3-abc", "abc")
    result = Result("http://127.0.0.1:8080", release, state="canary: revision 4 at 10 % <b>")
    image = BuiltImage("reg/coffee:3-abc", "id", "sha256:" + "f" * 64)
    body = comment_release("deploy", SimpleNamespace(kind="kubernetes"), result, image, "canary", LINKS).body
    assert body.startswith("#### 🚀 Release — deployed (kubernetes)")
    assert "Endpoint `http://127.0.0.1:8080` · revision 4 · [`coffee` version `3`]" in body
    assert "strategy `canary`" in body and "sha256:" + "f" * 64 in body and "canary: revision 4 at 10 % \\<b\\>" in body
    failed = comment_release("deploy", SimpleNamespace(kind="docker"), result, None, "", LINKS, failed="boom @x")
    assert "failed, rolled back (docker)" in failed.body and "**Failed:** boom @\u2060x" in failed.body
    assert "not pushed" in failed.body


def test_the_production_gate_section_shows_the_decision_checks_and_drift():
    checks = [MonitorCheck("online-accuracy", "absolute", "fail", candidate=0.8, interval=(0.75, 0.84),
                           threshold=">= 0.85", samples=400, note="below @team")]
    drift = [MonitorCheck(f"drift:{name}", "kl", "drift", candidate=0.3, threshold="0.1") for name in HOSTILE[:3]]
    decision = Decision("rollback", "online accuracy below <i>0.85</i>", Evaluation(checks, drift))
    snap = Snapshot(requests=500)
    snap.model = {"name": "coffee", "version": "3"}
    body = monitor_section(decision, "none", {"served": snap}, {"rolled_back": "rolled back revision 4 → 3"}, None,
                           LINKS).body
    assert body.startswith("#### ⏪ Production gate — rollback, carried out")
    assert "[`coffee` version `3`](<https://mlflow.example.com/#/models/coffee/versions/3>)" in body
    row = ("| online-accuracy | absolute | 0.8000 |  | \\[0.7500, 0.8400\\] | \\>= 0.85 | 400 | "
           "❌ fail — below @\u2060team |")
    assert row in body
    assert "Rolled back: rolled back revision 4 → 3" in body
    rendered_is_inert(body)
    tables = [block for block in body.split("\n\n") if block.startswith("|")]
    assert len(tables) == 2
    table_rows_have_columns(tables[0], 8)
    table_rows_have_columns(tables[1], 4)


def test_compose_keeps_other_stages_replaces_its_own_and_orders_by_stage():
    first = compose(None, [Section("monitor", "M1")], RUN, MAX_BODY)
    second = compose(first, [Section("validate", "V1")], RUN, MAX_BODY)
    third = compose(second, [Section("monitor", "M2"), Section("train.acme", "T-acme")], RUN, MAX_BODY)
    assert third.startswith(MARKER + "\n### aicd · commit `0123456789ab` · [run 9](")
    assert {k: v[1] for k, v in parse(third).items()} == {"validate": "V1", "train.acme": "T-acme", "monitor": "M2"}
    assert third.index("V1") < third.index("T-acme") < third.index("M2")
    other_run = compose(third, [Section("validate", "V2")], Run("10"), MAX_BODY)
    assert list(parse(other_run)) == ["validate"]  # one run's story: the last run's sections are gone


def test_a_name_holding_a_marker_cannot_end_a_section():
    section = data_section()
    body = compose(None, [section], RUN, MAX_BODY)
    assert parse(body)["validate"][1] == section.body
    again = compose(body, [Section("train", "T")], RUN, MAX_BODY)
    assert parse(again)["validate"][1] == section.body


def test_the_comment_stays_within_githubs_limit_cutting_the_longest_sections_cleanly():
    long_table = "| a | b |\n|---|---|\n" + "\n".join(f"| {i} | {'x' * 80} |" for i in range(2000))
    sections = [Section("validate", "short"), Section("train", "<details><summary>s</summary>\n\n" + long_table),
                Section("deploy", long_table), Section("monitor", "also short")]
    body = compose(None, sections, RUN, MAX_BODY)
    assert len(body) <= MAX_BODY
    found = {k: v[1] for k, v in parse(body).items()}
    assert found["validate"] == "short" and found["monitor"] == "also short"
    for key in ("train", "deploy"):
        assert "more line(s) cut to keep this comment within GitHub's 65,536 characters" in found[key]
        rows = [ln for ln in found[key].splitlines() if ln.startswith("| ") and ln[2].isdigit()]
        assert all(ln.endswith(" |") and ln.count("|") == 3 for ln in rows)  # whole rows only
    assert found["train"].count("<details>") == found["train"].count("</details>") == 1
    assert abs(len(found["train"]) - len(found["deploy"])) < 200  # the two long ones share the room


def test_fit_many_tenant_sections_within_the_limit():
    sections = [Section(f"train.t{i}", "y" * 5000) for i in range(40)]
    assert sum(len(s.body) for s in fit(sections, 60_000)) <= 60_000
    assert len(compose(None, sections, RUN, MAX_BODY)) <= MAX_BODY


def test_truncate_leaves_short_text_alone_and_never_exceeds_the_limit():
    assert truncate("abc", 10) == "abc"
    for limit in (0, 5, 50, 200, 1000):
        assert len(truncate("line\n" * 500, limit)) <= limit


def test_only_a_trusted_comment_with_the_marker_is_ours():
    assert is_ours(Comment(1, MARKER + "\nx", True))
    assert not is_ours(Comment(2, MARKER + "\nx", False))  # a stranger copying the marker
    assert not is_ours(Comment(3, "hello " + MARKER, True))


@pytest.mark.parametrize("error, head", [
    (GateFailed("data gate failed: 2 check(s) failed"), "#### ❌ Data gate — failed"),
    (DataError("cannot read data/@x.csv", file="d.csv"), "#### ❌ Data gate — refused (nothing was changed)"),
    (KeyError("bug"), "#### ❌ Data gate — internal error (a bug in aicd)"),
])
def test_a_stage_that_stopped_early_says_why_in_its_section(error, head):
    section = failure_section("validate", error)
    assert section.body.startswith(head)
    rendered_is_inert(section.body)


def env_for(tmp_path, event="pull_request", payload=None):
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload if payload is not None else {"pull_request": {"number": 5, "head":
                                                                                      {"sha": "abc"}}}))
    return {"GITHUB_EVENT_NAME": event, "GITHUB_EVENT_PATH": str(path), "GITHUB_REPOSITORY": "o/r",
            "GITHUB_RUN_ID": "12", "GITHUB_API_URL": "https://api.example.com", "GITHUB_ACTIONS": "true"}


def test_the_target_comes_from_the_event_and_the_token_is_masked(tmp_path):
    stream = io.StringIO()
    env = env_for(tmp_path, "pull_request_target")
    target = target_of({"pr-comment": "true", "github-token": "ghs_x1", "tracking-uri": "http://mlflow:5000"}, env,
                       Actions(env, stream))
    assert (target.number, target.repository, target.run.commit, target.links.mlflow_ui) == (5, "o/r", "abc",
                                                                                         "http://mlflow:5000")
    assert target.links.run_url == "https://github.com/o/r/actions/runs/12"
    assert "::add-mask::ghs_x1" in stream.getvalue() and "ghs_x1" not in repr(target)


def test_no_target_when_off_or_not_a_pull_request(tmp_path):
    gh = Actions({}, io.StringIO())
    assert target_of({}, env_for(tmp_path), gh) is None
    assert target_of({"pr-comment": "true", "github-token": "t"}, env_for(tmp_path, "push"), gh) is None


def test_an_event_without_a_pull_request_number_is_a_warning_not_a_failure(tmp_path):
    stream = io.StringIO()
    env = env_for(tmp_path, payload={"action": "opened"})
    assert target_of({"pr-comment": "true", "github-token": "t"}, env, Actions(env, stream)) is None
    assert stream.getvalue().count("::warning") == 1 and "names no pull request" in stream.getvalue()


@pytest.mark.parametrize("raw, message", [
    ({"pr-comment": "yes"}, "input `pr-comment`: 'yes' is not one of false, true"),
    ({"pr-comment": "true"}, "input `github-token` is empty: pr-comment: true needs a token"),
    ({"pr-comment": "true", "github-token": "Bearer x"}, "contains spaces"),
    ({"pr-comment": "false", "mlflow-ui-url": "ftp://x"}, "input `mlflow-ui-url`"),
])
def test_bad_comment_inputs_are_one_clear_line(tmp_path, raw, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        target_of(raw, env_for(tmp_path), Actions({}, io.StringIO()))

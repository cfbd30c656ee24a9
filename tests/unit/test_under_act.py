"""Under act, what must outlive the job — the local state-dir, reports, job summaries — lands in the act
home, never in act's job folder (deleted when the job succeeds); off act nothing moves."""

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aicd import under_act
from aicd.errors import ConfigError
from aicd.gha import Actions
from aicd.paths import check_writable
from tests.conftest import run_aicd
from tests.unit.test_cli_errors import assert_one_clear_line

NOW = datetime(2026, 12, 2, 17, 30, 5, 123456, tzinfo=UTC)


@pytest.fixture
def act_env(tmp_path):
    """A step's environment as act (host mode) gives it: the job's folder under ~/.cache/act/<hash>."""
    job = tmp_path / "cache" / "act" / "0123456789abcdef"
    (job / "hostexecutor").mkdir(parents=True)
    (job / "tmp").mkdir()
    return {"ACT": "true", "HOME": str(tmp_path / "home"), "GITHUB_REPOSITORY": "acme/shop",
            "GITHUB_WORKSPACE": str(job / "hostexecutor"), "RUNNER_TEMP": str(job / "tmp"), "GITHUB_JOB": "release",
            "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(job / "SUMMARY.md")}


def test_off_act_nothing_moves(tmp_path):
    env = {"GITHUB_ACTIONS": "true", "HOME": str(tmp_path), "AICD_ACT_HOME": str(tmp_path / "x")}
    assert under_act.home(env) is None and under_act.summary_file(env, NOW) is None
    assert under_act.placed(".aicd/deploy", env) == ".aicd/deploy"
    assert under_act.state_dir(".aicd/deploy", env) == Path(".aicd/deploy")


def test_the_act_home_is_per_repository_under_home_or_where_aicd_act_home_says(act_env, tmp_path):
    assert under_act.home(act_env) == tmp_path / "home" / ".aicd" / "act" / "acme+shop"
    assert under_act.home({**act_env, "GITHUB_REPOSITORY": "../../etc"}) == tmp_path / "home/.aicd/act/etc"
    assert under_act.home({**act_env, "AICD_ACT_HOME": str(tmp_path / "mine")}) == tmp_path / "mine"


def test_relative_paths_go_to_the_act_home_and_absolute_ones_stay(act_env, tmp_path):
    home = under_act.home(act_env)
    assert under_act.state_dir(".aicd/deploy", act_env) == home / ".aicd" / "deploy"
    assert under_act.state_dir(str(tmp_path / "state"), act_env) == tmp_path / "state"
    assert under_act.placed("aicd-reports/validate.json", act_env) == str(home / "aicd-reports" / "validate.json")


@pytest.mark.parametrize("inside", ["GITHUB_WORKSPACE", "RUNNER_TEMP"])
def test_a_state_dir_in_acts_job_folder_is_refused(act_env, inside):
    doomed = str(Path(act_env[inside]) / ".aicd" / "deploy")
    with pytest.raises(ConfigError, match=f"inside act's {inside}.*deletes when the job succeeds"):
        under_act.state_dir(doomed, act_env)


def test_the_refusal_is_one_line_before_anything_is_deployed(act_env, tmp_path):
    doomed = str(Path(act_env["GITHUB_WORKSPACE"]) / "state")
    result = run_aicd("deploy", "--model-uri", "models:/m/1", "--tracking-uri", f"sqlite:///{tmp_path}/none.db",
                      "--state-dir", doomed, env={k: v for k, v in act_env.items() if k != "GITHUB_ACTIONS"},
                      cwd=Path(act_env["GITHUB_WORKSPACE"]))
    assert_one_clear_line(result, "inside act's GITHUB_WORKSPACE", "input `state-dir`")
    assert not Path(doomed).exists()


def test_a_report_under_act_is_written_in_the_act_home(act_env):
    path = check_writable("aicd-reports/monitor.json", what="input `report`", env=act_env)
    assert path == under_act.home(act_env) / "aicd-reports" / "monitor.json"


def test_the_job_summary_under_act_goes_to_a_file_of_its_own_and_its_path_is_printed(act_env):
    stream = io.StringIO()
    Actions(act_env, stream).summary("## aicd data gate\n\npassed")
    (kept,) = (under_act.home(act_env) / "aicd-summaries").iterdir()
    assert kept.name.endswith("-release.md") and kept.read_text() == "## aicd data gate\n\npassed\n\n"
    assert not Path(act_env["GITHUB_STEP_SUMMARY"]).exists()  # act would only echo it into the log, twice
    assert stream.getvalue().count(str(kept)) == 1
    assert under_act.summary_file(act_env, NOW).name == "20261202T173005.123456Z-release.md"


def test_each_step_of_one_job_names_its_summary_after_its_stage(act_env):
    assert under_act.summary_file(act_env, NOW, "deploy").name == "20261202T173005.123456Z-release-deploy.md"
    assert under_act.summary_file({**act_env, "GITHUB_JOB": "../x"}, NOW, "a/b").name.endswith("-x-a-b.md")


def test_off_act_the_summary_goes_to_github_step_summary_and_nothing_is_printed(act_env):
    env = {k: v for k, v in act_env.items() if k != "ACT"}
    stream = io.StringIO()
    Actions(env, stream).summary("## s")
    assert Path(env["GITHUB_STEP_SUMMARY"]).read_text() == "## s\n\n" and stream.getvalue() == ""

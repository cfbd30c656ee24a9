"""A report path is data: it cannot leave the workspace or overwrite an input (hostile-input class 4)."""

from pathlib import Path

import pytest

from aicd.errors import ConfigError
from aicd.paths import check_writable
from tests.conftest import run_aicd
from tests.unit.test_cli_errors import assert_one_clear_line


@pytest.fixture
def workspace(tmp_path, coffee):
    work = tmp_path / "ws"
    (work / "cfg").mkdir(parents=True)
    config = work / "cfg" / "aicd.yml"
    config.write_text(Path(coffee["config"]).read_text())
    return work, config


@pytest.mark.parametrize("report, needle", [
    ("../../../outside.json", "outside the places a step may write"),
    ("/etc/aicd-report.json", "outside the places a step may write"),
    ("cfg/aicd.yml", "is one of this step's inputs"),
    ("cfg/aicd.html", "is one of this step's inputs"),  # the HTML report beside a .json would overwrite it
    ("cfg", "is a directory"),
    ("link/x.json", "outside the places a step may write"),
])
def test_validate_refuses_a_report_path_it_must_not_write(workspace, coffee, report, needle):
    work, config = workspace
    (work / "link").symlink_to(work.parent.parent)  # a link out of the workspace
    (work / "cfg" / "aicd.html").write_text("mine")
    before = config.read_text()
    inputs = ["--data", str(coffee["data"]), "--config", str(config), "--report", report]
    if report == "cfg/aicd.html":
        inputs[-1] = "cfg/aicd.json"
        inputs[3] = str(work / "cfg" / "aicd.html")  # the config now has an .html name
        (work / "cfg" / "aicd.html").write_text(before)
    line = assert_one_clear_line(run_aicd("validate", *inputs, cwd=work, env={"RUNNER_TEMP": ""}), needle,
                                 "input `report`")
    assert config.read_text() == before and (work / "cfg" / "aicd.html").exists()
    assert not (work.parent.parent / "outside.json").exists() and line


def test_a_report_inside_the_workspace_or_runner_temp_is_written(workspace, coffee, tmp_path):
    work, config = workspace
    inside = run_aicd("validate", "--data", str(coffee["data"]), "--config", str(config), "--report",
                      "reports/v.json", cwd=work)
    assert inside.code == 0, inside.output
    assert (work / "reports" / "v.json").is_file() and (work / "reports" / "v.html").is_file()
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    elsewhere = run_aicd("validate", "--data", str(coffee["data"]), "--report", str(temp / "v.json"), cwd=work,
                         env={"RUNNER_TEMP": str(temp)})
    assert elsewhere.code == 0 and (temp / "v.json").is_file()


def test_an_unwritable_place_is_one_line_not_a_traceback(workspace, coffee):
    work, _ = workspace
    (work / "notes.txt").write_text("a file, not a folder")
    result = run_aicd("validate", "--data", str(coffee["data"]), "--report", "notes.txt/v.json", cwd=work)
    assert_one_clear_line(result, "cannot write", "input `report`")
    assert (work / "notes.txt").read_text() == "a file, not a folder"
    result = run_aicd("monitor", "--endpoint", "http://127.0.0.1:9", "--report", "/proc/self/aicd.json", cwd=work)
    assert_one_clear_line(result, "outside the places a step may write")


def test_the_state_dir_is_a_place_the_monitor_may_write(tmp_path):
    state = tmp_path / "state"
    assert check_writable(str(state / "m.json"), what="input `report`", env={"GITHUB_WORKSPACE": str(tmp_path / "w")},
                          folders=[str(state)]) == state / "m.json"
    with pytest.raises(ConfigError, match="outside"):
        check_writable(str(state / "m.json"), what="input `report`", env={"GITHUB_WORKSPACE": str(tmp_path / "w")})

"""Text from data, file names and config never becomes a workflow command (hostile-input class 1).

Each stage runs in this process with ``GITHUB_ACTIONS=true`` and its stdout and stderr merged into
one file descriptor, the way the runner reads a step (libraries, warnings and tracebacks included).
Random and hostile strings go into data values, column names, file names and config values; the
runner's own parsing rules (tests/runner_log.py) then decide which lines it would process as
commands, and those must be exactly the lines aicd's command API wrote — nothing forged.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aicd import cli
from aicd.gha import Actions, inert
from tests.runner_log import command_name, processed_commands, runner_lines

FORGERIES = ("\n::error title=forged::owned", "\r::add-mask::aicd", "::warning::forged", "  ::notice::x",
             "##[error]forged", "\u2028::error::x", "\x85::error::x", "%0A::error::x", "::stop-commands::t",
             "\n::endgroup::", "x\n##[set-output name=passed;]true")
hostile = st.one_of(
    st.sampled_from(FORGERIES),
    st.text(alphabet=st.sampled_from(list(":#[]%,=\n\r \t\u2028\x85ab")), min_size=1, max_size=24),
    st.tuples(st.text(min_size=0, max_size=8), st.sampled_from(FORGERIES)).map("".join),
)
PROPERTY = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@contextlib.contextmanager
def merged_log(path: Path):
    """fd 1 and fd 2 (and sys.stdout/sys.stderr) all write, in order, to ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    old = sys.stdout, sys.stderr
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        stream = io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), line_buffering=True, write_through=True)
        sys.stdout = sys.stderr = stream
        yield
    finally:
        sys.stdout.flush()
        sys.stdout, sys.stderr = old
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for each in (*saved, fd):
            os.close(each)


def run_on_runner(tmp: Path, *argv: str, **env: str) -> tuple[int, str, Actions]:
    """``aicd ARGV`` as on the runner: (exit status, the merged log, the step's Actions)."""
    log = tmp / "log.txt"
    log.unlink(missing_ok=True)
    environment = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp / "out"),
                   "GITHUB_STEP_SUMMARY": str(tmp / "summary.md"), "RUNNER_TEMP": str(tmp), **env}
    with merged_log(log):
        gh = Actions(environment)
        try:
            with gh.fenced():
                code = cli.run(list(argv), environment, gh)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
    return code, log.read_text(errors="replace"), gh


def assert_nothing_forged(code: int, log: str, gh: Actions) -> None:
    assert code in (0, 1), log
    assert "Traceback" not in log, log
    assert processed_commands(log) == gh.commands, log
    stops = [c.removeprefix("::stop-commands::") for c in gh.commands if c.startswith("::stop-commands::")]
    assert gh.commands[0].startswith("::stop-commands::") and gh.commands[-1] == f"::{stops[-1]}::"  # fenced


def assert_every_line_inert(log: str, gh: Actions) -> None:
    """Stricter, for steps where only aicd writes: no line would be a command even without the fence."""
    assert [line for line in runner_lines(log) if command_name(line) and line not in gh.commands] == [], log


def _folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    return folder


# -- the stages, with hostile text where a user's data and config put it -------------------------------

@PROPERTY
@given(value=hostile, column=hostile)
def test_data_values_and_column_names_never_forge_commands(tmp_path, value, column):
    work = _folder(tmp_path, "values")
    column = column.strip() or "c"
    frame = pd.DataFrame({"label": [0, 1] * 20, "kind": ["ok", value] * 20, column: [1.0, 2.0] * 20})
    if column in ("label", "kind"):
        return
    frame.to_parquet(work / "data.parquet")
    config = {"data": {"label": "label", "columns": {"kind": {"allowed": ["ok"]}, column: {"min": 5}}}}
    (work / "aicd.yml").write_text(yaml.safe_dump(config))
    code, log, gh = run_on_runner(work, "validate", "--data", str(work / "data.parquet"), "--config",
                                  str(work / "aicd.yml"), "--report", str(work / "r.json"))
    assert_nothing_forged(code, log, gh)
    assert_every_line_inert(log, gh)
    assert code == 1
    assert any(c.startswith("::error") and "outside the allowed set" in c for c in gh.commands), log
    assert "aicd: data gate failed" in log


@PROPERTY
@given(name=hostile)
def test_file_names_never_forge_commands(tmp_path, name):
    work = _folder(tmp_path, "names")
    name = name.replace("/", "_").replace("\0", "_")[:60] or "x"
    data = work / f"{name}.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    code, log, gh = run_on_runner(work, "validate", "--data", str(data), "--report", str(work / "r.json"))
    assert_nothing_forged(code, log, gh)
    assert_every_line_inert(log, gh)
    missing_run = run_on_runner(work, "validate", "--data", str(work / f"missing-{name}.csv"))
    assert_nothing_forged(*missing_run)
    assert missing_run[0] == 1


@PROPERTY
@given(text=hostile, key=st.sampled_from(["label", "model-name", "estimator", "column", "expect"]))
def test_config_values_never_forge_commands(tmp_path, coffee, text, key):
    work = _folder(tmp_path, "config")
    config = yaml.safe_load(Path(coffee["config"]).read_text())
    config["model"]["params"] = {"n_estimators": 3, "random_state": 0}  # a valid name trains: keep it quick
    if key == "label":
        config["data"]["label"] = text
    elif key == "model-name":
        config["model"]["name"] = text
    elif key == "estimator":
        config["model"]["estimator"] = text
    elif key == "column":
        config["data"]["columns"][text] = {"dtype": "int"}
    else:
        config["data"]["columns"]["age"]["expect"] = text
    (work / "aicd.yml").write_text(yaml.safe_dump(config))
    stage = "train" if key in ("model-name", "estimator") else "validate"
    extra = ("--tracking-uri", f"sqlite:///{work / 'mlflow.db'}") if stage == "train" else ("--report",
                                                                                              str(work / "r.json"))
    code, log, gh = run_on_runner(work, stage, "--data", str(coffee["data"]), "--config", str(work / "aicd.yml"),
                                  *extra)
    assert_nothing_forged(code, log, gh)


@PROPERTY
@given(text=hostile)
def test_deploy_and_monitor_inputs_never_forge_commands(tmp_path, text):
    work = _folder(tmp_path, "inputs")
    deploy = run_on_runner(work, "deploy", "--model-uri", f"models:/{text}/1", "--state-dir", str(work / "s"),
                           "--tracking-uri", f"sqlite:///{work / 'mlflow.db'}")
    assert_nothing_forged(*deploy)
    monitor = run_on_runner(work, "monitor", "--endpoint", f"http://127.0.0.1:9/{text}", "--report",
                            str(work / "m.json"), "--selector", text)
    assert_nothing_forged(*monitor)
    assert monitor[0] == 1


def test_a_bug_is_its_own_exit_status_with_the_traceback_fenced(tmp_path, monkeypatch):
    """An exception aicd did not mean is exit 70, its traceback inert however hostile its text."""
    from aicd.steps import validate

    def broken(inputs, gh, env=None):
        raise RuntimeError("boom\n::error title=forged::from a traceback")

    monkeypatch.setattr(validate, "run", broken)
    code, log, gh = run_on_runner(tmp_path, "validate", "--data", "x.csv")
    assert code == cli.EXIT_BUG == 70
    assert "Traceback" in log and "::error title=forged::from a traceback" in log  # shown, never processed
    assert processed_commands(log) == gh.commands
    assert [c for c in gh.commands if c.startswith("::error")] == [next(c for c in gh.commands if "bug in aicd" in c)]


# -- the mechanism itself ----------------------------------------------------------------------------

@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.text())
def test_inert_text_is_one_line_and_never_a_command(text):
    line = inert(text)
    assert processed_commands(line) == [] and command_name(line) is None
    assert len(line.splitlines()) <= 1 and "\n" not in line and "\r" not in line


def test_inert_keeps_plain_text_and_shows_what_it_escaped():
    assert inert("scanning data/a b.csv (2 file(s))") == "scanning data/a b.csv (2 file(s))"
    assert inert("dark\n::error title=x::y") == "dark\\n::error title=x::y"
    assert inert("  ::add-mask::x") == "\\::add-mask::x"
    assert inert("a ##[error]b\x1b[31m") == "a ##\\[error]b\\x1b[31m"


def test_product_commands_pass_the_fence_and_nothing_else_does():
    stream = io.StringIO()
    gh = Actions({"GITHUB_ACTIONS": "true"}, stream)
    with gh.fenced():
        stream.write("::error::from a library\n")
        gh.annotate("warning", "meant")
        gh.mask("s3cret")
        stream.write("##[error]legacy form\n")
    log = stream.getvalue()
    assert processed_commands(log) == gh.commands
    assert [c for c in gh.commands if not command_name(c).startswith(("aicd-", "stop-commands"))] == [
        "::warning::meant", "::add-mask::s3cret"]
    assert len({c for c in gh.commands if c.startswith("::stop-commands::")}) == 3  # a new token after each use
    assert json.dumps(gh.commands)  # plain strings
    outside = Actions({}, io.StringIO())
    with outside.fenced():
        outside.info("x")
    assert outside.commands == []


@pytest.mark.parametrize("line, name", [("::error::x", "error"), ("  ::add-mask::x", "add-mask"),
                                        ("text ##[warning]x", "warning"), ("::x", None), ("a :: b", None)])
def test_the_runner_model_reads_commands_as_the_runner_does(line, name):
    assert command_name(line) == name

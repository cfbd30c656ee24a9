import io
import re

import pytest

from aicd.gha import Actions, escape_data, escape_property, md_escape


def runner(tmp_path, on_runner=True):
    out, summary = tmp_path / "output", tmp_path / "summary"
    env = {"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)}
    if on_runner:
        env["GITHUB_ACTIONS"] = "true"
    stream = io.StringIO()
    return Actions(env, stream), out, summary, stream


def parse_output_file(text: str) -> dict[str, str]:
    """Parse GITHUB_OUTPUT the way the runner does (name<<DELIM ... DELIM)."""
    values, lines, i = {}, text.split("\n"), 0
    while i < len(lines) and lines[i]:
        name, delim = lines[i].split("<<", 1)
        end = lines.index(delim, i + 1)
        values[name] = "\n".join(lines[i + 1:end])
        i = end + 1
    return values


def test_escaping_matches_actions_toolkit():
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_outputs_are_heredocs_with_random_delimiters_and_survive_newlines(tmp_path):
    gh, out, _, _ = runner(tmp_path)
    gh.set_output("report", "line one\nline two\nname=evil")
    gh.set_output("metrics", {"b": 1, "a": 0.5})
    text = out.read_text()
    delimiters = re.findall(r"<<(ghadelimiter_[0-9a-f-]{36})\n", text)
    assert len(set(delimiters)) == 2
    assert parse_output_file(text) == {"report": "line one\nline two\nname=evil", "metrics": '{"a":0.5,"b":1}'}


def test_output_name_with_newline_is_refused(tmp_path):
    gh, _, _, _ = runner(tmp_path)
    with pytest.raises(ValueError):
        gh.set_output("bad\nname", "x")


def test_annotation_escapes_message_and_properties(tmp_path):
    gh, _, _, stream = runner(tmp_path)
    gh.annotate("error", "missing 10%\nof rows", file="data/a,b.csv", line=12, title="gate: data")
    assert stream.getvalue() == "::error file=data/a%2Cb.csv,line=12,title=gate%3A data::missing 10%25%0Aof rows\n"


def test_annotation_outside_the_runner_is_plain_text(tmp_path):
    gh, _, _, stream = runner(tmp_path, on_runner=False)
    gh.annotate("warning", "drifted", file="aicd.yml", line=3)
    assert stream.getvalue() == "warning: aicd.yml:3: drifted\n"


def test_mask_each_line_of_a_secret_on_the_runner_only(tmp_path):
    gh, _, _, stream = runner(tmp_path)
    gh.mask("tok%en\nsecond")
    assert stream.getvalue().splitlines() == ["::add-mask::tok%25en%0Asecond", "::add-mask::tok%25en",
                                              "::add-mask::second"]
    local, _, _, local_stream = runner(tmp_path, on_runner=False)
    local.mask("secret")
    assert local_stream.getvalue() == ""


def test_summary_appends_to_the_step_summary_file(tmp_path):
    gh, _, summary, _ = runner(tmp_path)
    gh.summary("## one")
    gh.summary("## two\n")
    assert summary.read_text() == "## one\n\n## two\n\n"


def test_markdown_escape_keeps_user_text_inert():
    assert md_escape("a|b<script>\nx_y") == "a\\|b\\<script\\> x\\_y"


def test_a_job_summary_that_cannot_be_written_is_a_warning_not_a_failed_step(tmp_path):
    out = io.StringIO()
    gh = Actions({"GITHUB_STEP_SUMMARY": str(tmp_path)}, stream=out)  # a folder: open() fails
    gh.summary("## done")
    assert "cannot write the job summary" in out.getvalue()

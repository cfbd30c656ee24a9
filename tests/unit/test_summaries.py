"""Snapshot-style tests of what a person reads: annotations and job summaries."""

import io

import pytest

from aicd.errors import GateFailed
from aicd.examples.coffee import generate
from aicd.gha import Actions
from aicd.steps import validate

CONFIG = """data:
  label: clicked
  max-missing-ratio: 0.05
  columns:
    hour: {dtype: int, min: 0, max: 23}
"""


@pytest.fixture
def failing_run(tmp_path):
    frame = generate(200, seed=5)
    frame.loc[:19, "avg_spend"] = None  # exactly 10 % missing
    frame.loc[0, "hour"] = 99
    data, cfg = tmp_path / "d.csv", tmp_path / "aicd.yml"
    frame.to_csv(data, index=False)
    cfg.write_text(CONFIG)
    stream = io.StringIO()
    gh = Actions({"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md"),
                  "GITHUB_OUTPUT": str(tmp_path / "o")}, stream)
    with pytest.raises(GateFailed):
        validate.run({"data": str(data), "config": str(cfg), "report": str(tmp_path / "r.json")}, gh)
    return stream.getvalue(), (tmp_path / "s.md").read_text(), str(cfg)


def test_failed_checks_are_annotated_at_their_config_line(failing_run):
    log, _, cfg = failing_run
    errors = [line for line in log.splitlines() if line.startswith("::error")]
    assert errors == [
        f"::error file={cfg},line=5,title=aicd data gate%3A range::`hour` has 0 values below 0 and 1 above 23 "
        "(observed 6 .. 99)",
        f"::error file={cfg},line=3,title=aicd data gate%3A missing-ratio::`avg_spend` is 10.0%25 missing "
        "(max 5.0%25)",
    ]


def test_the_summary_puts_failed_checks_first(failing_run):
    _, summary, _ = failing_run
    assert summary.startswith("## ❌ aicd data gate — failed\n")
    failed = summary.index("### Failed checks")
    assert failed < summary.index("<details><summary>All ")
    rows = summary[failed:summary.index("<details>")].strip().splitlines()[4:]
    assert rows == [
        "| range | hour | 6 .. 99 | 0 .. 23 | \\`hour\\` has 0 values below 0 and 1 above 23 (observed 6 .. 99) |",
        "| missing-ratio | avg\\_spend | 10.0% | ≤ 5.0% | \\`avg\\_spend\\` is 10.0% missing (max 5.0%) |",
    ]


def test_a_label_change_below_the_effect_floor_says_why_it_is_not_drift_and_p_values_are_named():
    from aicd.steps.validate import _statistic, verdict_lines

    body = {"drifted_weight": 0.0, "dataset_drift_share": 0.2, "weights": "equal", "dataset_drifted": False,
            "prediction_drift": "not measured by the data gate",
            "label_drift": {"column": "defaulted", "method": "levels", "statistic": 6.77e-06, "threshold": 0.005,
                            "drifted": False, "note": "significant, but below the effect floor (0.061 < 0.1)"}}
    line = verdict_lines(body).splitlines()[1]
    assert "not drifted (levels p-value 6.77e-06, drift when < 0.005 — significant, but below the effect " \
           "floor (0.061 < 0.1); judged apart" in line
    assert _statistic("homogeneity", 0.0) == "p-value < 1e-300" and _statistic("wasserstein", 0.0) == "0"


def test_columns_left_out_of_drift_are_named_with_why_and_tiny_p_values_are_not_zero(tmp_path):
    """An id and a date are not compared (by nature), and the reader is told so in the JSON, the summary
    and the HTML; a p-value below a float's range reads "p-value < 1e-300", never a bare 0."""
    import json

    from aicd.examples.churn import churn_frame

    reference, current = churn_frame(3000, seed=1), churn_frame(3000, seed=2)
    current["usage_hours"] = current["usage_hours"] * 5 + 100
    reference.to_csv(tmp_path / "ref.csv", index=False)
    current.to_csv(tmp_path / "cur.csv", index=False)
    (tmp_path / "aicd.yml").write_text("data:\n  label: churned\n  min-positive-share: 0.01\n  columns:\n"
                                       "    signup_date: {dtype: datetime}\n  drift:\n    columns:\n"
                                       "      plan: {skip: true}\n")
    gh = Actions({"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md"),
                  "GITHUB_OUTPUT": str(tmp_path / "o")}, io.StringIO())
    validate.run({"data": str(tmp_path / "cur.csv"), "reference": str(tmp_path / "ref.csv"),
                  "config": str(tmp_path / "aicd.yml"), "report": str(tmp_path / "r.json")}, gh)
    report = json.loads((tmp_path / "r.json").read_text())
    left = report["drift_left_out"]
    assert all(c["message"].startswith("passed: ") for c in report["checks"]), report["checks"]  # no failure words
    assert left["customer_id"] == "an identifier or free text: 3,000 distinct values in 3,000 rows"
    assert left["signup_date"].startswith("a date or time") and left["plan"] == "skip: true in data.drift.columns"
    assert "churned" not in left  # the label is judged on its own line
    summary = (tmp_path / "s.md").read_text()
    assert "Left out of drift: " in summary and "`customer_id` (an identifier or free text: 3,000" in summary
    row = next(line for line in summary.splitlines() if line.startswith("| usage\\_hours |"))
    assert "p-value \\< 1e-300" in row and "| 0 |" not in row
    html = (tmp_path / "r.html").read_text()
    assert "<b>Left out of drift</b>" in html and "<code>customer_id</code> (an identifier" in html
    assert "p-value &lt; 1e-300" in html

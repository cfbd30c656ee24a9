"""The HTML data report as a reader sees it: verdicts at the top, every check, labelled charts — and
no text from data that a browser would run."""

import re
from html import escape
from html.parser import HTMLParser

from aicd.data.drift import ColumnDrift
from aicd.steps.html_report import MAX_BARS, render_html
from tests.report_case import IMG, SCRIPT, run_gate


def _body(checks, drift, passed=None, share=0.5, reference="ref.csv"):
    """A body with the keys validate.py writes."""
    drifted = sum(d.drifted for d in drift) / len(drift) if drift else 0.0
    return {"data": "data/<x>.csv", "reference": reference, "data_version": "abc", "rows": 100, "columns": 2,
            "passed": all(c["passed"] for c in checks) if passed is None else passed, "checks": checks,
            "drifted_share": drifted, "dataset_drifted": bool(drift) and drifted >= share,
            "dataset_drift_share": share, "drift_handling": {"missing": "missing values are left out"}}


def _check(name, passed, column="age", measured=1, threshold=2, message="ok"):
    return {"name": name, "column": column, "passed": passed, "measured": measured, "threshold": threshold,
            "message": message, "config_path": None}


def _drift(column, drifted, bins=("[-inf, 1)", "[1, inf)"), ref=(60.0, 40.0), cur=(20.0, 80.0), kind="numeric"):
    return ColumnDrift(column, kind, "wasserstein", 0.4 if drifted else 0.01, 0.1, drifted, 100, 100, list(bins),
                       list(ref), list(cur))


def _header(html: str) -> str:
    return html[html.index("<header"):html.index("</header>")]


TAGS = {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p", "ul", "li", "b", "small",
        "span", "code", "a", "table", "tr", "th", "td", "section", "figure", "figcaption", "svg", "line", "text",
        "rect"}


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attributes = set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes += attrs


def _inert(html: str) -> None:
    """Parsed as a browser tokenises it, the page has only the report's own elements, no event
    handler, and no link but its own anchors: hostile text stayed text."""
    parsed = _Elements()
    parsed.feed(html)
    assert parsed.tags <= TAGS, parsed.tags - TAGS
    assert not [name for name, _ in parsed.attributes if name.startswith("on") or name == "src"]
    assert all(value.startswith("#drift-") for name, value in parsed.attributes if name == "href")


def test_a_passed_gate_with_drifted_columns_is_not_green_and_names_them():
    drift = [_drift("price", True), _drift("plan", True, ["basic", "pro"], kind="categorical"), _drift("age", False)]
    html = render_html(_body([_check("range", True)], drift), drift)
    header = _header(html)
    assert header.startswith("<header class=warn>") and "passed, with drift" in header
    assert "all 1 checks passed" in header and "2 of 3 columns drifted" in header
    assert "<code>plan</code>" in header and "<code>price</code>" in header and "<code>age</code>" not in header
    assert ("drifted</span>: 66.7% of compared columns drifted, carrying 66.7% of the compared columns' weight, "
            "the dataset drifts at 50.0%") in header
    assert "<b>Label drift</b>not compared" in header


def test_the_header_is_green_only_without_drift_and_red_when_a_check_failed():
    calm = [_drift("age", False)]
    assert _header(render_html(_body([_check("range", True)], calm), calm)).startswith("<header class=ok>")
    assert "not drifted</span>: 0.0% of compared columns" in render_html(_body([_check("r", True)], calm), calm)
    failed = render_html(_body([_check("range", False), _check("unique", True)], [_drift("x", True)]),
                         [_drift("x", True)])
    assert _header(failed).startswith("<header class=bad>") and "1 of 2 checks failed" in failed
    assert "not measured: no reference" in render_html(_body([_check("r", True)], [], reference=None), [])


def test_every_check_is_in_the_table_and_each_failed_one_has_its_section():
    checks = [_check("missing-ratio", True, "age", 0.0, 0.05), _check("range", False, "age", "1 .. 9", "<= 5",
                                                                     "`age` has 3 above 5"),
              _check("row-count", False, None, 7, ">= 10", "7 rows, fewer than 10")]
    html = render_html(_body(checks, []), [])
    table = html[html.index("Data checks (3)"):html.index("</table>")]
    rows = re.findall(r"<tr class=(\w+)><td>([^<]+)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>", table)
    assert rows == [("failed", "range", "<code>age</code>", "1 .. 9", "&lt;= 5"),
                    ("failed", "row-count", "—", "7", "&gt;= 10"),
                    ("passed", "missing-ratio", "<code>age</code>", "0.0%", "≤ 5.0%")]  # shares as shares
    assert html.count("<section class=check>") == 2
    assert "`age` has 3 above 5" in html and "7 rows, fewer than 10" in html


def test_charts_label_every_bin_and_show_both_shares():
    drift = [_drift("<b>price</b>", True), _drift("age", False, ["a"], [1.0], [1.0])]
    html = render_html(_body([_check("range", True)], drift), drift)
    assert html.count("<svg") == 1  # only the drifted column
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert svg.count("<rect") == 4 and ">[-inf, 1)</text>" in svg and ">[1, inf)</text>" in svg
    assert "[-inf, 1): reference 60.0% (60 rows)" in svg and "[1, inf): current 80.0% (80 rows)" in svg
    assert ">share of rows</text>" in svg and ">0%</text>" in svg and ">80%</text>" in svg  # the share axis
    table = html[html.index("</svg>"):]
    assert "<td>[1, inf)</td><td class=num>40.0%</td><td class=num>80.0%</td><td class=num>+40.0 pp</td>" in table


def test_a_column_with_many_levels_charts_the_most_moved_and_tables_all():
    levels = [f"level-{i:02d}" for i in range(MAX_BARS + 10)]
    ref, cur = [10.0] * len(levels), [10.0] * len(levels)
    cur[-1] = 500.0  # the one level that grew
    drift = [_drift("city", True, levels, ref, cur, "categorical")]
    html = render_html(_body([_check("range", True)], drift), drift)
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert svg.count("<rect") == 2 * MAX_BARS and f">{levels[-1]}</text>" in svg
    assert f"the {MAX_BARS} of {len(levels)} levels whose share changed most" in html
    assert all(f"<td>{name}</td>" in html for name in levels)


def test_hostile_column_names_levels_messages_and_paths_stay_text():
    drift = [_drift(SCRIPT, True), _drift(IMG, True, [IMG, SCRIPT], kind="categorical")]
    checks = [_check(SCRIPT, False, IMG, IMG, SCRIPT, f"{SCRIPT} {IMG}")]
    body = _body(checks, drift)
    body["data"], body["data_version"], body["reference"] = IMG, SCRIPT, SCRIPT
    html = render_html(body, drift)
    _inert(html)
    assert escape(SCRIPT) in html and escape(IMG) in html
    assert f"<title>{escape(IMG)}: reference 60.0% (60 rows)</title>" in html


def test_the_report_of_a_real_gate_run_has_its_numbers_and_stays_inert(tmp_path):
    """The body and drift validate.py really writes: a failed rule on a hostile column, three drifted
    columns (one with a hostile level), one steady column."""
    body, page = run_gate(tmp_path)
    html = page.read_text(encoding="utf-8")
    _inert(html)
    header = _header(html)
    assert header.startswith("<header class=bad>") and "1 of 9 checks failed" in header
    assert "3 of 4 columns drifted" in header and escape(SCRIPT) in header and "plan" in header
    assert ("drifted</span>: 75.0% of compared columns drifted, carrying 75.0% of the compared columns' weight, "
            "the dataset drifts at 20.0%") in header
    assert "<b>Prediction drift</b>not measured by the data gate" in header
    assert "region" not in header
    plan = body["histograms"]["plan"]
    assert plan["bins"] == [IMG, "basic", "pro", "other"]
    for level, ref, cur in zip(plan["bins"], plan["reference"], plan["current"], strict=True):
        row = f"<td>{escape(level)}</td><td class=num>{ref / 2000:.1%}</td><td class=num>{cur / 2000:.1%}</td>"
        assert row in html, level
    for label in body["histograms"]["monthly_charges"]["bins"]:
        assert f">{escape(label)}</text>" in html
    assert escape("has 6 above 7.5 (observed 1.679 .. 8.748)") in html

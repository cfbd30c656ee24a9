from aicd.data.drift import ColumnDrift
from aicd.steps.html_report import render_html


def test_drifted_columns_get_histograms_and_user_text_is_escaped():
    drift = [ColumnDrift("<b>price</b>", "numeric", "wasserstein", 0.4, 0.1, True, 100, 100, ["[-inf, 1)", "[1, inf)"],
                         [60.0, 40.0], [20.0, 80.0]),
             ColumnDrift("age", "numeric", "wasserstein", 0.01, 0.1, False, 100, 100, ["a"], [1.0], [1.0])]
    body = {"data": "data/<x>.csv", "reference": "ref.csv", "data_version": "abc", "rows": 100, "columns": 2,
            "passed": False, "checks": [{"name": "range", "column": "age", "passed": False, "measured": "1 .. 9",
                                         "threshold": "0 .. 5", "message": "`age` <script>"}]}
    html = render_html(body, drift)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;price&lt;/b&gt;" in html
    assert html.count("<svg") == 1  # only the drifted column
    assert html.count("<rect") == 4 and "reference 60.0%" in html and "current 80.0%" in html
    assert "Failed checks" in html and "data/&lt;x&gt;.csv" in html

import datetime as dt

import numpy as np
import pandas as pd

from aicd.config import parse_config
from aicd.data.checks import run_checks
from aicd.data.scan import scan
from aicd.datasets import open_source
from aicd.examples.coffee import CONFIG_PATH, generate

CFG = parse_config(CONFIG_PATH.read_text(), "aicd.yml").data


def failed(frame, tmp_path, cfg=CFG, name="d.csv", **kwargs):
    path = tmp_path / name
    frame.to_parquet(path) if name.endswith(".parquet") else frame.to_csv(path, index=False)
    result = scan(open_source(str(path)), cfg)
    return [c for c in run_checks(result, cfg, **kwargs) if not c.passed]


def test_the_generated_dataset_passes(tmp_path):
    assert failed(generate(1000), tmp_path) == []


def test_ten_percent_missing_in_one_column_fails_naming_it(tmp_path):
    bad = failed(generate(2000, missing={"avg_spend": 0.10}), tmp_path)
    assert [(c.name, c.column) for c in bad] == [("missing-ratio", "avg_spend")]
    assert 0.08 < bad[0].measured < 0.12 and bad[0].threshold == 0.05


def test_column_in_config_but_not_in_data_is_a_schema_failure(tmp_path):
    bad = failed(generate(200).drop(columns=["hour"]), tmp_path)
    assert [(c.name, c.column, c.config_path) for c in bad] == [("schema", "hour", "data.columns.hour")]


def test_ranges_allowed_values_and_types(tmp_path):
    frame = generate(300)
    frame.loc[0, "hour"] = 30
    frame.loc[1, "coffee_roast"] = "burnt"
    frame["age"] = frame["age"].astype(str) + "y"
    names = {(c.name, c.column) for c in failed(frame, tmp_path)}
    assert {("range", "hour"), ("allowed-values", "coffee_roast"), ("dtype", "age")} <= names


def test_label_balance(tmp_path):
    frame = generate(500)
    frame["clicked"] = np.where(np.arange(500) < 100, 1, 0)  # 20 % positive
    assert [(c.name, c.measured) for c in failed(frame, tmp_path)] == [("label-balance", 0.2)]


def test_regex_expect_keys_duplicates_rows_and_freshness(tmp_path):
    cfg = parse_config("""data:
  keys: [id]
  max-duplicate-rows: 0
  min-rows: 10
  max-row-change: 0.1
  max-missing-total: 0.01
  freshness: {column: ts, max-age-hours: 24}
  columns:
    code: {regex: '[A-Z]{3}-\\d+'}
    price: {expect: 'value > 0'}
""").data
    now = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
    frame = pd.DataFrame({"id": [1, 2, 2, 4, 5, 6], "code": ["ABC-1", "ABC-2", "ABC-2", "bad", "XYZ-9", "QQQ-3"],
                          "price": [1.0, 2.0, 2.0, -3.0, 4.0, None],
                          "ts": ["2026-11-26T10:00:00"] * 6})
    bad = {c.name: c for c in failed(frame, tmp_path, cfg, reference_rows=20, now=now)}
    assert bad["unique"].measured == 1 and bad["duplicate-rows"].measured == 1
    assert bad["regex"].measured == 1 and bad["expect"].measured == 1
    assert bad["row-count"].measured == 6 and bad["row-change"].measured == 0.7
    assert bad["freshness"].measured == 50.0 and bad["missing-total"].column is None


def test_parquet_and_declared_types(tmp_path):
    assert failed(generate(400), tmp_path, name="d.parquet") == []


def test_a_newest_timestamp_in_the_future_fails_freshness_naming_the_clock():
    import datetime as dt

    from aicd.data.checks import _freshness
    from aicd.data.scan import ColumnScan

    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    col = ColumnScan("ts", "timestamp", newest=now + dt.timedelta(days=30))
    check = _freshness(col, 26, now)
    assert not check.passed and "in the future" in check.message
    assert _freshness(ColumnScan("ts", "timestamp", newest=now + dt.timedelta(minutes=20)), 26, now).passed


def test_a_freshness_column_with_some_non_iso_values_says_which():
    import datetime as dt
    from collections import Counter

    from aicd.data.checks import _freshness
    from aicd.data.scan import ColumnScan

    col = ColumnScan("ts", "str", counts=Counter({"2026-11-30T10:00:00Z": 5, "12/01/2026 10:00": 1}))
    check = _freshness(col, 26, dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert not check.passed and "read as text, not timestamps" in check.message
    assert "1 of its 2 distinct values are not, e.g. '12/01/2026 10:00'" in check.message


def test_the_positive_class_matches_however_each_side_spells_it(tmp_path):
    """A boolean label scans as true/false; aicd.yml says true, True, "true" or 1 for it."""
    frame = pd.DataFrame({"x": range(100), "y": [i % 2 == 0 for i in range(100)],
                          "z": [float(i % 2) for i in range(100)]})
    for label, positive, name in (("y", "true", "d.csv"), ("y", "True", "d.parquet"), ("z", "1", "d.csv"),
                                  ("z", "1.0", "d.parquet")):
        cfg = parse_config(f"data:\n  label: {label}\n  positive: {positive}\n  min-positive-share: 0.4\n",
                           "aicd.yml").data
        assert failed(frame, tmp_path, cfg, name) == [], (label, positive, name)
    cfg = parse_config("data:\n  label: y\n  positive: yes-please\n", "aicd.yml").data
    assert [c.measured for c in failed(frame, tmp_path, cfg)] == ["absent"]


def test_a_checks_numbers_read_with_their_unit_and_the_comparison_that_passes():
    from aicd.data.checks import shown

    assert shown("freshness", 3.52, 24) == ("3.5 h", "≤ 24 h")
    assert shown("label-balance", 0.231, 0.05) == ("23.1%", "≥ 5.0%")
    assert shown("duplicate-rows", 12345, 0) == ("12,345", "≤ 0")
    assert shown("freshness", "str", "timestamp") == ("str", "timestamp")  # not numbers: as they are
    assert shown("allowed-values", 3, ["a", "b"]) == ("3", ["a", "b"])
    assert shown("a-new-check", 0.5, True) == (0.5, True)


def test_the_scans_float_bounds_are_arrows_min_max_on_every_edge():
    """The numpy fast path of the scan's min/max must give what pc.min_max gives: NaN skipped,
    NaN when all are NaN, None when nothing is set, infinities kept, sliced and chunked arrays."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from aicd.data.scan import _bounds

    rng = np.random.default_rng(0)
    cases = [pa.array([np.nan, np.nan]), pa.array([None, None], pa.float64()), pa.array([np.nan, 1.0, -np.inf]),
             pa.array([], pa.float64()),
             pa.chunked_array([pa.array([None], pa.float64()), pa.array([3.0, np.nan, None])]),
             pa.array(rng.normal(size=1000), mask=rng.random(1000) < 0.1).slice(7, 500),
             pa.chunked_array([pa.array([np.nan]), pa.array([np.nan])]), pa.array([1, 2, None])]
    for case in cases:
        expected = pc.min_max(case)
        got = _bounds(case)
        for want, have in zip((expected["min"].as_py(), expected["max"].as_py()), got, strict=True):
            assert (want is None and have is None) or want == have or (want != want and have != have), case

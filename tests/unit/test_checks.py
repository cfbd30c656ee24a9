import numpy as np
import pandas as pd

from aicd.config import parse_config
from aicd.data.checks import run_checks
from aicd.examples.coffee import CONFIG_PATH, generate

CFG = parse_config(CONFIG_PATH.read_text(), "aicd.yml").data


def failed(frame, cfg=CFG):
    return [c for c in run_checks(frame, cfg) if not c.passed]


def test_the_generated_dataset_passes():
    assert failed(generate(1000)) == []


def test_ten_percent_missing_in_one_column_fails_naming_it():
    frame = generate(2000, missing={"avg_spend": 0.10})
    bad = failed(frame)
    assert [(c.name, c.column) for c in bad] == [("missing-ratio", "avg_spend")]
    assert 0.08 < bad[0].measured < 0.12 and bad[0].threshold == 0.05
    assert "avg_spend" in bad[0].message


def test_column_in_config_but_not_in_data_is_a_schema_failure():
    bad = failed(generate(200).drop(columns=["hour"]))
    assert [(c.name, c.column, c.config_path) for c in bad] == [("schema", "hour", "data.columns.hour")]


def test_ranges_allowed_values_and_types():
    frame = generate(300)
    frame.loc[0, "hour"] = 30
    frame.loc[1, "coffee_roast"] = "burnt"
    frame["age"] = frame["age"].astype(str)
    names = {(c.name, c.column) for c in failed(frame)}
    assert ("range", "hour") in names
    assert ("allowed-values", "coffee_roast") in names
    assert ("dtype", "age") in names


def test_label_balance():
    frame = generate(500)
    frame["clicked"] = np.where(np.arange(500) < 100, 1, 0)  # 20 % positive
    bad = failed(frame)
    assert [(c.name, c.measured) for c in bad] == [("label-balance", 0.2)]


def test_not_nullable_column_with_one_gap():
    frame = generate(100)
    frame["age"] = frame["age"].astype(float)
    frame.loc[3, "age"] = np.nan
    names = [(c.name, c.column) for c in failed(frame)]
    assert ("not-null", "age") in names


def test_checks_work_without_any_column_spec():
    cfg = parse_config("data: {label: y}").data
    frame = pd.DataFrame({"x": [1, 2, None, 4], "y": [1, 0, 1, 1]})
    assert [(c.name, c.column) for c in failed(frame, cfg)] == [("missing-ratio", "x")]

import re

import pytest

from aicd.config import Config, load_config, parse_config
from aicd.errors import ConfigError
from aicd.examples.coffee import CONFIG_PATH


def error_of(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "aicd.yml")
    return info.value


def test_defaults_are_the_storys():
    cfg = Config()
    assert cfg.data.max_missing_ratio == 0.05
    assert cfg.data.min_positive_share == 0.30
    assert cfg.model.thresholds == {"accuracy": 0.9}
    assert cfg.data.drift.method == "auto" and cfg.data.drift.threshold is None  # the method's own default
    assert cfg.monitor.min_accuracy == 0.85


def test_the_coffee_config_loads_with_lines():
    cfg = load_config(CONFIG_PATH)
    assert cfg.data.label == "clicked"
    assert [c.name for c in cfg.data.columns][:2] == ["age", "visits_per_week"]
    assert cfg.line_of("model.thresholds.accuracy") is not None


def test_unknown_key_names_its_line_and_suggests():
    err = error_of("data:\n  label: clicked\n  max-mising-ratio: 0.1\n")
    assert (err.file, err.line) == ("aicd.yml", 3)
    assert "`data.max-mising-ratio`: unknown key" in err.message
    assert "max-missing-ratio" in err.hint


def test_wrong_threshold_type_points_at_the_key():
    err = error_of("model:\n  thresholds:\n    accuracy: high\n")
    assert err.line == 3
    assert "`model.thresholds.accuracy`: must be a number" in err.message


def test_threshold_for_an_unknown_metric_is_refused():
    err = error_of("model:\n  thresholds:\n    acuracy: 0.9\n")
    assert "unknown metric" in err.message and err.line == 3


def test_out_of_range_ratio():
    err = error_of("data:\n  max-missing-ratio: 5\n")
    assert "between 0 and 1" in err.message and err.line == 2


def test_min_greater_than_max():
    err = error_of("data:\n  columns:\n    age: {min: 10, max: 1}\n")
    assert "greater than max" in err.message


def test_invalid_yaml_has_a_line():
    err = error_of("data:\n  label: [unclosed\n")
    assert err.message.startswith("invalid YAML") and err.line is not None


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yml")
    assert "config file not found" in str(info.value)


@pytest.mark.parametrize("text,message", [
    ("monitor:\n  drift: {method: psi}\n  drift: {method: kl}\n", "`monitor.drift` is set twice (lines 2 and 3)"),
    ("monitor:\n  window: 30s\n", "shorter than a minute"),
    ("monitor:\n  drift: {threshold: -1}\n", "must be at least 0, got -1"),
])
def test_a_setting_given_twice_a_window_that_counts_nothing_and_one_sided_ranges_are_refused(text, message):
    from aicd.config import parse_config

    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(text)

"""Per-tenant overrides in aicd.yml: merged over the defaults, checked as strictly, errors at the override."""

import pytest

from aicd.config import load_config, parse_config
from aicd.config.tenants import merge
from aicd.errors import ConfigError

BASE = """\
data:
  label: clicked
  max-missing-ratio: 0.05
  drift: {method: psi, bins: 12}
model:
  estimator: sklearn.ensemble.RandomForestClassifier
  params: {n_estimators: 50, random_state: 0}
  thresholds: {accuracy: 0.9}
  drop-columns: [user_id, batch]
monitor:
  min-accuracy: 0.85
tenants:
  acme:
    data:
      source: data/acme.csv
      drift: {bins: 20}
    model:
      params: {max_depth: 4}
      thresholds: {f1: 0.7}
      drop-columns: [user_id]
    monitor: {min-accuracy: 0.8}
  globex:
    data: {source: "sql: SELECT * FROM events WHERE tenant = 'globex'"}
  initech: {}
"""


def error_of(text: str, tenant: str = "") -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "aicd.yml").for_tenant(tenant)
    return info.value


def test_a_tenant_reads_its_overrides_merged_over_the_defaults():
    acme = parse_config(BASE).for_tenant("acme")
    assert acme.tenant == "acme"
    assert acme.data.source == "data/acme.csv"
    assert (acme.data.drift.method, acme.data.drift.bins) == ("psi", 20)  # mappings merge key by key
    assert acme.data.label == "clicked" and acme.data.max_missing_ratio == 0.05
    assert acme.model.params == {"n_estimators": 50, "random_state": 0, "max_depth": 4}
    assert acme.model.thresholds == {"accuracy": 0.9, "f1": 0.7}
    assert acme.model.drop_columns == ("user_id",)  # a list replaces
    assert acme.monitor.min_accuracy == 0.8


def test_lines_point_at_the_override_where_it_sets_a_key_and_at_the_defaults_elsewhere():
    acme = parse_config(BASE).for_tenant("acme")
    assert acme.line_of("model.thresholds.f1") == 19
    assert acme.line_of("model.thresholds.accuracy") == 8
    assert acme.line_of("data.source") == 15


def test_tenants_without_overrides_and_the_defaults_are_untouched():
    cfg = parse_config(BASE)
    assert cfg.data.source is None and cfg.model.params == {"n_estimators": 50, "random_state": 0}
    assert cfg.for_tenant("") is cfg
    initech = cfg.for_tenant("initech")
    assert initech.model == cfg.model and initech.data == cfg.data and initech.tenant == "initech"
    assert cfg.for_tenant("globex").data.source.startswith("sql: SELECT")
    assert sorted(cfg.tenants) == ["acme", "globex", "initech"]


def test_without_tenants_any_valid_tenant_reads_the_defaults():
    cfg = parse_config("model: {thresholds: {accuracy: 0.8}}\n")
    assert cfg.for_tenant("anyone") is cfg


def test_an_undeclared_tenant_is_refused_in_one_line():
    err = error_of(BASE, "umbrella")
    assert (err.file, err.line) == ("aicd.yml", 12)
    assert err.message == "input `tenant`: 'umbrella' is not declared under `tenants:`"
    assert "acme, globex, initech" in err.hint
    assert "\n" not in str(err)


@pytest.mark.parametrize("override, path, line, hint", [
    ("    model: {thresholdz: {f1: 0.7}}", "tenants.acme.model.thresholdz", 14, "thresholds"),
    ("    model:\n      params: {}\n      estimatr: x", "tenants.acme.model.estimatr", 16, "estimator"),
    ("    dta: {source: x.csv}", "tenants.acme.dta", 14, "data"),
    ("    data:\n      drift: {bins: 1}", "tenants.acme.data.drift.bins", 15, ""),
    ("    model:\n      thresholds: {accuracy: 1.5}", "tenants.acme.model.thresholds.accuracy", 15, ""),
    ("    monitor: {min-accuracy: high}", "tenants.acme.monitor.min-accuracy", 14, ""),
    ("    model: [1]", "tenants.acme.model", 14, ""),
])
def test_a_bad_override_is_refused_at_its_own_key_and_line(override, path, line, hint):
    text = "model:\n  thresholds: {accuracy: 0.9}\n" + "\n" * 9 + "tenants:\n  acme:\n" + override + "\n"
    err = error_of(text)  # refused whichever tenant the step runs for: every view is read with the file
    assert err.line == line and err.message.startswith(f"`{path}`: "), str(err)
    assert hint in err.hint


def test_an_override_is_checked_against_the_merged_section():
    # a regressor's metric under a tenant that keeps the classifier: refused where the tenant writes it
    err = error_of("tenants:\n  acme:\n    model:\n      thresholds: {rmse: 0.3}\n")
    assert err.line == 4 and "`tenants.acme.model.thresholds.rmse`: unknown metric" in err.message


@pytest.mark.parametrize("name", ["Acme", "a__b", "-acme", "x" * 41, "ac me"])
def test_tenant_names_follow_the_tenancy_rules(name):
    err = error_of(f"tenants:\n  {name!r}: {{}}\n".replace("'", '"'))
    assert err.line == 2 and "is not a valid tenant id" in err.message and "lower-case" in err.hint


def test_a_tenant_input_is_checked_before_the_file_is_read(tmp_path):
    path = tmp_path / "aicd.yml"
    path.write_text(BASE, encoding="utf-8")
    assert load_config(path, "acme").model.thresholds["f1"] == 0.7
    with pytest.raises(ConfigError, match="not a valid tenant id"):
        load_config(path, "ACME")
    with pytest.raises(ConfigError, match="not declared"):
        load_config(path, "umbrella")


def test_the_data_source_is_the_input_else_the_tenants_else_refused():
    cfg = parse_config(BASE)
    assert cfg.for_tenant("acme").data_source("") == "data/acme.csv"
    assert cfg.for_tenant("acme").data_source("given.csv") == "given.csv"
    with pytest.raises(ConfigError, match="input `data` is required") as info:
        cfg.for_tenant("initech").data_source("")
    assert "tenants.initech.data.source" in info.value.hint


def test_merge_is_deep_for_mappings_and_replaces_everything_else():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert merge(base, {"a": {"c": [3]}, "e": 2}) == {"a": {"b": 1, "c": [3]}, "d": 1, "e": 2}
    assert merge(base, {"a": 5}) == {"a": 5, "d": 1}
    assert merge(base, {"a": {"b": {"x": 1}}}) == {"a": {"b": {"x": 1}, "c": [1, 2]}, "d": 1}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}  # the defaults are never changed in place

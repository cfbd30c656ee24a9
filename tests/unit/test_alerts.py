"""The generated Prometheus rule file: valid for promtool, the four alerts, clear errors for bad input.

(Whether the rules fire in a real Prometheus is tests/integration/test_prometheus.py.)
"""

import pytest
import yaml

from aicd.errors import ConfigError
from aicd.monitor import alerts
from aicd.monitor.alerts import alert_rules
from tests.conftest import run_aicd
from tests.integration.prom_infra import promtool
from tests.unit.test_cli_errors import assert_one_clear_line

ALERTS = ["ModelAccuracyDrop", "ModelErrorRateHigh", "ModelLatencyHigh", "ModelFeatureDrift"]


def rules_of(text: str) -> dict:
    groups = yaml.safe_load(text)["groups"]
    assert len(groups) == 1
    return {rule["alert"]: rule for rule in groups[0]["rules"]}


@pytest.mark.parametrize("kwargs", [{}, {"window": "30s", "for_": "0s", "extra_selector": 'namespace="aicd-acme"'},
                                    {"min_accuracy": 1, "max_error_rate": 0, "window": "1h30m", "for_": "2m"}])
def test_promtool_accepts_the_rule_file(tmp_path, kwargs):
    path = tmp_path / "rules.yml"
    path.write_text(alert_rules("coffee-recommender", **kwargs))
    out = promtool("check", "rules", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 4 rules found" in out.stdout


def test_one_group_with_the_four_alerts_labelled_and_described():
    text = alert_rules("coffee", min_accuracy=0.9, max_error_rate=0.02, max_latency_p95_ms=250, drift_threshold=0.2,
                       window="10m", for_="3m")
    assert yaml.safe_load(text)["groups"][0]["name"] == "aicd-coffee"
    rules = rules_of(text)
    assert list(rules) == ALERTS
    for rule in rules.values():
        assert rule["for"] == "3m" and rule["labels"]["model"] == "{{ $labels.model }}"
        assert rule["labels"]["severity"] in ("critical", "warning")
        for text in rule["annotations"].values():
            assert all(f"{{{{ $labels.{label} }}}}" in text for label in ("model", "version", "variant"))
            assert "$value" in text
    assert rules["ModelAccuracyDrop"]["expr"].endswith("< 0.9")
    assert 'outcome="correct"' in rules["ModelAccuracyDrop"]["expr"]
    assert rules["ModelErrorRateHigh"]["expr"].endswith("> 0.02")
    assert 'status=~"5.."' in rules["ModelErrorRateHigh"]["expr"]
    assert rules["ModelLatencyHigh"]["expr"].startswith("histogram_quantile(0.95,")
    assert rules["ModelLatencyHigh"]["expr"].endswith("> 0.25")
    assert rules["ModelFeatureDrift"]["expr"].endswith("> 0.2")
    assert all("[10m]" in rules[name]["expr"] for name in ALERTS)


def test_every_selector_has_the_model_and_the_extra_matchers():
    rules = rules_of(alert_rules('say "hi"', extra_selector='{namespace="aicd-acme", job=~"serve.*"}'))
    for rule in rules.values():
        selectors = rule["expr"].count("{")
        assert selectors > 0
        assert rule["expr"].count('model="say \\"hi\\"", namespace="aicd-acme", job=~"serve.*"}') == selectors
    assert rules["ModelAccuracyDrop"]["labels"]["model"] == "{{ $labels.model }}"  # the series' own, as data


@pytest.mark.parametrize("method", ["kl", "psi", "js"])
def test_drift_leaves_the_missing_bin_out_and_floors_and_renormalises_both_sides(tmp_path, method):
    text = alert_rules("m", drift_method=method, drift_threshold=0.3)
    expr = rules_of(text)["ModelFeatureDrift"]["expr"]
    assert expr.count("aicd_feature_values_total{") == expr.count('aicd_feature_values_total{bin!="missing"')
    assert "clamp_min(" in expr and "ln(" in expr and expr.endswith("> 0.3")
    assert "group_left sum without (bin) (clamp_min(" in expr  # renormalised after the floor, as the gate does
    assert ("sqrt(" in expr) == (method == "js")
    assert expr.count(">= 500 and") == 1  # monitor.drift.min-samples: a feature with fewer values is not judged
    assert expr.count(">= 10 * count without (bin) (") == 1  # nor one with fewer than 10 values a bin
    assert method in rules_of(text)["ModelFeatureDrift"]["annotations"]["summary"]
    path = tmp_path / "rules.yml"
    path.write_text(text)
    assert promtool("check", "rules", str(path)).returncode == 0


def test_chisquare_drift_has_no_promql_form_so_no_drift_alert():
    assert list(rules_of(alert_rules("m", drift_method="chisquare", drift_threshold=0.05))) == ALERTS[:3]
    with pytest.raises(ConfigError, match="`drift-method`"):
        alert_rules("m", drift_method="wasserstein")


def test_replicas_are_pooled_and_every_other_label_is_kept():
    for rule in rules_of(alert_rules("m")).values():
        assert "sum by" not in rule["expr"] and "max by" not in rule["expr"]
        assert rule["expr"].count("without (instance, pod") >= 1
        assert "over the last 5m (the production gate counts since the version started" in \
            rule["annotations"]["description"]


@pytest.mark.parametrize("kwargs,key", [
    ({"min_accuracy": 1.5}, "`min-accuracy`"),
    ({"min_accuracy": "0.9"}, "`min-accuracy`"),
    ({"max_error_rate": -0.1}, "`max-error-rate`"),
    ({"max_latency_p95_ms": 0}, "`max-latency-p95`"),
    ({"drift_threshold": float("nan")}, "`drift-threshold`"),
    ({"drift_threshold": True}, "`drift-threshold`"),
    ({"window": "5 minutes"}, "`window`"),
    ({"window": "0s"}, "`window`"),
    ({"window": "5"}, "`window`"),
    ({"window": "m5"}, "`window`"),
    ({"for_": "1m5h"}, "`for`"),  # units must go from largest to smallest
    ({"for_": ""}, "`for`"),
    ({"extra_selector": "namespace=aicd"}, "`selector`"),
    ({"extra_selector": 'namespace="a"} or vector(1'}, "`selector`"),
])
def test_bad_input_is_a_config_error_naming_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key) as err:
        alert_rules("coffee", **kwargs)
    assert repr(next(iter(kwargs.values())))[:8] in err.value.message


def test_a_model_name_is_required():
    with pytest.raises(ConfigError, match="`model`"):
        alert_rules(" ")


def test_durations_prometheus_accepts():
    for value in ("30s", "5m", "1h", "1h30m", "2d", "500ms", "1w"):
        alert_rules("m", window=value, for_=value)
    alert_rules("m", for_="0")


def test_the_public_surface_is_one_function():  # its purity is a layer contract (tests/unit/test_layers.py)
    assert alerts.__all__ == ["alert_rules"]


def test_cli_writes_the_rules_from_the_config(tmp_path):
    config = tmp_path / "aicd.yml"
    config.write_text("monitor:\n  min-accuracy: 0.7\n  max-latency-p95: 100ms\n  window: 30m\n"
                      "  drift: {method: js, threshold: 0.2}\n")
    out = tmp_path / "rules.yml"
    result = run_aicd("alerts", "--model", "coffee", "--config", str(config), "--for", "1m", "--window", "2m",
                      "-o", str(out))
    assert result.code == 0, result.output
    rules = rules_of(out.read_text())
    assert rules["ModelAccuracyDrop"]["expr"].endswith("< 0.7") and rules["ModelAccuracyDrop"]["for"] == "1m"
    assert rules["ModelLatencyHigh"]["expr"].endswith("> 0.1") and "[2m]" in rules["ModelLatencyHigh"]["expr"]
    assert rules["ModelErrorRateHigh"]["expr"].endswith("> 0.01")  # the default
    assert rules["ModelFeatureDrift"]["expr"].endswith("> 0.2")  # the gate's statistic and threshold
    assert "sqrt(" in rules["ModelFeatureDrift"]["expr"]
    result = run_aicd("alerts", "--model", "coffee", "--config", str(config))  # no --window: monitor.window
    assert all("[30m]" in rule["expr"] for rule in rules_of(result.stdout).values())
    config.write_text("monitor:\n  drift: {method: chisquare}\n")
    result = run_aicd("alerts", "--model", "coffee", "--config", str(config))
    assert result.code == 0 and "ModelFeatureDrift" not in result.stdout
    assert "chisquare" in result.stderr and "no ModelFeatureDrift alert" in result.stderr


def test_cli_prints_to_stdout_and_reports_user_errors_in_one_line(tmp_path):
    result = run_aicd("alerts", "--model", "coffee")
    assert result.code == 0 and list(rules_of(result.stdout)) == ALERTS
    assert_one_clear_line(run_aicd("alerts", "--model", "coffee", "--window", "5 min"), "`window`", "'5 min'")
    assert_one_clear_line(run_aicd("alerts", "--model", "coffee", "--config", str(tmp_path / "nope.yml")),
                          "nope.yml", "config file not found")
    (tmp_path / "a-file").write_text("not a folder")
    assert_one_clear_line(run_aicd("alerts", "--model", "coffee", "-o", str(tmp_path / "a-file" / "rules.yml")),
                          "--output", "cannot write")
    assert_one_clear_line(run_aicd("alerts", "--model", "coffee", "-o", "/etc/aicd-rules.yml"),
                          "--output", "outside the places a step may write")


def test_a_model_name_cannot_inject_template_code_into_the_alert_labels(tmp_path):
    text = alert_rules("a{{ .x }}")
    for rule in rules_of(text).values():
        assert rule["labels"]["model"] == "{{ $labels.model }}"
        assert '{{ .x }}' not in rule["labels"]["model"] and "{{ .x }}" not in rule["annotations"]["summary"]
    path = tmp_path / "rules.yml"
    path.write_text(text)
    assert promtool("check", "rules", str(path)).returncode == 0

"""A real Prometheus scraping a real model server, with the rules ``aicd alerts`` generates.

Each test pays Prometheus 2.42's target discovery (about 5 s, see prom_infra); everything else is fast.
"""

import json
import math
import time
import urllib.request

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from aicd.config import LiveDriftConfig
from aicd.examples.coffee import generate
from aicd.monitor.alerts import alert_rules
from aicd.monitor.decide import drift_checks
from aicd.monitor.metrics import Snapshot
from tests.conftest import FEEDBACK_AUTH
from tests.integration.model_server import ROW, coffee_model_dir, start_model_server

MODEL = "coffee"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return coffee_model_dir(tmp_path_factory.mktemp("model"))


@pytest.fixture
def serve(model_dir, tmp_path):
    """Starts model servers of ``model_dir`` (named ``coffee``) and stops them after the test."""
    servers = []

    def start(**kwargs):
        servers.append(start_model_server(*model_dir, tmp_path / f"server-{len(servers)}.log", model_name=MODEL,
                                          **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json", **FEEDBACK_AUTH})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def send_feedback(url: str, correct: int, incorrect: int) -> None:
    """One prediction per feedback; the correct ones first, so no scrape in between sees a dip."""
    for right in [True] * correct + [False] * incorrect:
        answer = post(f"{url}/predict", ROW)
        label = answer["predictions"][0]
        post(f"{url}/feedback", {"request_id": answer["request_id"], "label": label if right else 1 - label})


def value(result: list) -> float:
    return float(result[0]["value"][1]) if result else math.nan


def without_threshold(expr: str) -> str:
    """The value an alert compares: its expression without the trailing ``< 0.85`` / ``> 0.1``."""
    return expr.rsplit(" ", 2)[0]


def test_prometheus_scrapes_a_model_server_and_forgets_a_removed_target(prometheus, serve):
    server = serve(variant="canary", model_version="7")
    prometheus.set_targets([server.target], labels={"namespace": "aicd-test"})
    server.wait_ready()
    [info] = prometheus.wait_for("aicd_model_info", timeout=20)
    labels = ("model", "version", "variant", "runtime", "job", "instance", "namespace")
    assert {k: info["metric"].get(k) for k in labels} == {
        "model": MODEL, "version": "7", "variant": "canary", "runtime": "onnx", "job": "aicd",
        "instance": server.target, "namespace": "aicd-test"}
    [start_time] = prometheus.query("aicd_server_start_time_seconds")
    assert {k: start_time["metric"][k] for k in ("model", "version", "variant")} == \
        {"model": MODEL, "version": "7", "variant": "canary"}
    assert abs(value([start_time]) - time.time()) < 60
    prometheus.set_targets([])
    prometheus.wait_for('up{job="aicd"}', lambda result: not result, timeout=20)
    assert prometheus.target_health() == {}


def test_the_accuracy_rule_fires_when_accuracy_falls(prometheus, serve):
    rules = alert_rules(MODEL, window="30s", for_="2s")
    with pytest.raises(RuntimeError, match="could not parse expression"):  # refused, and the reason is shown
        prometheus.add_rule_file(rules.replace(" < 0.85", " <"))
    prometheus.add_rule_file(rules)
    [group] = prometheus.rule_groups()
    assert group["name"] == "aicd-coffee" and len(group["rules"]) == 4
    server = serve(model_version="3")
    prometheus.set_targets([server.target])
    url = server.wait_ready()

    send_feedback(url, 9, 1)  # both outcome series exist before the counts that matter
    prometheus.wait_for(f'sum(aicd_feedback_total{{model="{MODEL}"}})', lambda r: value(r) == 10, timeout=20)
    send_feedback(url, 38, 2)
    prometheus.wait_for(f'sum(aicd_feedback_total{{model="{MODEL}"}})', lambda r: value(r) == 50)
    accuracy = without_threshold(yaml.safe_load(rules)["groups"][0]["rules"][0]["expr"])
    assert value(prometheus.query(accuracy)) > 0.85
    time.sleep(2.5)  # more than two evaluations with the new counts
    assert all(rule["health"] == "ok" for rule in prometheus.rule_groups()[0]["rules"])
    assert not [a for a in prometheus.alerts() if a["labels"]["alertname"] == "ModelAccuracyDrop"]

    send_feedback(url, 0, 60)  # 38 of the last 100 in the window were right
    deadline = time.monotonic() + 20
    while not (firing := [a for a in prometheus.alerts()
                          if a["labels"]["alertname"] == "ModelAccuracyDrop" and a["state"] == "firing"]):
        assert time.monotonic() < deadline, f"no firing ModelAccuracyDrop: {prometheus.alerts()}"
        time.sleep(0.25)
    [alert] = firing
    assert {k: alert["labels"][k] for k in ("model", "version", "variant", "severity")} == \
        {"model": MODEL, "version": "3", "variant": "stable", "severity": "critical"}
    assert float(alert["value"]) < 0.85
    assert alert["annotations"]["summary"].startswith("coffee version 3 (stable): online accuracy ")


@pytest.mark.parametrize("method,threshold", [("kl", 0.1), ("psi", 0.1), ("js", 0.15)])
def test_the_drift_rule_computes_the_gates_own_statistic(prometheus, serve, method, threshold):
    """The alert and the production gate agree: Prometheus's value of the drift rule equals the
    gate's drift_checks statistic for the same counts, for every method PromQL can express."""
    rules = alert_rules(MODEL, window="1m", for_="0s", drift_method=method, drift_threshold=threshold)
    prometheus.add_rule_file(rules)
    server = serve(variant="b", model_version="5")
    prometheus.set_targets([server.target])
    url = server.wait_ready()
    # skewed traffic, with an unseen category (bin "other") and missing values (left out of drift)
    rows = json.loads(generate(60, seed=11, drift=1.0).drop(columns="clicked").to_json(orient="records"))
    rows[0]["preferred_roast"], rows[1]["avg_spend"], rows[2]["hour"] = "extra dark", None, None
    # The same rows first once, then ten times: every bin's series exists before the counted traffic, and
    # its first sample is a tenth of that traffic in every bin, so increase() extrapolates all bins alike.
    post(f"{url}/predict", {"instances": rows})
    total = f'sum(aicd_feature_values_total{{model="{MODEL}"}})'
    prometheus.wait_for(total, lambda r: value(r) == 60 * 8, timeout=20)
    post(f"{url}/predict", {"instances": rows * 10})
    prometheus.wait_for(total, lambda r: value(r) == 11 * 60 * 8)

    counts, reference = server_bins(url)
    gate = drift_checks(Snapshot(bins=counts, reference=reference), LiveDriftConfig(method, threshold, 1))
    expected = {c.metric.removeprefix("drift:"): c.candidate for c in gate if c.metric != "drift:overall"}
    [rule] = [r for r in yaml.safe_load(rules)["groups"][0]["rules"] if r["alert"] == "ModelFeatureDrift"]
    computed = {r["metric"]["feature"]: value([r]) for r in prometheus.query(without_threshold(rule["expr"]))}
    assert computed.keys() == expected.keys()
    for feature, want in expected.items():
        assert computed[feature] == pytest.approx(want, rel=1e-3, abs=1e-6), (feature, computed, expected)
    drifted = {c.metric.removeprefix("drift:") for c in gate if c.verdict == "drift" and c.metric != "drift:overall"}
    assert drifted and drifted != set(expected)  # the threshold separates the features
    assert {r["metric"]["feature"] for r in prometheus.query(rule["expr"])} == drifted
    deadline = time.monotonic() + 10
    while {a["labels"]["feature"] for a in prometheus.alerts() if a["labels"]["alertname"] == "ModelFeatureDrift"
           and a["state"] == "firing" and f"drifted, {method} " in a["annotations"]["summary"]} != drifted:
        assert time.monotonic() < deadline, prometheus.alerts()
        time.sleep(0.25)


def test_alerts_keep_the_scrape_labels_so_distinct_servers_are_never_pooled(prometheus, serve):
    """Two servers of the same model, version and variant, scraped with different target labels: one
    bad, one good. The accuracy alert fires for the bad one only (pooled, it would be 0.5 for both)."""
    rules = alert_rules(MODEL, window="30s", for_="0s", min_accuracy=0.8)
    prometheus.add_rule_file(rules)
    eu, us = serve(model_version="9"), serve(model_version="9")
    prometheus.set_target_groups([([eu.target], {"cluster": "eu"}), ([us.target], {"cluster": "us"})])
    eu_url, us_url = eu.wait_ready(), us.wait_ready()
    send_feedback(eu_url, 1, 1)
    send_feedback(us_url, 1, 1)  # every outcome series exists before the counts that matter
    prometheus.wait_for(f'sum(aicd_feedback_total{{model="{MODEL}",version="9"}})', lambda r: value(r) == 4,
                        timeout=20)
    send_feedback(eu_url, 0, 60)
    send_feedback(us_url, 60, 0)
    prometheus.wait_for(f'sum(aicd_feedback_total{{model="{MODEL}",version="9"}})', lambda r: value(r) == 124)
    accuracy = without_threshold(yaml.safe_load(rules)["groups"][0]["rules"][0]["expr"])
    by_cluster = {r["metric"]["cluster"]: value([r]) for r in prometheus.query(accuracy)
                  if r["metric"].get("version") == "9"}
    assert by_cluster.keys() == {"eu", "us"} and by_cluster["eu"] < 0.1 < 0.9 < by_cluster["us"]
    deadline = time.monotonic() + 15
    while not (firing := {a["labels"].get("cluster") for a in prometheus.alerts()
                          if a["labels"]["alertname"] == "ModelAccuracyDrop" and a["state"] == "firing"
                          and a["labels"].get("version") == "9"}):
        assert time.monotonic() < deadline, prometheus.alerts()
        time.sleep(0.25)
    assert firing == {"eu"}


def server_bins(url: str) -> tuple[dict, dict]:
    """The server's own feature bin counts (without ``missing``) and reference shares, from /metrics."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    counts, reference = {}, {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            feature, bin_ = sample.labels.get("feature"), sample.labels.get("bin")
            if sample.name == "aicd_feature_values_total" and bin_ != "missing":
                counts.setdefault(feature, {})[bin_] = sample.value
            elif sample.name == "aicd_feature_reference_ratio":
                reference.setdefault(feature, {})[bin_] = sample.value
    return counts, reference

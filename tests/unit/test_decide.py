import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from aicd.config import MonitorConfig
from aicd.monitor.decide import decide, wilson_interval
from aicd.monitor.metrics import Snapshot, parse_snapshot

CFG = MonitorConfig()


def snapshot(requests=1000, errors=0, correct=950, incorrect=50, latency=0.01):
    return Snapshot(requests, errors, correct, incorrect, [(latency, requests), (float("inf"), requests)])


def test_wilson_interval_known_value():
    lo, hi = wilson_interval(81, 263, 0.95)  # the textbook example (Wilson 1927 via Newcombe 1998)
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)
    assert wilson_interval(0, 0, 0.95) == (0.0, 1.0)


def test_a_healthy_model_is_promoted():
    assert decide(snapshot(), CFG).decision == "promote"


def test_low_traffic_holds_and_says_not_enough_samples():
    d = decide(snapshot(requests=40, correct=30, incorrect=5), CFG)
    assert d.decision == "hold"
    assert "not enough samples" in d.reason


def test_clearly_bad_accuracy_rolls_back():
    d = decide(snapshot(correct=700, incorrect=300), CFG)
    assert d.decision == "rollback" and "online-accuracy" in d.reason


def test_accuracy_near_the_threshold_is_inconclusive_not_a_coin_flip():
    d = decide(snapshot(correct=170, incorrect=30), CFG)  # 0.85 observed, interval straddles 0.85
    assert d.decision == "hold"
    assert [c.verdict for c in d.checks if c.name == "online-accuracy"] == ["inconclusive"]


def test_errors_and_latency_roll_back():
    assert decide(snapshot(errors=100), CFG).decision == "rollback"
    assert decide(snapshot(latency=2.5), CFG).decision == "rollback"


def test_parse_the_servers_metric_names():
    registry = CollectorRegistry()
    requests = Counter("aicd_requests", "", ["route", "status"], registry=registry)
    feedback = Counter("aicd_feedback", "", ["outcome"], registry=registry)
    latency = Histogram("aicd_request_latency_seconds", "", buckets=(0.01, 0.1), registry=registry)
    requests.labels("predict", "200").inc(97)
    requests.labels("predict", "500").inc(3)
    requests.labels("feedback", "200").inc(50)
    feedback.labels("correct").inc(45)
    feedback.labels("incorrect").inc(5)
    for _ in range(90):
        latency.observe(0.005)
    for _ in range(10):
        latency.observe(0.05)
    snap = parse_snapshot(generate_latest(registry).decode())
    assert (snap.requests, snap.errors, snap.correct, snap.incorrect) == (100, 3, 45, 5)
    assert snap.latency_quantile(0.9) == pytest.approx(0.01)
    assert snap.latency_quantile(0.95) == pytest.approx(0.1)

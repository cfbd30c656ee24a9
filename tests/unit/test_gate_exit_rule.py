"""The production gate's exit rule (issue: a rollback decision exits 0): a rollback decision fails the
step in every mode unless on-failure: report; promote, hold and retrain pass.

The servers here are real HTTP servers exposing /metrics made by the model server's own metrics
class (aicd.serve.metrics.ServerMetrics), so the gate reads them exactly as it reads production.
"""

import http.server
import re
import threading

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from aicd.errors import ConfigError, GateFailed, UserError
from aicd.gha import Actions
from aicd.serve.metrics import ServerMetrics
from aicd.steps import monitor
from tests.conftest import STEP_ENV, run_aicd


def metrics_text(correct: int, incorrect: int, version: str = "3", variant: str = "stable", name: str = "m") -> bytes:
    metrics = ServerMetrics({"model_name": name, "model_version": version, "run_id": "r"}, variant, "onnx", {})
    for _ in range(correct + incorrect):
        metrics.request("predict", 200)
        metrics.latency(0.004)
    metrics.feedback["correct"] += correct
    metrics.feedback["incorrect"] += incorrect
    registry = CollectorRegistry()
    registry.register(metrics)
    return generate_latest(registry)


@pytest.fixture
def server():
    """``server(correct, incorrect)`` → the URL of a /metrics server with those feedback counts."""
    started = []

    def start(correct, incorrect, **labels):
        body = metrics_text(correct, incorrect, **labels)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("content-type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        started.append(httpd)
        return f"http://127.0.0.1:{httpd.server_port}"

    yield start
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


def gate(url, tmp_path, **inputs):
    return monitor.run({"endpoint": url, "report": str(tmp_path / "m.json"), **inputs}, Actions({}), env=STEP_ENV)


def test_a_rollback_decision_fails_the_step_unless_report_only(server, tmp_path):
    bad = server(500, 500)  # online accuracy 0.5, far below 0.85
    with pytest.raises(GateFailed, match="nothing was rolled back") as refused:
        gate(bad, tmp_path)  # the default, on-failure: fail
    assert refused.value.outputs["decision"] == "rollback" and refused.value.outputs["rolled-back"] == "false"
    out = gate(bad, tmp_path, **{"on-failure": "report"})
    assert out["decision"] == "rollback" and out["rolled-back"] == "false"


def test_a_tenant_judges_only_its_own_models_production(server, tmp_path):
    """Another model's endpoint given with a tenant is refused before anything is published or done."""
    theirs = server(2000, 20, name="globex__m")
    with pytest.raises(ConfigError, match="tenant 'acme' may not touch the deployment of model 'globex__m'"):
        gate(theirs, tmp_path, tenant="acme", **{"on-success": "promote"})
    assert not (tmp_path / "m.json").exists()
    assert gate(server(2000, 20, name="acme__m"), tmp_path, tenant="acme")["decision"] == "promote"


def test_promote_and_hold_pass(server, tmp_path):
    assert gate(server(2000, 20), tmp_path)["decision"] == "promote"
    assert gate(server(5, 0), tmp_path)["decision"] == "hold"  # too few labels


def test_the_old_report_only_spelling_is_refused_with_the_new_choices(server, tmp_path):
    with pytest.raises(ConfigError, match=r"on-failure.*none is no longer accepted") as err:
        gate(server(500, 500), tmp_path, **{"on-failure": "none"})
    assert "report (report only, the step passes)" in err.value.hint


def test_the_command_exits_1_on_rollback_and_0_on_report(server, tmp_path):
    bad = server(500, 500)
    failed = run_aicd("monitor", "--endpoint", bad, "--report", str(tmp_path / "a.json"))
    assert failed.code == 1 and "production gate: rollback" in failed.output and "Traceback" not in failed.output
    passed = run_aicd("monitor", "--endpoint", bad, "--on-failure", "report", "--report", str(tmp_path / "b.json"))
    assert passed.code == 0, passed.output


def test_each_sides_servers_can_be_named_explicitly_whatever_variant_they_report(server, tmp_path):
    """Two local deployments both report variant=stable; baseline-endpoint / candidate-endpoint make them
    stable and canary for the gate (a canary on the local target)."""
    stable, canary = server(2000, 100, version="1"), server(1000, 1000, version="2")
    sides = {"baseline-endpoint": stable, "candidate-endpoint": canary, "compare": "canary"}
    with pytest.raises(GateFailed) as refused:
        gate("", tmp_path, **sides)
    out = refused.value.outputs
    assert out["decision"] == "rollback"
    evidence = __import__("json").loads(out["evidence"])
    assert (evidence["model"]["version"], evidence["baseline"]["version"]) == ("2", "1")
    assert evidence["samples"]["stable"]["feedback"] == 2100 and evidence["samples"]["canary"]["feedback"] == 2000
    with pytest.raises(UserError, match="stable is served by several versions at once") as mixed:
        gate(f"{stable},{canary}", tmp_path, compare="canary")  # the labels alone cannot split them
    assert "baseline-endpoint" in mixed.value.hint


@pytest.mark.parametrize("inputs,message", [
    ({"baseline-endpoint": "http://127.0.0.1:9"}, "`candidate-endpoint` is empty"),
    ({"baseline-endpoint": "http://127.0.0.1:9", "candidate-endpoint": "http://127.0.0.1:9", "compare": "none"},
     "compare two sides"),
    ({"baseline-endpoint": "http://127.0.0.1:9", "candidate-endpoint": "http://127.0.0.1:9", "compare": "canary",
      "prometheus-url": "http://127.0.0.1:9"}, "replace `endpoint` and `prometheus-url`"),
    ({"baseline-endpoint": "ftp://x", "candidate-endpoint": "http://127.0.0.1:9", "compare": "ab"},
     "baseline-endpoint"),
])
def test_explicit_sides_are_checked_before_anything_is_read(tmp_path, inputs, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        monitor.run({"report": str(tmp_path / "m.json"), "compare": "canary", **inputs}, Actions({}), env=STEP_ENV)


def test_a_page_that_is_not_an_aicd_server_is_one_clear_line_even_with_nan_samples(tmp_path):
    """Prometheus's own /metrics (NaN quantiles) given as the endpoint: no traceback, no exit 70."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'# TYPE go_gc_duration_seconds summary\ngo_gc_duration_seconds{quantile="0"} NaN\n'
                             b'go_gc_duration_seconds_sum 0\ngo_gc_duration_seconds_count 0\n')

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        result = run_aicd("monitor", "--endpoint", f"http://127.0.0.1:{httpd.server_port}",
                          "--report", str(tmp_path / "m.json"))
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert result.code == 1 and "no model server serves the served model" in result.output
    assert "Traceback" not in result.output


def test_a_side_compared_with_itself_is_refused(server, tmp_path):
    one = server(100, 0)
    with pytest.raises(ConfigError, match="both name"):
        gate("", tmp_path, compare="canary", **{"baseline-endpoint": one, "candidate-endpoint": f"{one}/"})

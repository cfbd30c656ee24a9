"""The metrics sources' pure parts: per-series windows and answers that are not Prometheus."""

import pytest

from aicd.errors import ServiceError, UserError
from aicd.monitor.sources import _vector, parse_selector, promql_selector, series_increase


def series(instance, status, value):
    return ({"__name__": "aicd_requests_total", "instance": instance, "status": status}, value)


def test_replicas_never_offset_each_other_and_a_restart_counts_from_zero():
    before = [series("r1", "200", 1000), series("r2", "200", 50), series("r2", "500", 3)]
    now = [series("r1", "200", 1400), series("r2", "200", 20),  # r2 restarted: 20 since
           series("r3", "200", 30)]  # r3 is new: all 30 count
    grown = {(labels["instance"], labels["status"]): v for labels, v in series_increase(before, now)}
    assert grown == {("r1", "200"): 400, ("r2", "200"): 20, ("r3", "200"): 30}


@pytest.mark.parametrize("answer", [[1, 2], {"status": "success", "data": {"resultType": "vector",
                                                                          "result": [{"metric": {}}]}}])
def test_an_answer_that_is_not_prometheus_is_one_service_error(answer):
    with pytest.raises(ServiceError, match="did not answer like Prometheus"):
        _vector(answer, "up", "Prometheus at http://x")


def test_selectors_are_checked_and_values_escaped():
    assert parse_selector('{namespace="aicd-acme", job=~"serve.*"}') == 'namespace="aicd-acme", job=~"serve.*"'
    with pytest.raises(UserError, match="input `selector`"):
        parse_selector("namespace=acme")
    assert promql_selector({"model": 'a"b'}) == '{model="a\\"b"}'


def test_a_port_that_does_not_speak_http_is_one_service_error():
    import socket
    import threading

    from aicd.monitor.sources import EndpointSource, PrometheusSource

    listener = socket.create_server(("127.0.0.1", 0))

    def babble():
        for _ in range(4):
            conn, _ = listener.accept()
            conn.recv(1024)
            conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
            conn.close()

    threading.Thread(target=babble, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    with pytest.raises(ServiceError, match="cannot read /metrics"):
        EndpointSource([url]).read({"served": {}}, "served")
    with pytest.raises(ServiceError, match="cannot be reached"):
        PrometheusSource(url, attempts=3, backoff=0).query("up", 0)
    listener.close()

"""The model server as a real process: graceful shutdown, JSON logs, refusing a tampered model."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from aicd.modelfiles import ONNX_FILE
from tests.conftest import SHARED
from tests.integration.conftest import free_port, wait_http
from tests.integration.model_server import ROW, coffee_model_dir, start_model_server


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return coffee_model_dir(tmp_path_factory.mktemp("model"))


def test_sigterm_lets_an_in_flight_request_finish_and_every_log_line_is_json(model_dir, tmp_path):
    log_path = tmp_path / "server.log"
    server = start_model_server(*model_dir, log_path, args=("--grace", "10"))
    proc, port = server.proc, server.port
    try:
        server.wait_ready()
        body = json.dumps(ROW).encode()
        sock = socket.create_connection(("127.0.0.1", port), timeout=15)
        sock.sendall(b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                     b"content-length: %d\r\n\r\n" % len(body) + body[:10])
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGTERM)  # the request is half received
        time.sleep(0.5)
        with pytest.raises(OSError):  # no new connections once shutting down
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        sock.sendall(body[10:])
        answer = b""
        while chunk := sock.recv(65536):  # the server closes the connection once it has answered
            answer += chunk
        sock.close()
        answer = answer.decode()
        assert answer.startswith("HTTP/1.1 200") and '"predictions"' in answer
        assert proc.wait(15) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once drained
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    events = [json.loads(line)["event"] for line in log_path.read_text().splitlines()]
    assert events[:2] == ["starting", "ready"] and "stopped" in events


def test_a_tampered_model_file_refuses_to_start_with_one_json_line(model_dir, tmp_path):
    source, sha256 = model_dir
    tampered = tmp_path / "model"
    tampered.mkdir()
    for f in source.iterdir():
        (tampered / f.name).write_bytes(f.read_bytes())
    with open(tampered / ONNX_FILE, "ab") as fh:
        fh.write(b"\0")
    log_path = tmp_path / "server.log"
    assert start_model_server(tampered, sha256, log_path).proc.wait(30) == 1
    lines = log_path.read_text().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["event"] == "refusing to start" and "model.onnx has SHA-256" in record["error"]
    assert f"expected {sha256}" in record["error"]


def test_the_ab_router_splits_users_stickily_between_two_real_servers(model_dir, tmp_path):
    """Two model servers (versions 1 and 2) behind the router: 30 % of users on b, each user always
    on the same variant, the answer from that variant's server."""
    import urllib.request

    servers, router = [], None
    try:
        for variant, version in (("a", "1"), ("b", "2")):
            servers.append(start_model_server(*model_dir, tmp_path / f"{variant}.log", variant=variant,
                                              model_version=version))
        ports = {"a": servers[0].port, "b": servers[1].port}
        router_port = free_port()
        env = {**os.environ, "PYTHONPATH": str(SHARED), "AICD_AB_A": f"http://127.0.0.1:{ports['a']}",
               "AICD_AB_B": f"http://127.0.0.1:{ports['b']}", "AICD_AB_SPLIT": "30", "AICD_PORT": str(router_port),
               "AICD_HOST": "127.0.0.1"}
        with open(tmp_path / "router.log", "wb") as log:
            router = subprocess.Popen([sys.executable, "-m", "aicd.serve.router"], stdout=log, stderr=log, env=env,
                                      start_new_session=True)
        for server in servers:
            server.wait_ready()
        wait_http(f"http://127.0.0.1:{router_port}/readyz", 30, router, tmp_path / "router.log")

        def ask(user):
            req = urllib.request.Request(f"http://127.0.0.1:{router_port}/predict", json.dumps(ROW).encode(),
                                         {"content-type": "application/json", "x-user-id": user})
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.headers["x-aicd-variant"], resp.headers["x-model-version"]

        seen = {f"user-{i}": ask(f"user-{i}") for i in range(400)}
        assert all(version == {"a": "1", "b": "2"}[variant] for variant, version in seen.values())
        share_b = sum(v == "b" for v, _ in seen.values()) / len(seen)
        assert 0.24 <= share_b <= 0.36, share_b  # 30 % of 400 users, binomial sd 2.3 %
        assert all(ask(user) == answer for user, answer in list(seen.items())[:50])  # sticky
    finally:
        if router is not None:
            os.killpg(router.pid, signal.SIGTERM)
            router.wait(15)
        for server in servers:
            server.stop()

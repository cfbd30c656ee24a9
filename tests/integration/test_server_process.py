"""The model server as a real process: graceful shutdown, JSON logs, refusing a tampered model."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from aicd.data.drift import profile_frame
from aicd.model.onnx_export import export_onnx
from aicd.model.train import with_preprocessing
from aicd.modelfiles import ONNX_FILE, write_onnx_model_dir
from tests.conftest import SHARED
from tests.integration.conftest import free_port, wait_http

ROW = {"age": 25, "visits_per_week": 3.5, "avg_spend": 5.0, "preferred_roast": "dark", "hour": 8,
       "coffee_roast": "dark", "coffee_price": 3.2, "coffee_sweetness": 0.7}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from sklearn.ensemble import RandomForestClassifier

    from aicd.examples.coffee import generate

    frame = generate(600)
    x, y = frame.drop(columns="clicked"), frame["clicked"]
    types = {c: ("str" if c.endswith("roast") else "float") for c in x.columns}
    model = with_preprocessing(RandomForestClassifier(20, random_state=0), x).fit(x, y)
    export = export_onnx(model, x, types, "classification")
    meta = {"features": list(x.columns), "feature_types": types, "model_version": "4", "example": ROW}
    path = tmp_path_factory.mktemp("model")
    sha256 = write_onnx_model_dir(path, export.blob, meta, profile_frame(x))
    return path, sha256


def start(model_dir, sha256, log):
    port = free_port()
    cmd = [sys.executable, "-m", "aicd.serve", "--model-dir", str(model_dir), "--sha256", sha256, "--port", str(port),
           "--grace", "10"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, env={**os.environ, "PYTHONPATH": str(SHARED)},
                            start_new_session=True)
    return proc, port


def test_sigterm_lets_an_in_flight_request_finish_and_every_log_line_is_json(model_dir, tmp_path):
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc, port = start(*model_dir, log)
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", 30, proc, log_path)
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
    with open(log_path, "wb") as log:
        proc, _ = start(tampered, sha256, log)
    assert proc.wait(30) == 1
    lines = log_path.read_text().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["event"] == "refusing to start" and "model.onnx has SHA-256" in record["error"]
    assert f"expected {sha256}" in record["error"]


def test_the_ab_router_splits_users_stickily_between_two_real_servers(model_dir, tmp_path):
    """Two model servers (versions 1 and 2) behind the router: 30 % of users on b, each user always
    on the same variant, the answer from that variant's server."""
    import urllib.request

    procs = []
    try:
        ports = {}
        for variant, version in (("a", "1"), ("b", "2")):
            with open(tmp_path / f"{variant}.log", "wb") as log:
                port = free_port()
                cmd = [sys.executable, "-m", "aicd.serve", "--model-dir", str(model_dir[0]), "--sha256", model_dir[1],
                       "--port", str(port), "--variant", variant, "--model-version", version]
                procs.append(subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True,
                                              env={**os.environ, "PYTHONPATH": str(SHARED)}))
                ports[variant] = port
        router_port = free_port()
        env = {**os.environ, "PYTHONPATH": str(SHARED), "AICD_AB_A": f"http://127.0.0.1:{ports['a']}",
               "AICD_AB_B": f"http://127.0.0.1:{ports['b']}", "AICD_AB_SPLIT": "30", "AICD_PORT": str(router_port),
               "AICD_HOST": "127.0.0.1"}
        with open(tmp_path / "router.log", "wb") as log:
            procs.append(subprocess.Popen([sys.executable, "-m", "aicd.serve.router"], stdout=log, stderr=log,
                                          env=env, start_new_session=True))
        for port in [*ports.values(), router_port]:
            wait_http(f"http://127.0.0.1:{port}/readyz", 30)

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
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)

"""A real model server (``python -m aicd.serve``) as a child process, and a small model to serve.

- ``coffee_model_dir(path)``: trains a small random forest on the coffee example, exports it to ONNX
  and writes a model dir with its drift profile; returns the dir and the model file's SHA-256.
- ``start_model_server(model_dir, sha256, log, ...)``: starts the server in its own process group on
  a free loopback port (or the one given) and returns a :class:`ModelServerProcess` at once; call
  ``wait_ready`` before sending requests. Usable as a context manager that stops it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import FEEDBACK_TOKEN, SHARED
from tests.integration.conftest import free_port, wait_http

__all__ = ["ROW", "ModelServerProcess", "coffee_model_dir", "coffee_regressor_dir", "start_model_server"]

ROW = {"age": 25, "visits_per_week": 3.5, "avg_spend": 5.0, "preferred_roast": "dark", "hour": 8,
       "coffee_roast": "dark", "coffee_price": 3.2, "coffee_sweetness": 0.7}


def coffee_model_dir(path: Path, rows: int = 600) -> tuple[Path, str]:
    """A classifier of the coffee example in ONNX form (about 1 s); the dir's meta has no model name,
    so pass ``model_name`` to the server when the metrics need one."""
    from sklearn.ensemble import RandomForestClassifier

    from aicd.data.drift import profile_frame
    from aicd.examples.coffee import generate
    from aicd.model.onnx_export import export_onnx
    from aicd.model.train import with_preprocessing
    from aicd.modelfiles import write_onnx_model_dir

    frame = generate(rows)
    x, y = frame.drop(columns="clicked"), frame["clicked"]
    types = {c: ("str" if c.endswith("roast") else "float") for c in x.columns}
    model = with_preprocessing(RandomForestClassifier(20, random_state=0), x).fit(x, y)
    export = export_onnx(model, x, types, "classification")
    meta = {"features": list(x.columns), "feature_types": types, "model_version": "4", "example": ROW}
    return path, write_onnx_model_dir(path, export.blob, meta, profile_frame(x))


def coffee_regressor_dir(path: Path, rows: int = 600, label: str = "avg_spend") -> tuple[Path, str]:
    """A regressor of the coffee example (``label`` from the other columns) in ONNX form, like
    :func:`coffee_model_dir`."""
    from sklearn.ensemble import RandomForestRegressor

    from aicd.data.drift import profile_frame
    from aicd.examples.coffee import generate
    from aicd.model.onnx_export import export_onnx
    from aicd.model.train import with_preprocessing
    from aicd.modelfiles import write_onnx_model_dir

    frame = generate(rows).drop(columns="clicked")
    x, y = frame.drop(columns=label), frame[label]
    types = {c: ("str" if c.endswith("roast") else "float") for c in x.columns}
    model = with_preprocessing(RandomForestRegressor(20, random_state=0), x).fit(x, y)
    export = export_onnx(model, x, types, "regression")
    example = {k: v for k, v in ROW.items() if k != label}
    meta = {"features": list(x.columns), "feature_types": types, "model_version": "4", "example": example,
            "task": "regression"}
    return path, write_onnx_model_dir(path, export.blob, meta, profile_frame(x))


@dataclass
class ModelServerProcess:
    proc: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def target(self) -> str:
        """``host:port``, as a Prometheus scrape target."""
        return f"127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30) -> str:
        """Waits for ``/readyz``; raises with the log's tail when the server exits first. Returns ``url``."""
        wait_http(f"{self.url}/readyz", timeout, self.proc, self.log)
        return self.url

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM to the process group, SIGKILL after ``timeout`` seconds; returns the exit status."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self) -> ModelServerProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_model_server(model_dir: Path, sha256: str, log: Path, *, port: int | None = None, variant: str = "stable",
                       model_name: str = "", model_version: str = "", args: tuple[str, ...] = ()) -> ModelServerProcess:
    """Starts ``python -m aicd.serve`` on 127.0.0.1; stdout and stderr (JSON lines) go to ``log``."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "aicd.serve", "--model-dir", str(model_dir), "--sha256", sha256,
           "--port", str(port), "--variant", variant, *args]
    if model_name:
        cmd += ["--model-name", model_name]
    if model_version:
        cmd += ["--model-version", model_version]
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                                env={**os.environ, "PYTHONPATH": str(SHARED), "AICD_FEEDBACK_TOKEN": FEEDBACK_TOKEN})
    return ModelServerProcess(proc, port, log)

"""What action-train costs besides the fit, cold and warm, next to an install of the full MLflow.

    python benchmarks/train_overhead.py

1. Cold install: the action's locked venv (mlflow-skinny, the client) built into an empty cache with
   an empty uv cache (every wheel downloaded), beside a venv with the full `mlflow` package built
   the same way — what an action that installs MLflow itself would pay.
2. The train step end to end as the action runs it (`shared/bin/aicd-action train`, a new process,
   a real MLflow server): wall time minus the fit. The first run after the install is "cold"
   (nothing in the OS page cache from a previous run of this venv, no .pyc yet); later runs are warm.

Prints each figure and the ratios. Needs network to the package index for step 1.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import needs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "shared"))


def timed(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, str]:
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return time.monotonic() - started, proc.stdout + proc.stderr


def cold_installs(work: Path) -> dict[str, float]:
    env = {**os.environ, "AICD_CACHE_DIR": str(work / "aicd-cache"), "UV_CACHE_DIR": str(work / "uv-cache")}
    aicd, _ = timed([str(ROOT / "shared/bin/aicd-venv"), str(ROOT / "requirements/aicd.lock")], env)
    full_venv = work / "full-mlflow"
    env2 = {**os.environ, "UV_CACHE_DIR": str(work / "uv-cache-2")}
    uv = needs.uv()
    subprocess.run([uv, "venv", "-q", str(full_venv)], env=env2, check=True)
    full, _ = timed([uv, "pip", "install", "-q", "--python", str(full_venv / "bin/python"), "mlflow==3.17.2",
                     "scikit-learn", "pandas", "pyarrow"], env=env2)
    sizes = {name: _du(path) for name, path in (("aicd", next((work / "aicd-cache").glob("venv-aicd-*"))),
                                                 ("full", full_venv))}
    return {"aicd_install_s": aicd, "full_install_s": full, "aicd_mb": sizes["aicd"], "full_mb": sizes["full"]}


def _du(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def train_overheads(work: Path, runs: int = 4) -> list[float]:
    from tests.integration.conftest import MlflowServer

    from aicd.demo import write_example

    paths = write_example(work / "example")
    (work / "mlflow").mkdir()
    server = MlflowServer(work / "mlflow")
    server.start()
    env = {**os.environ, "AICD_CACHE_DIR": str(work / "aicd-cache"), "AICD_DATA": str(paths["data"]),
           "AICD_CONFIG": str(paths["config"]), "AICD_TRACKING_URI": server.uri}
    overheads = []
    try:
        for i in range(runs):
            env["GITHUB_SHA"] = f"bench{i}"  # a new commit each time: no reuse, a full train step
            wall, log = timed([str(ROOT / "shared/bin/aicd-action"), "train"], env, cwd=work)
            fit = float(re.search(r"fit ([0-9.]+) s", log).group(1))
            overheads.append(wall - fit)
            print(f"  run {i + 1}: wall {wall:.2f} s, fit {fit:.2f} s, overhead {wall - fit:.2f} s")
    finally:
        server.stop()
    return overheads


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print("cold installs (empty caches, wheels downloaded):")
        inst = cold_installs(work)
        print(f"  aicd action venv (mlflow-skinny client): {inst['aicd_install_s']:.1f} s, {inst['aicd_mb']:.0f} MB")
        print(f"  full mlflow + scikit-learn + pandas:      {inst['full_install_s']:.1f} s, {inst['full_mb']:.0f} MB")
        print(f"  ratio full / aicd: {inst['full_install_s'] / inst['aicd_install_s']:.1f}x time, "
              f"{inst['full_mb'] / inst['aicd_mb']:.1f}x size")
        print("train step overhead (wall time of `aicd-action train` minus the fit):")
        overheads = train_overheads(work)
        print(f"  cold (first run): {overheads[0]:.2f} s; warm (median of the rest): "
              f"{statistics.median(overheads[1:]):.2f} s")


if __name__ == "__main__":
    main()

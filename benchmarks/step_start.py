"""How long a step takes before its own work starts, per stage, cold and warm, against the targets.

- cold: what a hosted runner pays on its first step — a fresh ``AICD_CACHE_DIR``, an empty uv cache
  (``UV_CACHE_DIR``), no uv on PATH (aicd-venv bootstraps its hashed uv with pip), the index reachable;
  ``shared/bin/aicd-venv`` on the lock ``aicd-action`` picks for the stage, then the interpreter
  importing the CLI and the stage module (what every run does before reading its inputs; the first
  import also compiles those modules' bytecode).
- warm: a later step with the venv cached: the same two, the venv found and the bytecode compiled.

Every stage is measured cold on caches of its own, as each job of a workflow starts on a new runner.

    python benchmarks/step_start.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"validate": 10.0, "monitor": 10.0, "train": 15.0, "deploy": 15.0}  # cold seconds (issue 22)
WARM_TARGET = 2.0


def stage_lock(stage: str) -> Path:
    """The lock aicd-action installs for ``stage`` (the same rule as shared/bin/aicd-action)."""
    own = ROOT / "requirements" / f"{stage}.lock"
    return own if stage in ("validate", "monitor", "deploy") else ROOT / "requirements" / "aicd.lock"


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {(done.stderr.strip().splitlines() or ['no message'])[-1]}")
    return time.perf_counter() - started, done.stdout.strip()


def start(stage: str, env: dict[str, str]) -> float:
    """Seconds from aicd-venv to the stage module imported: a step's cost before its own work."""
    started = time.perf_counter()
    _, venv = timed([str(ROOT / "shared/bin/aicd-venv"), str(stage_lock(stage))], env)
    subprocess.run([f"{venv}/bin/python", "-P", "-c", f"import aicd.cli, aicd.steps.{stage}"],
                   env={**env, "PYTHONPATH": str(ROOT / "shared")}, check=True, timeout=120)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="warm runs per stage (the median is shown)")
    args = parser.parse_args()
    path = [d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "uv").exists()]  # no uv on PATH
    base = {**os.environ, "PATH": os.pathsep.join(path)}  # the index, proxy and certificates as configured
    rows = []
    for stage, target in TARGETS.items():
        with tempfile.TemporaryDirectory() as tmp:
            env = {**base, "AICD_CACHE_DIR": f"{tmp}/aicd", "UV_CACHE_DIR": f"{tmp}/uv", "PIP_NO_CACHE_DIR": "1"}
            cold, *warm = (start(stage, env) for _ in range(1 + args.repeat))
            rows.append((stage, stage_lock(stage).name, cold, target, statistics.median(warm)))
    print(f"{'stage':<9} {'lock':<14} {'cold s':>7} {'target':>7} {'warm s':>7} {'target':>7}")
    for stage, lock, cold, target, warm in rows:
        print(f"{stage:<9} {lock:<14} {cold:7.1f} {target:7.0f} {warm:7.2f} {WARM_TARGET:7.0f}"
              f"  {'ok' if cold <= target and warm <= WARM_TARGET else 'OVER'}")


if __name__ == "__main__":
    main()

"""``python -m aicd`` leaves without the interpreter's teardown, but exits as a normal exit does."""

import subprocess
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"

SCRIPT = """\
import atexit, sys, time
from concurrent.futures import ThreadPoolExecutor
from aicd.__main__ import leave

pool = ThreadPoolExecutor(1)  # never shut down: an idle worker a normal exit wakes and joins
pool.submit(lambda: (time.sleep(0.3), print("worker finished", flush=True)))
atexit.register(lambda: print("atexit handler ran"))
sys.stdout.write("buffered without a newline")  # a pipe is block-buffered: only a flush gets it out
leave(int(sys.argv[1]))
print("after leave")
"""


def run(code: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SCRIPT, str(code)], capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(SHARED), "PATH": "/usr/bin:/bin"})


def test_leave_joins_workers_runs_exit_handlers_flushes_and_keeps_the_code():
    done = run(3)
    assert done.returncode == 3, done.stderr
    assert "worker finished" in done.stdout
    assert "atexit handler ran" in done.stdout
    assert "buffered without a newline" in done.stdout
    assert "after leave" not in done.stdout


def test_the_cli_exits_1_with_one_line_through_leave(tmp_path):
    done = subprocess.run([sys.executable, "-P", "-m", "aicd", "validate", "--data", str(tmp_path / "nope.csv")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={"PYTHONPATH": str(SHARED), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "nope.csv" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr

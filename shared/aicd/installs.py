"""Installing what one config needs and the actions do not carry: the gradient boosting libraries.

Every action installs ``requirements/aicd.lock``; XGBoost and LightGBM (about 30 MB with
onnxmltools, which exports them to ONNX) come only when ``model.estimator`` names one, from
``requirements/boosting.lock`` (hashed, compiled against aicd.lock), into the step's own venv with
the uv that lock carries. A failure is one line naming the package index.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from .errors import ServiceError

__all__ = ["BOOSTING_LOCK", "BOOSTING_PACKAGES", "ensure_boosting"]

BOOSTING_PACKAGES = ("xgboost", "lightgbm")
BOOSTING_LOCK = Path(__file__).resolve().parents[2] / "requirements" / "boosting.lock"


def ensure_boosting(package: str, say: Callable[[str], None] = lambda text: None) -> bool:
    """Install boosting.lock unless ``package`` (and onnxmltools) import already; True if it installed."""
    if package not in BOOSTING_PACKAGES or all(importlib.util.find_spec(p) for p in (package, "onnxmltools")):
        return False
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None or not BOOSTING_LOCK.is_file():
        raise ServiceError("aicd", f"{package} is not installed and cannot be: no uv or no {BOOSTING_LOCK.name}",
                           retryable=False, hint=f"install {package} and onnxmltools into the step's Python")
    say(f"installing {package} and onnxmltools for model.estimator ({BOOSTING_LOCK.name})")
    done = subprocess.run([uv, "pip", "install", "--quiet", "--python", sys.executable, "-r", str(BOOSTING_LOCK)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1][:300]
        raise ServiceError("package index", f"installing {package} failed: {last}", retryable=True,
                           hint="check that the runner reaches the package index (PyPI or your mirror)")
    importlib.invalidate_caches()
    return True

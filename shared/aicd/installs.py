"""Installing what one config needs and the actions do not carry: optional package sets.

Train installs ``requirements/aicd.lock``; validate, monitor and deploy install their own smaller
``validate.lock`` / ``monitor.lock`` (no scikit-learn, MLflow or ONNX) / ``deploy.lock`` (no scikit-learn,
pandas, PyArrow or ONNX). A few features need more, and
only the steps whose config or inputs ask for them pay for it. Each set is one hashed lock compiled
against aicd.lock (same versions), installed into the step's own venv with the uv that lock carries:

* ``boosting`` — XGBoost and LightGBM with onnxmltools (about 30 MB), when ``model.estimator`` names one;
* ``sql`` — the ADBC PostgreSQL driver (about 10 MB), when ``data`` is a query on a ``postgresql://`` URL;
* ``registry`` — the MLflow client and its sqlite store, when validate or monitor talks to the registry
  (a ``models:/`` reference, a promotion, a roll-back): :func:`aicd.registry.MlflowRegistry` asks for it;
* ``docker`` — the Docker SDK, when monitor rolls back a ``docker`` target;
* ``pandas`` — pandas (about 40 MB), when validate's config has a check that hashes or evaluates values
  (``data.keys``, ``data.max-duplicate-rows``, a column's ``expect``): :func:`aicd.data.scan.needs_pandas`;
* ``signing`` — OpenSSF model-signing with sigstore (about 25 MB), when train is given ``model-signing-key``
  or deploy ``model-signing-public-key``; the serving image never carries it.

A failure is one line naming the package index.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import ServiceError

__all__ = ["BOOSTING_PACKAGES", "EXTRAS", "Extra", "ensure", "ensure_boosting", "full_python"]

REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements"


@dataclass(frozen=True)
class Extra:
    """A package set: the modules that prove it is installed, its lock, why a step wants it, and whether
    aicd.lock already holds it (then only validate's and monitor's smaller venvs ever install it)."""

    modules: tuple[str, ...]
    lock: Path
    purpose: str
    in_aicd_lock: bool = False


EXTRAS = {
    "boosting": Extra(("xgboost", "lightgbm", "onnxmltools"), REQUIREMENTS / "boosting.lock", "model.estimator"),
    "sql": Extra(("adbc_driver_postgresql",), REQUIREMENTS / "sql.lock", "a PostgreSQL query in `data`"),
    "registry": Extra(("mlflow", "sqlalchemy", "alembic"), REQUIREMENTS / "registry.lock", "the model registry",
                      in_aicd_lock=True),
    "docker": Extra(("docker",), REQUIREMENTS / "docker.lock", "a `docker` target", in_aicd_lock=True),
    "signing": Extra(("model_signing", "OpenSSL"), REQUIREMENTS / "signing.lock", "model signing"),
    "pandas": Extra(("pandas",), REQUIREMENTS / "pandas.lock", "the key, duplicate-row and expect checks",
                    in_aicd_lock=True),
}
BOOSTING_PACKAGES = ("xgboost", "lightgbm")
# What the model server imports; a step whose venv has them all is running aicd.lock (train).
SERVER_MODULES = ("starlette", "uvicorn", "onnxruntime", "sklearn", "skops", "pandas")


def ensure(name: str, say: Callable[[str], None] = lambda text: None, needs: tuple[str, ...] = ()) -> bool:
    """Install the set ``name`` unless ``needs`` (default: all its modules) import already; True if it installed."""
    extra = EXTRAS[name]
    if all(importlib.util.find_spec(m) for m in needs or extra.modules):
        return False
    what = ", ".join(needs or extra.modules)
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None or not extra.lock.is_file():
        raise ServiceError("aicd", f"{what} is not installed and cannot be: no uv or no {extra.lock.name}",
                           retryable=False, hint=f"install {what} into the step's Python")
    say(f"installing {what} for {extra.purpose} ({extra.lock.name})")
    done = subprocess.run([uv, "pip", "install", "--quiet", "--python", sys.executable, "-r", str(extra.lock)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1][:300]
        raise ServiceError("package index", f"installing {what} failed: {last}", retryable=True,
                           hint="check that the runner reaches the package index (PyPI or your mirror)")
    importlib.invalidate_caches()
    return True


def ensure_boosting(package: str, say: Callable[[str], None] = lambda text: None) -> bool:
    """The boosting set for ``model.estimator``'s top-level package (nothing for scikit-learn's own)."""
    return package in BOOSTING_PACKAGES and ensure("boosting", say, needs=(package, "onnxmltools"))


def full_python(say: Callable[[str], None] = lambda text: None) -> str:
    """An interpreter holding everything aicd.lock does: this one when it does (train), else the
    aicd.lock venv, built once by shared/bin/aicd-venv — deploy or monitor starting a ``local`` target's
    model server, which their own locks cannot run."""
    if all(importlib.util.find_spec(m) for m in SERVER_MODULES):
        return sys.executable
    say(f"installing aicd.lock for the model server ({', '.join(SERVER_MODULES)})")
    script = REQUIREMENTS.parent / "shared" / "bin" / "aicd-venv"
    done = subprocess.run([str(script), str(REQUIREMENTS / "aicd.lock")], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1][:300]
        raise ServiceError("package index", f"installing aicd.lock failed: {last}", retryable=True,
                           hint="check that the runner reaches the package index (PyPI or your mirror)")
    return str(Path(done.stdout.strip()) / "bin" / "python")

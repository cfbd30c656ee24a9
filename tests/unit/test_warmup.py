"""The background import a train stage starts during its fit."""

import os
import subprocess
import sys
from pathlib import Path

SHARED = str(Path(__file__).resolve().parents[2] / "shared")


def test_the_modules_are_imported_by_the_time_wait_returns_and_a_missing_one_ends_quietly():
    """In a fresh interpreter: imported in order until one fails, nothing printed, nothing raised."""
    script = ("import sys\nfrom aicd.warmup import Warmup\n"
              "Warmup(['xml.dom.minidom', 'no_such_module_for_aicd', 'json.tool']).wait(timeout=60)\n"
              "print('xml.dom.minidom' in sys.modules, 'json.tool' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": SHARED})
    assert (done.returncode, done.stdout, done.stderr) == (0, "True False\n", "")


def test_the_train_stage_warms_what_follows_the_fit():
    from aicd.steps.train import AFTER_FIT

    assert {"skl2onnx", "skops.io", "mlflow.sklearn"} <= set(AFTER_FIT)


def test_the_train_stage_starts_without_scikit_learn_and_warms_it_for_the_fit():
    """scikit-learn is half of a warm train step's start: the stage module must not import it (the
    step imports it on a thread while the data is read)."""
    script = ("import sys, aicd.cli, aicd.steps.train\n"
              "print(sorted(m for m in ('sklearn', 'scipy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": SHARED})
    assert (done.returncode, done.stdout) == (0, "[]\n"), done.stderr[-2000:]

    from aicd.config import parse_config
    from aicd.steps.train import FOR_FIT, _fit_modules

    forest = parse_config("data: {label: y}\nmodel: {estimator: sklearn.ensemble.RandomForestClassifier}\n")
    boosted = parse_config("data: {label: y}\nmodel: {estimator: xgboost.XGBClassifier}\n")
    assert _fit_modules(forest) == (*FOR_FIT, "sklearn.ensemble")
    assert _fit_modules(boosted) == FOR_FIT  # installed on demand: not importable before that

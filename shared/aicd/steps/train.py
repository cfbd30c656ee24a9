"""``aicd train``: the model gate (train, evaluate on a seeded holdout, gate, log and register)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping

from ..config import load_config
from ..data.drift import profile_frame
from ..data.io import content_hash, read_table
from ..errors import ConfigError, GateFailed
from ..gha import Actions
from ..model.gate import ThresholdResult, check_thresholds
from ..model.train import build_estimator, train_and_evaluate
from ..registry import MlflowRegistry, ModelRecord
from . import Input, Output
from .summary import ICON, table

DESCRIPTION = "Model gate: train the configured scikit-learn model, gate it on holdout metrics, register it in MLflow."
OUTPUTS = (
    Output("passed", "true when every metric threshold was met (the step fails otherwise)."),
    Output("run-id", "The MLflow run that recorded this training."),
    Output("model-uri", "models:/<name>/<version> of the registered version (alias candidate); empty when refused."),
    Output("model-version", "The registered version number; empty when refused."),
    Output("metrics", "Holdout metrics as single-line JSON."),
)
INPUTS = (
    Input("data", "Training dataset (.csv, .parquet or .jsonl).", required=True),
    Input("config", "Path to aicd.yml; empty uses the built-in defaults.", ""),
    Input("data-version", "The data-version output of action-validate; computed from the file when empty.", ""),
    Input("tracking-uri", "MLflow tracking URI (http(s)://... or sqlite:///path/mlflow.db); "
          "empty uses MLFLOW_TRACKING_URI.", ""),
    Input("model-name", "Registered model name; empty uses model.name from aicd.yml.", ""),
)


def run(inputs: Mapping[str, str], gh: Actions, env: Mapping[str, str] | None = None) -> dict[str, str]:
    env = env if env is not None else os.environ
    cfg = load_config(inputs.get("config"))
    if not cfg.data.label:
        raise ConfigError("`data.label`: training needs a label column", file=cfg.file,
                          hint="add `data: {label: <column>}` to aicd.yml")
    uri = inputs.get("tracking-uri") or env.get("MLFLOW_TRACKING_URI", "")
    name = inputs.get("model-name") or cfg.model.name
    registry = MlflowRegistry(uri, artifact_root=_artifact_root(uri))  # fail fast, before a long fit
    frame = read_table(inputs["data"])
    data_version = inputs.get("data-version") or content_hash(inputs["data"])
    estimator = build_estimator(cfg.model, cfg.file, cfg.line_of("model.estimator"))
    gh.info(f"aicd train: fitting {cfg.model.estimator} on {len(frame):,} rows of {inputs['data']}")
    result = train_and_evaluate(frame, cfg.data.label, cfg.model, estimator, cfg.data.positive)
    gate = check_thresholds(result.metrics, cfg.model.thresholds)
    passed = all(g.passed for g in gate)
    gh.info(f"aicd train: holdout metrics {json.dumps(result.metrics)}; gate {'passed' if passed else 'failed'}")
    meta = {"features": result.features, "feature_types": result.feature_types, "classes": result.classes,
            "label": cfg.data.label, "positive": cfg.data.positive, "task": cfg.model.task,
            "data_version": data_version, "metrics": result.metrics,
            "profile": profile_frame(frame, cfg.data.drift.bins, exclude=[cfg.data.label]),
            "example": _example_row(frame.drop(columns=[cfg.data.label]))}
    record = registry.record_training(
        name=name, params={"estimator": cfg.model.estimator, **cfg.model.params, "seed": cfg.model.seed,
                           "test_size": cfg.model.test_size, "n_train": result.n_train, "n_test": result.n_test},
        metrics=result.metrics, tags=_tags(env, data_version, passed), model=result.model, meta=meta,
        input_example=frame.drop(columns=[cfg.data.label]).head(3), register=passed)
    outputs = {"passed": str(passed).lower(), "run-id": record.run_id, "model-uri": record.model_uri,
               "model-version": record.version or "", "metrics": result.metrics}
    gh.set_outputs(outputs)
    gh.summary(render_summary(name, record, result.metrics, gate, data_version))
    if not passed:
        for g in (g for g in gate if not g.passed):
            gh.annotate("error", f"{g.metric} {g.value:.4f} does not meet {g.direction} {g.threshold}",
                        file=cfg.file, line=cfg.line_of(f"model.thresholds.{g.metric}"), title="aicd model gate")
        refused = ", ".join(f"{g.metric} {g.value:.4f} (needs {g.direction} {g.threshold})" for g in gate
                            if not g.passed)
        raise GateFailed(f"model gate failed: {refused}; nothing was registered")
    return {k: v if isinstance(v, str) else json.dumps(v, sort_keys=True, separators=(",", ":"))
            for k, v in outputs.items()}


def _artifact_root(uri: str) -> str | None:
    """Keep a local sqlite store's artifacts beside its database instead of in ./mlruns."""
    if uri.startswith("sqlite:///"):
        return os.path.join(os.path.dirname(uri[len("sqlite:///"):]) or ".", "artifacts")
    return None


def _git_sha(env: Mapping[str, str]) -> str:
    if env.get("GITHUB_SHA"):
        return env["GITHUB_SHA"]
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _tags(env: Mapping[str, str], data_version: str, passed: bool) -> dict[str, str]:
    sha = _git_sha(env)
    tags = {"aicd.data_version": data_version, "aicd.git_sha": sha, "mlflow.source.git.commit": sha,
            "aicd.gate": "passed" if passed else "failed"}
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        tags["aicd.workflow_run"] = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return tags


def _example_row(features) -> dict:
    row = features.dropna().head(1)
    return json.loads(row.to_json(orient="records"))[0] if len(row) else {}


def render_summary(name: str, record: ModelRecord, metrics: dict, gate: list[ThresholdResult],
                   data_version: str) -> str:
    passed = all(g.passed for g in gate)
    head = (f"## {ICON[passed]} aicd model gate — {'passed' if passed else 'failed'}\n\n"
            f"model `{name}` · run `{record.run_id}` · data-version `{data_version}`\n\n"
            + (f"Registered **{record.model_uri}** with alias `candidate`." if record.version
               else "Nothing was registered."))
    gate_table = table(["metric", "value", "threshold", "verdict"],
                       [[g.metric, g.value, f"{g.direction} {g.threshold}", ICON[g.passed]] for g in gate])
    others = table(["metric", "value"], [[k, v] for k, v in metrics.items()])
    return f"{head}\n\n### Gate\n\n{gate_table}\n\n### Holdout metrics\n\n{others}"

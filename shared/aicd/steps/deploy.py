"""``aicd deploy``: put a registered model behind an endpoint, or roll back / stop (target ``local``)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..deploy.local import LocalTarget, Revision
from ..errors import ConfigError
from ..gha import Actions
from ..registry import MlflowRegistry, serving_checksum
from .specs import SPECS
from .summary import table

DESCRIPTION, INPUTS, OUTPUTS = SPECS["deploy"]
COMMANDS = ("deploy", "rollback", "stop")
TARGETS = ("local",)


def run(inputs: Mapping[str, str], gh: Actions, env: Mapping[str, str] | None = None) -> dict[str, str]:
    env = env if env is not None else os.environ
    target_name, command = inputs.get("target") or "local", inputs.get("command") or "deploy"
    if target_name not in TARGETS:
        raise ConfigError(f"input `target`: {target_name!r} is not supported yet", hint=f"use one of {TARGETS}")
    if command not in COMMANDS:
        raise ConfigError(f"input `command`: {command!r} is not one of {', '.join(COMMANDS)}")
    target = LocalTarget(inputs.get("state-dir") or ".aicd/deploy", _timeout(inputs.get("ready-timeout") or "60"))
    if command == "stop":
        target.stop_all()
        gh.info(f"aicd deploy: stopped every revision in {target.dir}")
        return {}
    if command == "rollback":
        serving, rolled_back = target.rollback()
        return _finish(gh, "rollback", serving, rolled_back)
    if not inputs.get("model-uri"):
        raise ConfigError("input `model-uri` is required to deploy", hint="pass the model-uri output of action-train")
    registry = MlflowRegistry(inputs.get("tracking-uri") or env.get("MLFLOW_TRACKING_URI", ""))
    number, folder = target.next_revision_dir()
    gh.info(f"aicd deploy: fetching {inputs['model-uri']} for revision {number}")
    model_dir, meta = registry.fetch_model(inputs["model-uri"], folder / "model")
    rev = Revision(number, inputs["model-uri"], meta["model_version"], meta["run_id"], serving_checksum(meta),
                   str(model_dir))
    gh.info(f"aicd deploy: starting revision {number} (model version {rev.model_version}) and waiting for /readyz")
    serving, previous = target.deploy(rev)
    return _finish(gh, "deploy", serving, previous)


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1
    if value <= 0:
        raise ConfigError(f"input `ready-timeout`: {text!r} is not a positive number of seconds")
    return value


def _finish(gh: Actions, command: str, serving: Revision, other: Revision | None) -> dict[str, str]:
    outputs = {"endpoint": serving.endpoint, "revision": str(serving.revision),
               "previous-revision": str(other.revision) if other else "", "model-version": serving.model_version}
    gh.set_outputs(outputs)
    rows = [["serving", serving.revision, serving.model_uri, serving.run_id, serving.endpoint]]
    if other:
        rows.append(["previous" if command == "deploy" else "rolled back", other.revision, other.model_uri,
                     other.run_id, other.endpoint if command == "deploy" else "stopped"])
    verb = "deployed" if command == "deploy" else "rolled back"
    gh.summary(f"## 🚀 aicd release — {verb} (local)\n\n" +
               table(["", "revision", "model", "run", "endpoint"], rows))
    return outputs

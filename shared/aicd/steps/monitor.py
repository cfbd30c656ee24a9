"""``aicd monitor``: the production gate (read metrics, decide, optionally roll back)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from ..config import load_config
from ..deploy.local import LocalTarget
from ..errors import ConfigError, UserError
from ..gha import Actions
from ..monitor.decide import Decision, decide
from ..monitor.metrics import read_endpoint
from ..registry import MlflowRegistry
from .promote import promote
from .specs import SPECS
from .summary import table

DESCRIPTION, INPUTS, OUTPUTS = SPECS["monitor"]
ON_FAILURE = ("none", "rollback")
ON_SUCCESS = ("none", "promote")
VERDICT_ICON = {"pass": "✅", "fail": "❌", "inconclusive": "⏸️"}
DECISION_ICON = {"promote": "✅", "hold": "⏸️", "rollback": "⏪"}


def run(inputs: Mapping[str, str], gh: Actions, env: Mapping[str, str] | None = None) -> dict[str, str]:
    env = env if env is not None else os.environ
    on_failure, on_success = inputs.get("on-failure") or "none", inputs.get("on-success") or "none"
    if on_failure not in ON_FAILURE:
        raise ConfigError(f"input `on-failure`: {on_failure!r} is not one of {', '.join(ON_FAILURE)}")
    if on_success not in ON_SUCCESS:
        raise ConfigError(f"input `on-success`: {on_success!r} is not one of {', '.join(ON_SUCCESS)}")
    cfg = load_config(inputs.get("config"))
    gh.info(f"aicd monitor: reading {inputs['endpoint']}/metrics")
    snapshot = read_endpoint(inputs["endpoint"])
    decision = decide(snapshot, cfg.monitor)
    rolled_back = ""
    if decision.decision == "rollback" and on_failure == "rollback":
        rolled_back = _roll_back(inputs, env, snapshot.model)
        gh.annotate("warning", f"aicd rolled back {rolled_back}: {decision.reason}", title="aicd production gate")
    promoted = ""
    if decision.decision == "promote" and on_success == "promote":
        registry = MlflowRegistry(inputs.get("tracking-uri") or env.get("MLFLOW_TRACKING_URI", ""))
        name, version, _ = promote(registry, inputs.get("tenant") or "",
                                   f"models:/{snapshot.model.get('name')}/{snapshot.model.get('version')}", gh)
        promoted = f"models:/{name}/{version}"
    evidence = {**decision.evidence(), "model": snapshot.model, "requests": snapshot.requests,
                "feedback": snapshot.feedback, "rolled_back": rolled_back, "promoted": promoted}
    report = Path(inputs.get("report") or "aicd-reports/monitor.json")
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(evidence, indent=1), encoding="utf-8")
    outputs = {"decision": decision.decision, "evidence": json.dumps(evidence, sort_keys=True, separators=(",", ":")),
               "rolled-back": "true" if rolled_back else "false", "promoted": promoted, "report": str(report)}
    gh.set_outputs(outputs)
    gh.summary(render_summary(decision, snapshot.model, rolled_back) + (f"\n\n**Promoted:** {promoted} is now "
                                                                      "champion" if promoted else ""))
    return outputs


def _roll_back(inputs: Mapping[str, str], env: Mapping[str, str], model: dict) -> str:
    """Roll the deployment back — only if it still serves the version that was judged."""
    target = inputs.get("target") or "local"
    if target not in ("local", "docker", "kubernetes"):
        raise ConfigError(f"input `target`: {target!r} is not one of local, docker, kubernetes")
    judged = str(model.get("version", ""))
    if target == "kubernetes":
        from .deploy_kube import kube_target

        kube = kube_target(inputs, env, model.get("name", ""), lambda text: None)
        record = kube.current_release()
        _same_version(record, judged)
        outcome = kube.rollback()
        return f"revision {record.revision} → revision {outcome.revision} ({kube.namespace}/{kube.name})"
    if target == "docker":
        from ..deploy.docker_target import DockerTarget, docker_client
        from .deploy_docker import deployment_name

        docker = DockerTarget(docker_client(env.get("DOCKER_HOST", "")), deployment_name(model.get("name", "")))
        _same_version(docker.current(), judged)
        serving, bad = docker.rollback()
        return f"revision {bad.revision} → revision {serving.revision} ({serving.container})"
    local = LocalTarget(inputs.get("state-dir") or ".aicd/deploy")
    _same_version(local.current(), judged)
    serving, bad = local.rollback()
    return f"revision {bad.revision} → revision {serving.revision} at {serving.endpoint}"


def _same_version(current, judged: str) -> None:
    if current is None or str(current.model_version) != judged:
        now = current.model_version if current else "nothing"
        raise UserError(f"not rolling back: the deployment now serves model version {now}, not the judged "
                        f"version {judged}", hint="another deploy happened meanwhile; monitor it afresh")


def render_summary(decision: Decision, model: dict, rolled_back: str) -> str:
    rows = [[VERDICT_ICON[c.verdict] + " " + c.verdict, c.name, c.value,
             f"[{c.interval[0]:.4f}, {c.interval[1]:.4f}]" if c.interval else "", c.threshold, c.samples, c.note]
            for c in decision.checks]
    who = f"model `{model.get('name', '?')}` version `{model.get('version', '?')}`" if model else "model (unknown)"
    text = (f"## {DECISION_ICON[decision.decision]} aicd production gate — {decision.decision}\n\n"
            f"{who}: {decision.reason}\n\n"
            + table(["verdict", "check", "value", "interval", "threshold", "samples", "note"], rows))
    return text + (f"\n\n**Rolled back:** {rolled_back}" if rolled_back else "")

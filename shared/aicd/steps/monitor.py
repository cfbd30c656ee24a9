"""``aicd monitor``: the production gate (read metrics, decide, optionally roll back)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from ..config import load_config
from ..deploy.local import LocalTarget
from ..errors import ConfigError
from ..gha import Actions
from ..monitor.decide import Decision, decide
from ..monitor.metrics import read_endpoint
from . import Input, Output
from .summary import table

DESCRIPTION = "Production gate: read the model server metrics and decide promote, hold or rollback."
OUTPUTS = (
    Output("decision", "promote, hold or rollback."),
    Output("evidence", "Every check with value, interval, threshold and verdict, as single-line JSON."),
    Output("rolled-back", "true when on-failure: rollback was carried out."),
    Output("report", "Path of the JSON evidence."),
)
INPUTS = (
    Input("endpoint", "The model server to watch (the endpoint output of action-deploy).", required=True),
    Input("config", "Path to aicd.yml (its monitor: section); empty uses the built-in defaults.", ""),
    Input("on-failure", "What to do on a rollback decision: none (report only) or rollback.", "none"),
    Input("state-dir", "The deploy state folder, used to roll back the local target.", ".aicd/deploy"),
    Input("report", "Where to write the JSON evidence.", "aicd-reports/monitor.json"),
)
ON_FAILURE = ("none", "rollback")
VERDICT_ICON = {"pass": "✅", "fail": "❌", "inconclusive": "⏸️"}
DECISION_ICON = {"promote": "✅", "hold": "⏸️", "rollback": "⏪"}


def run(inputs: Mapping[str, str], gh: Actions) -> dict[str, str]:
    on_failure = inputs.get("on-failure") or "none"
    if on_failure not in ON_FAILURE:
        raise ConfigError(f"input `on-failure`: {on_failure!r} is not one of {', '.join(ON_FAILURE)}")
    cfg = load_config(inputs.get("config"))
    gh.info(f"aicd monitor: reading {inputs['endpoint']}/metrics")
    snapshot = read_endpoint(inputs["endpoint"])
    decision = decide(snapshot, cfg.monitor)
    rolled_back = ""
    if decision.decision == "rollback" and on_failure == "rollback":
        serving, bad = LocalTarget(inputs.get("state-dir") or ".aicd/deploy").rollback()
        rolled_back = f"revision {bad.revision} → revision {serving.revision} at {serving.endpoint}"
        gh.annotate("warning", f"aicd rolled back {rolled_back}: {decision.reason}", title="aicd production gate")
    evidence = {**decision.evidence(), "model": snapshot.model, "requests": snapshot.requests,
                "feedback": snapshot.feedback, "rolled_back": rolled_back}
    report = Path(inputs.get("report") or "aicd-reports/monitor.json")
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(evidence, indent=1), encoding="utf-8")
    outputs = {"decision": decision.decision, "evidence": json.dumps(evidence, sort_keys=True, separators=(",", ":")),
               "rolled-back": "true" if rolled_back else "false", "report": str(report)}
    gh.set_outputs(outputs)
    gh.summary(render_summary(decision, snapshot.model, rolled_back))
    return outputs


def render_summary(decision: Decision, model: dict, rolled_back: str) -> str:
    rows = [[VERDICT_ICON[c.verdict] + " " + c.verdict, c.name, c.value,
             f"[{c.interval[0]:.4f}, {c.interval[1]:.4f}]" if c.interval else "", c.threshold, c.samples, c.note]
            for c in decision.checks]
    who = f"model `{model.get('name', '?')}` version `{model.get('version', '?')}`" if model else "model (unknown)"
    text = (f"## {DECISION_ICON[decision.decision]} aicd production gate — {decision.decision}\n\n"
            f"{who}: {decision.reason}\n\n"
            + table(["verdict", "check", "value", "interval", "threshold", "samples", "note"], rows))
    return text + (f"\n\n**Rolled back:** {rolled_back}" if rolled_back else "")

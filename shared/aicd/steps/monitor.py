"""``aicd monitor``: the production gate — read production, decide, act.

Reads the served version(s) from the model servers directly (``endpoint``) or from Prometheus
(``prometheus-url``), evaluates ``monitor.evaluations`` times ``monitor.interval-seconds`` apart
(stopping at the first decision that is not ``hold``), then acts on the decision as the inputs allow:
``rollback`` through the deploy target, ``promote`` by moving the registry alias ``champion``,
``retrain`` by a ``repository_dispatch`` to GitHub. When production cannot be read the step fails
and nothing is promoted or rolled back; the ``decision`` output is then ``hold``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from ..config import load_config
from ..config_monitor import MonitorConfig, window_seconds
from ..errors import AicdError, ConfigError
from ..gha import Actions, md_escape
from ..monitor.decide import GROUPS, MODES, Decision, Evaluation, decide, evaluate
from ..monitor.metrics import Snapshot
from ..monitor.sources import EndpointSource, PrometheusSource, Source
from ..paths import check_writable, write_text
from ..urls import http_url
from .monitor_act import dispatch_retrain, promote_candidate, roll_back
from .monitor_summary import render_summary
from .specs import SPECS

DESCRIPTION, INPUTS, OUTPUTS = SPECS["monitor"]
CHOICES = {"on-failure": ("none", "rollback"), "on-success": ("none", "promote"), "on-drift": ("none", "retrain"),
           "compare": MODES}


def run(inputs: Mapping[str, str], gh: Actions, env: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep) -> dict[str, str]:
    env = env if env is not None else os.environ
    choice = {key: _choice(inputs, key) for key in CHOICES}
    cfg = load_config(inputs.get("config")).monitor
    report = _report_path(inputs, env)  # a bad report path is refused before production is read
    for secret in ("prometheus-token", "prometheus-password", "github-token"):
        if inputs.get(secret):
            gh.mask(inputs[secret])
    source = _source(inputs, cfg)
    mode = choice["compare"]
    try:
        decision, snaps = _analyse(source, _groups(inputs, mode), mode, cfg, gh, sleep)
    except AicdError as exc:
        gh.set_outputs({"decision": "hold", "evidence": json.dumps({"decision": "hold", "error": str(exc)}),
                        "rolled-back": "false", "promoted": "", "retrain-dispatched": "false", "report": ""})
        gh.summary(f"## ⛔ aicd production gate — could not read production\n\n{md_escape(str(exc))}\n\n"
                   "Nothing was promoted or rolled back.")
        raise
    candidate = snaps[GROUPS[mode][1]].model
    try:
        acted = _act(decision, choice, inputs, env, gh, mode, candidate)
    except AicdError as exc:  # the decision and its evidence are published even when acting on it failed
        _publish(report, gh, decision, mode, snaps, source, {**NOTHING_DONE, "action_failed": str(exc)})
        raise
    return _publish(report, gh, decision, mode, snaps, source, acted)


NOTHING_DONE = {"rolled_back": "", "promoted": "", "retrain_dispatched": False}


def _publish(report: Path, gh: Actions, decision: Decision, mode: str, snaps: dict[str, Snapshot],
             source: Source, acted: dict) -> dict[str, str]:
    """Report file, step outputs and job summary of a decision."""
    base_name, cand_name = GROUPS[mode]
    evidence = {**decision.evidence(), "compare": mode, "source": source.description, "model": snaps[cand_name].model,
                "baseline": snaps[base_name].model if mode != "none" else {},
                "samples": {name: _samples(s) for name, s in snaps.items()}, **acted}
    write_text(report, json.dumps(evidence, indent=1), "input `report`")
    outputs = {"decision": decision.decision,
               "evidence": json.dumps(evidence, sort_keys=True, separators=(",", ":")),
               "rolled-back": "true" if acted["rolled_back"] else "false", "promoted": acted["promoted"],
               "retrain-dispatched": "true" if acted["retrain_dispatched"] else "false", "report": str(report)}
    gh.set_outputs(outputs)
    gh.summary(render_summary(decision, mode, snaps, acted))
    return outputs


def _choice(inputs: Mapping[str, str], key: str) -> str:
    value = inputs.get(key) or CHOICES[key][0]
    if value not in CHOICES[key]:
        raise ConfigError(f"input `{key}`: {value!r} is not one of {', '.join(CHOICES[key])}")
    return value


def _report_path(inputs: Mapping[str, str], env: Mapping[str, str]) -> Path:
    return check_writable(inputs.get("report") or "aicd-reports/monitor.json", what="input `report`", env=env,
                          inputs=inputs)


def _source(inputs: Mapping[str, str], cfg: MonitorConfig) -> Source:
    url, endpoints = inputs.get("prometheus-url") or "", inputs.get("endpoint") or ""
    if url and endpoints:
        raise ConfigError("inputs `endpoint` and `prometheus-url` are both set", hint="give one source of metrics")
    if url:
        return PrometheusSource(http_url(url, "input `prometheus-url`"), extra_selector=inputs.get("selector") or "",
                                window=window_seconds(cfg.window),
                                token=inputs.get("prometheus-token") or "",
                                username=inputs.get("prometheus-username") or "",
                                password=inputs.get("prometheus-password") or "")
    if not endpoints:
        raise ConfigError("no metrics source: give `endpoint` (the model server) or `prometheus-url`")
    return EndpointSource([http_url(e, "input `endpoint`") for e in endpoints.replace("\n", ",").split(",")
                           if e.strip()])


def _groups(inputs: Mapping[str, str], mode: str) -> dict[str, dict[str, str]]:
    """Label selectors of the baseline and candidate groups (one group, ``served``, without a comparison)."""
    model = {"model": inputs["model"]} if inputs.get("model") else {}
    if mode == "none":
        return {"served": model}
    return {name: {**model, "variant": name} for name in GROUPS[mode]}


def _analyse(source: Source, groups: dict[str, dict[str, str]], mode: str, cfg: MonitorConfig, gh: Actions,
             sleep: Callable[[float], None]) -> tuple[Decision, dict[str, Snapshot]]:
    history: list[Evaluation] = []
    anchor = GROUPS[mode][1]
    for number in range(1, cfg.evaluations + 1):
        gh.info(f"aicd monitor: evaluation {number} of {cfg.evaluations}: reading {source.description}")
        snaps = source.read(groups, anchor)
        history.append(evaluate(snaps, mode, cfg))
        decision = decide(history, cfg)
        gh.info(f"aicd monitor: {decision.decision} — {decision.reason}")
        if decision.decision != "hold" or number == cfg.evaluations:
            return decision, snaps
        sleep(cfg.interval_seconds)
    raise AssertionError("unreachable")


def _act(decision: Decision, choice: dict[str, str], inputs: Mapping[str, str], env: Mapping[str, str],
         gh: Actions, mode: str, candidate: dict) -> dict:
    acted = dict(NOTHING_DONE)
    if decision.decision == "rollback" and choice["on-failure"] == "rollback":
        acted["rolled_back"] = roll_back(inputs, env, mode, candidate)
        gh.annotate("warning", f"aicd rolled back ({acted['rolled_back']}): {decision.reason}",
                    title="aicd production gate")
    elif decision.decision == "promote" and choice["on-success"] == "promote":
        acted["promoted"] = promote_candidate(inputs, env, candidate, gh)
    elif decision.decision == "retrain" and choice["on-drift"] == "retrain":
        dispatch_retrain(inputs, env, candidate, decision)
        acted["retrain_dispatched"] = True
        gh.annotate("notice", f"aicd asked for retraining: {decision.reason}", title="aicd production gate")
    return acted


def _samples(s: Snapshot) -> dict:
    return {"requests": s.requests, "errors": s.errors, "feedback": s.feedback, "correct": s.correct,
            "outcomes": s.outcomes, "converted": s.converted}

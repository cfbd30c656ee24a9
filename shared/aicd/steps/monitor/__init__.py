"""``aicd monitor``: the production gate — read production, decide, act.

Reads the served version(s) from the model servers directly (``endpoint``) or from Prometheus
(``prometheus-url``), evaluates ``monitor.evaluations`` times ``monitor.interval-seconds`` apart
(stopping at the first decision that is not ``hold``), then acts on the decision as the inputs allow:
``rollback`` through the deploy target, ``promote`` by moving the registry alias ``champion``,
``retrain`` by a ``repository_dispatch`` to GitHub. When production cannot be read the step fails
and nothing is promoted or rolled back; the ``decision`` output is then ``hold``.

Exit rule, the same in every mode: a ``rollback`` decision fails the step (exit 1, like any gate
that says no) — after rolling back with ``on-failure: rollback``, touching nothing with the default
``fail`` — unless ``on-failure: report`` asks for report-only. promote, hold and retrain exit 0.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from ...config import MonitorConfig, load_config, window_seconds
from ...errors import AicdError, ConfigError, GateFailed
from ...gha import Actions, md_escape
from ...monitor.decide import GROUPS, Decision, Evaluation, decide, evaluate
from ...monitor.metrics import Snapshot
from ...monitor.sources import EndpointSource, PrometheusSource, Source
from ...paths import check_writable, write_text
from ...urls import http_url
from .. import read_inputs
from ..prcomment import render as pr
from ..specs import SPECS
from ..targets import check_owner
from .act import dispatch_retrain, promote_candidate, roll_back
from .summary import Working, comment_section, render_summary

DESCRIPTION, INPUTS, OUTPUTS = SPECS["monitor"]
CHOICES = ("on-failure", "on-success", "on-drift", "compare")  # their values: the spec table's choices


def run(inputs: Mapping[str, str], gh: Actions, env: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep) -> dict[str, str]:
    env = env if env is not None else os.environ
    inputs = read_inputs(INPUTS, inputs)
    choice = {key: inputs[key] for key in CHOICES}
    cfg = load_config(inputs.get("config"), inputs.get("tenant") or "").monitor
    report = _report_path(inputs, env)  # a bad report path is refused before production is read
    for secret in ("prometheus-token", "prometheus-password", "github-token"):
        if inputs.get(secret):
            gh.mask(inputs[secret])
    mode = choice["compare"]
    source = _source(inputs, cfg, mode)
    try:
        decision, snaps = _analyse(source, _groups(inputs, mode, source), mode, cfg, gh, sleep)
    except AicdError as exc:
        gh.set_outputs({"decision": "hold", "evidence": json.dumps({"decision": "hold", "error": str(exc)}),
                        "rolled-back": "false", "promoted": "", "retrain-dispatched": "false", "report": ""})
        gh.summary(f"## ⛔ aicd production gate — could not read production\n\n{md_escape(str(exc))}\n\n"
                   "Nothing was promoted or rolled back.")
        said = str(exc)  # the except block unbinds exc before the comment is rendered
        gh.comment(lambda links: pr.Section("monitor", "#### ⛔ Production gate — could not read production\n\n"
                                            f"{pr.text(said)}\n\nNothing was promoted or rolled back."))
        exc.summarized = True
        raise
    _check_tenant_sees_only_its_own(inputs, snaps)
    candidate = snaps[GROUPS[mode][1]].model
    try:
        acted = _act(decision, choice, inputs, env, gh, mode, candidate)
    except AicdError as exc:  # the decision and its evidence are published even when acting on it failed
        _publish(report, gh, decision, mode, snaps, source, {**NOTHING_DONE, "action_failed": str(exc)},
                 choice["on-failure"], cfg)
        raise
    outputs = _publish(report, gh, decision, mode, snaps, source, acted, choice["on-failure"], cfg)
    if decision.decision == "rollback" and choice["on-failure"] != "report":
        done = acted["rolled_back"] if acted["rolled_back"] else \
            "nothing was rolled back (on-failure: fail; use rollback to act, report to pass)"
        raise GateFailed(f"production gate: rollback — {decision.reason}; {done}", outputs=outputs)
    return outputs


NOTHING_DONE = {"rolled_back": "", "promoted": "", "retrain_dispatched": False}


def _check_tenant_sees_only_its_own(inputs: Mapping[str, str], snaps: dict[str, Snapshot]) -> None:
    """With a tenant, every model judged must be the tenant's own (ConfigError before anything is
    published): a tenant neither sees nor acts on another's production evidence."""
    if not inputs.get("tenant"):
        return
    for snap in snaps.values():
        name = str((snap.model or {}).get("name") or "")
        if name:
            check_owner(inputs, name)


def _publish(report: Path, gh: Actions, decision: Decision, mode: str, snaps: dict[str, Snapshot],
             source: Source, acted: dict, on_failure: str, cfg: MonitorConfig) -> dict[str, str]:
    """Report file, step outputs and job summary of a decision."""
    base_name, cand_name = GROUPS[mode]
    evidence = {**decision.evidence(), "compare": mode, "source": source.description, "model": snaps[cand_name].model,
                "baseline": snaps[base_name].model if mode != "none" else {},
                "samples": {name: _samples(s) for name, s in snaps.items()}, "counted": source.counted,
                "confidence": cfg.confidence, "tests": len(decision.evaluation.checks), "on_failure": on_failure,
                **acted}
    write_text(report, json.dumps(evidence, indent=1), "input `report`")
    outputs = {"decision": decision.decision,
               "evidence": json.dumps(evidence, sort_keys=True, separators=(",", ":")),
               "rolled-back": "true" if acted["rolled_back"] else "false", "promoted": acted["promoted"],
               "retrain-dispatched": "true" if acted["retrain_dispatched"] else "false", "report": str(report)}
    gh.set_outputs(outputs)
    working = Working(cfg.confidence, len(decision.evaluation.checks), source.counted, source.description,
                      cfg.consecutive_failures, on_failure, source.elapsed)
    gh.summary(render_summary(decision, mode, snaps, acted, working))
    gh.comment(lambda links: comment_section(decision, mode, snaps, acted, working, links))
    return outputs


def _report_path(inputs: Mapping[str, str], env: Mapping[str, str]) -> Path:
    return check_writable(inputs["report"], what="input `report`", env=env, inputs=inputs)


def _source(inputs: Mapping[str, str], cfg: MonitorConfig, mode: str) -> Source:
    url, endpoints = inputs.get("prometheus-url") or "", inputs.get("endpoint") or ""
    sides = {key: inputs.get(key) or "" for key in ("baseline-endpoint", "candidate-endpoint")}
    if any(sides.values()):
        return _sides_source(sides, url or endpoints, mode)
    if url and endpoints:
        raise ConfigError("inputs `endpoint` and `prometheus-url` are both set", hint="give one source of metrics")
    if url:
        return PrometheusSource(http_url(url, "input `prometheus-url`"), extra_selector=inputs.get("selector") or "",
                                window=window_seconds(cfg.window),
                                token=inputs.get("prometheus-token") or "",
                                username=inputs.get("prometheus-username") or "",
                                password=inputs.get("prometheus-password") or "")
    if not endpoints:
        raise ConfigError("no metrics source: give `endpoint` (the model server), `prometheus-url`, or "
                          "`baseline-endpoint` with `candidate-endpoint`")
    return EndpointSource(_urls(endpoints, "endpoint"))


def _sides_source(sides: dict[str, str], other: str, mode: str) -> Source:
    """Each side's servers named explicitly: the groups are the inputs, not the servers' variant labels."""
    if mode == "none":
        raise ConfigError("inputs `baseline-endpoint` / `candidate-endpoint` compare two sides",
                          hint="set `compare` to canary or ab, or give `endpoint` to judge one version")
    missing = [key for key, value in sides.items() if not value]
    if missing:
        raise ConfigError(f"input `{missing[0]}` is empty", hint="give both baseline-endpoint and candidate-endpoint")
    if other:
        raise ConfigError("inputs `baseline-endpoint` / `candidate-endpoint` replace `endpoint` and "
                          "`prometheus-url`", hint="give one source of metrics")
    base_name, cand_name = GROUPS[mode]
    base, cand = _urls(sides["baseline-endpoint"], "baseline-endpoint"), _urls(sides["candidate-endpoint"],
                                                                                "candidate-endpoint")
    same = {u.rstrip("/") for u in base} & {u.rstrip("/") for u in cand}
    if same:
        raise ConfigError(f"inputs `baseline-endpoint` and `candidate-endpoint` both name {sorted(same)[0]}",
                          hint="a side compared with itself proves nothing: give each side its own servers")
    return EndpointSource([], by_group={base_name: base, cand_name: cand})


def _urls(text: str, key: str) -> list[str]:
    return [http_url(e, f"input `{key}`") for e in text.replace("\n", ",").split(",") if e.strip()]


def _groups(inputs: Mapping[str, str], mode: str, source: Source) -> dict[str, dict[str, str]]:
    """Label selectors of the baseline and candidate groups (one group, ``served``, without a comparison;
    no variant label where each side's servers are named explicitly)."""
    model = {"model": inputs["model"]} if inputs.get("model") else {}
    if mode == "none":
        return {"served": model}
    if isinstance(source, EndpointSource) and source.by_group:
        return {name: dict(model) for name in GROUPS[mode]}
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
        gh.annotate("warning", f"aicd {acted['rolled_back']}: {decision.reason}",
                    title="aicd production gate")
    elif decision.decision == "promote" and choice["on-success"] == "promote":
        acted["promoted"] = promote_candidate(inputs, env, candidate, gh)
    elif decision.decision == "retrain" and choice["on-drift"] == "retrain":
        dispatch_retrain(inputs, env, candidate, decision)
        acted["retrain_dispatched"] = True
        gh.annotate("notice", f"aicd asked for retraining: {decision.reason}", title="aicd production gate")
    return acted


def _samples(s: Snapshot) -> dict:
    paired = {"paired": {**s.paired, "shadow_versions": sorted(s.shadow_versions)}} if s.paired else {}
    return {"requests": s.requests, "errors": s.errors, "feedback": s.feedback, "correct": s.correct,
            "outcomes": s.outcomes, "converted": s.converted, **paired}

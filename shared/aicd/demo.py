"""``aicd demo``: the whole chain on the embedded coffee example, on this machine alone.

validate → train (local sqlite MLflow store) → deploy (local model server) → simulated traffic
with delayed feedback → monitor → decision. It runs the same stage entrypoints the actions run,
keeps all state under one folder, and prints a short report; the full Markdown job summaries go
to ``<workdir>/summary.md``.
"""

from __future__ import annotations

import io
import json
import secrets
import shutil
import time
from pathlib import Path

from .deploy.local import LocalTarget
from .errors import AicdError
from .examples import coffee
from .gha import Actions, inert
from .simulate import send_traffic
from .steps import deploy, monitor, train, validate

__all__ = ["run_demo", "write_example"]


def write_example(out: str | Path, rows: int = 3000, seed: int = 7, drift: float = 0.0) -> dict[str, Path]:
    """Write training, reference and production data plus aicd.yml; returns their paths."""
    out = Path(out)
    (out / "data").mkdir(parents=True, exist_ok=True)
    paths = {"data": out / "data" / "user_behavior.csv", "reference": out / "data" / "reference.csv",
             "production": out / "data" / "production.csv", "config": out / "aicd.yml"}
    coffee.generate(rows, seed=seed).to_csv(paths["data"], index=False)
    coffee.generate(rows, seed=seed + 1000).to_csv(paths["reference"], index=False)
    coffee.generate(max(rows // 3, 200), seed=seed + 2000, drift=drift).to_csv(paths["production"], index=False)
    shutil.copyfile(coffee.CONFIG_PATH, paths["config"])
    return paths


def run_demo(workdir: str | Path, keep_running: bool = False) -> int:
    work = Path(workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    summary = work / "summary.md"
    summary.write_text("# aicd demo\n\n", encoding="utf-8")
    log = io.StringIO()
    gh = Actions({"GITHUB_STEP_SUMMARY": str(summary)}, stream=log)
    tracking = f"sqlite:///{work / 'mlflow' / 'mlflow.db'}"
    (work / "mlflow").mkdir(exist_ok=True)
    state_dir = str(work / "deploy")
    reports = work / "reports"
    started = time.monotonic()
    workspace = {"GITHUB_WORKSPACE": str(work)}  # the folder the user named is where the demo writes
    token = secrets.token_hex(16)  # the feedback route's bearer token, for this demo's server only
    _say(f"aicd demo — coffee recommendation; all state under {work}", "")
    target = None
    try:
        paths = write_example(work)
        v = _stage("1 validate", lambda: validate.run(
            {"data": str(paths["data"]), "config": str(paths["config"]), "reference": str(paths["reference"]),
             "report": str(reports / "validate.json")}, gh, env=workspace),
            lambda o: f"data gate passed; data-version {o['data-version']}, "
                      f"{len(json.loads(o['drifted-columns']))} columns drifted (KL vs the reference)")
        t = _stage("2 train", lambda: train.run(
            {"data": str(paths["data"]), "config": str(paths["config"]), "data-version": v["data-version"],
             "tracking-uri": tracking}, gh, env={}),
            lambda o: f"model gate passed (holdout accuracy {json.loads(o['metrics'])['accuracy']:.3f}); registered "
                      f"{o['model-uri']} (alias candidate, run {o['run-id'][:8]})")
        target = state_dir
        d = _stage("3 deploy", lambda: deploy.run(
            {"model-uri": t["model-uri"], "tracking-uri": tracking, "state-dir": state_dir,
             "feedback-token": token}, gh, env={}),
            lambda o: f"revision {o['revision']} (model version {o['model-version']}) ready at {o['endpoint']}")
        _stage("4 traffic", lambda: _traffic(d["endpoint"], paths["production"], token),
               lambda r: f"{r.requests} predictions, {r.feedback} delayed labels sent as feedback")
        m = _stage("5 monitor", lambda: monitor.run(
            {"endpoint": d["endpoint"], "config": str(paths["config"]), "state-dir": state_dir,
             "on-success": "promote", "tracking-uri": tracking, "report": str(reports / "monitor.json")}, gh,
            env=workspace),
            lambda o: _decision_line(o))
    except AicdError as exc:
        _say("", f"✗ demo stopped: {exc}")
        return 1
    finally:
        if target and not keep_running:
            LocalTarget(target).stop()
    _say("", f"decision: {m['decision'].upper()}   ({time.monotonic() - started:.0f} s)",
         f"job summaries: {summary}", f"MLflow store:  {tracking}", f"reports:       {reports}")
    if keep_running:
        _say(f"model server:  {d['endpoint']}  (stop: aicd deploy --command stop --state-dir {state_dir})")
    return 0


def _say(*lines: str, end: str = "\n") -> None:
    """The demo's own lines, each inert (they can hold paths and error text)."""
    for i, line in enumerate(lines):
        print(inert(line), end=end if i == len(lines) - 1 else "\n", flush=True)


def _stage(title: str, action, describe):
    began = time.monotonic()
    _say(f"  {title:<11}", end="")
    try:
        result = action()
    except AicdError:
        _say("✗")
        raise
    _say(f"✓ {describe(result)}  [{time.monotonic() - began:.1f} s]")
    return result


def _traffic(endpoint: str, production: Path, token: str):
    import pandas as pd

    return send_traffic(endpoint, pd.read_csv(production), coffee.LABEL, requests=600, seed=1, feedback_token=token)


def _decision_line(outputs: dict) -> str:
    evidence = json.loads(outputs["evidence"])
    parts = []
    for check in evidence["checks"]:
        value = check["candidate"]
        shown = "n/a" if value is None else f"{value:.3f}"
        if check["metric"] == "latency-p95":  # a share of slow requests; the p95 itself is in the note
            shown = f"{check['note'].split(';')[0].removeprefix('p95 ')} ({shown} of requests slower than the limit)"
        parts.append(f"{check['metric']} {shown} ({check['verdict']})")
    promoted = f"; {outputs['promoted']} is now champion" if outputs.get("promoted") else ""
    return f"{outputs['decision']} — " + "; ".join(parts) + promoted

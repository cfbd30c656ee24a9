"""``aicd validate``: the data gate (checks, drift against a reference, data-version)."""

from __future__ import annotations

import json
from pathlib import Path

from ..config import Config, load_config
from ..data.checks import Check, run_checks
from ..data.drift import ColumnDrift, compare_profile, profile_frame
from ..data.io import content_hash, read_table
from ..errors import GateFailed
from ..gha import Actions
from . import Input, Output
from .summary import ICON, details, table

DESCRIPTION = "Data gate: schema, types, missing values, label balance, ranges and drift of a dataset."
OUTPUTS = (
    Output("passed", "true when every data check passed (the step fails otherwise)."),
    Output("data-version", "Content hash of the data file (16 hex digits): pass it to action-train."),
    Output("drift-score", "Largest per-column drift score against the reference (0 without a reference)."),
    Output("drifted-columns", "Columns whose drift passed the threshold, as a JSON list."),
    Output("report", "Path of the JSON report."),
)
INPUTS = (
    Input("data", "Dataset to validate: a .csv, .parquet or .jsonl file (optionally .gz/.zst).", required=True),
    Input("config", "Path to aicd.yml; empty uses the built-in defaults.", ""),
    Input("reference", "Reference dataset for drift; overrides data.drift.reference in aicd.yml.", ""),
    Input("report", "Where to write the JSON report.", "aicd-reports/validate.json"),
)


def run(inputs: dict[str, str], gh: Actions) -> dict[str, str]:
    cfg = load_config(inputs.get("config"))
    data_path = inputs["data"]
    gh.info(f"aicd validate: reading {data_path}")
    frame = read_table(data_path)
    checks = run_checks(frame, cfg.data)
    drift = _drift(frame, cfg, inputs.get("reference") or cfg.data.drift.reference, gh)
    passed = all(c.passed for c in checks)
    version = content_hash(data_path)
    score = max((d.score for d in drift), default=0.0)
    report = _write_report(inputs.get("report") or "aicd-reports/validate.json", data_path, version, frame.shape,
                           passed, checks, drift)
    outputs = {"passed": str(passed).lower(), "data-version": version, "drift-score": f"{score:.6f}",
               "drifted-columns": json.dumps([d.column for d in drift if d.drifted]), "report": str(report)}
    gh.set_outputs(outputs)
    for check in (c for c in checks if not c.passed):
        gh.annotate("error", f"{check.message} [measured {check.measured}, threshold {check.threshold}]",
                    file=cfg.file if cfg.lines else data_path, line=cfg.line_of(check.config_path or ""),
                    title=f"aicd data gate: {check.name}")
    for d in (d for d in drift if d.drifted):
        gh.annotate("warning", f"`{d.column}` drifted: {cfg.data.drift.method.upper()} {d.score:.4f} > "
                    f"{d.threshold}", file=data_path, title="aicd data drift")
    gh.summary(render_summary(data_path, version, frame.shape, passed, checks, drift, cfg.data.drift.method))
    if not passed:
        failed = [c for c in checks if not c.passed]
        raise GateFailed(f"data gate failed: {len(failed)} check(s) failed, first: {failed[0].message}",
                         file=data_path)
    return outputs


def _drift(frame, cfg: Config, reference: str | None, gh: Actions) -> list[ColumnDrift]:
    if not reference:
        return []
    gh.info(f"aicd validate: comparing with reference {reference}")
    exclude = [cfg.data.label] if cfg.data.label else []
    profile = profile_frame(read_table(reference), cfg.data.drift.bins, exclude=exclude)
    return compare_profile(profile, frame, cfg.data.drift.method, cfg.data.drift.threshold)


def _write_report(path: str, data: str, version: str, shape, passed: bool, checks: list[Check],
                  drift: list[ColumnDrift]) -> Path:
    report = Path(path)
    report.parent.mkdir(parents=True, exist_ok=True)
    body = {"data": data, "data_version": version, "rows": shape[0], "columns": shape[1], "passed": passed,
            "checks": [c.to_dict() for c in checks], "drift": [d.to_dict() for d in drift]}
    report.write_text(json.dumps(body, indent=1, default=str), encoding="utf-8")
    return report


def render_summary(data: str, version: str, shape, passed: bool, checks: list[Check], drift: list[ColumnDrift],
                   method: str) -> str:
    failed = [c for c in checks if not c.passed]
    head = f"## {ICON[passed]} aicd data gate — {'passed' if passed else 'failed'}\n\n" \
           f"`{data}` · {shape[0]:,} rows × {shape[1]} columns · data-version `{version}`"
    parts = [head]
    if failed:
        parts.append("### Failed checks\n\n" + table(["check", "column", "measured", "threshold", "message"],
                     [[c.name, c.column, c.measured, c.threshold, c.message] for c in failed]))
    if drift:
        drifted = sum(d.drifted for d in drift)
        parts.append(f"### Drift ({method.upper()}) — {drifted} of {len(drift)} columns drifted\n\n" + table(
            ["column", "KL", "PSI", "threshold", "verdict"],
            [[d.column, d.kl, d.psi, d.threshold, "drifted" if d.drifted else "ok"]
             for d in sorted(drift, key=lambda d: -d.score)]))
    parts.append(details(f"All {len(checks)} checks", table(
        ["", "check", "column", "measured", "threshold"],
        [[ICON[c.passed], c.name, c.column, c.measured, c.threshold] for c in checks])))
    return "\n\n".join(parts)

"""The production gate's job summary: the decision, then one table per check (pure)."""

from __future__ import annotations

from ..gha import md_escape
from ..monitor.decide import GROUPS, Check, Decision
from ..monitor.metrics import Snapshot
from .summary import table

__all__ = ["render_summary"]

VERDICT_ICON = {"pass": "✅ pass", "fail": "❌ fail", "inconclusive": "⏸️ inconclusive", "drift": "⚠️ drift"}
DECISION_ICON = {"promote": "✅", "hold": "⏸️", "rollback": "⏪", "retrain": "🔁"}
TITLES = {"online-accuracy": "Online accuracy", "error-rate": "Error rate (5xx share of /predict)",
          "latency-p95": "Latency p95 (ms)", "conversion": "Conversion"}


def render_summary(decision: Decision, mode: str, snaps: dict[str, Snapshot], acted: dict) -> str:
    base_name, cand_name = GROUPS[mode]
    model = snaps[cand_name].model
    who = (f"model {md_escape(model.get('name', '?'))} version {md_escape(model.get('version', '?'))}"
           if model else "model (unknown)")
    if mode != "none":
        base = snaps[base_name].model
        who += f" ({cand_name}) against version {md_escape(base.get('version', '?'))} ({base_name})"
    parts = [f"## {DECISION_ICON[decision.decision]} aicd production gate — {decision.decision}",
             f"{who}: {md_escape(decision.reason)}"]
    if decision.failure_streak:
        parts.append(f"Failing evaluations in a row: {decision.failure_streak}")
    for metric, title in TITLES.items():
        checks = [c for c in decision.evaluation.checks if c.metric == metric]
        if checks:
            parts.append(f"### {title}\n\n" + _check_table(checks, mode, base_name, cand_name))
    if decision.evaluation.drift:
        parts.append("### Drift of live traffic from the training data\n\n" + _drift_table(decision.evaluation.drift))
    parts += _actions(acted)
    return "\n\n".join(parts)


def _check_table(checks: list[Check], mode: str, base_name: str, cand_name: str) -> str:
    if mode == "none":
        rows = [[c.test, _value(c.candidate, _is_rate(c)), _interval(c.interval), c.threshold, c.samples,
                 _verdict(c)] for c in checks]
        return table(["test", "served", "interval", "threshold", "samples", "verdict"], rows)
    rows = [[c.test, *(_value(v, _is_rate(c)) for v in (c.baseline, c.candidate, c.difference)),
             _interval(c.interval), c.threshold, c.samples, _verdict(c)] for c in checks]
    return table(["test", base_name, cand_name, "difference", "interval", "threshold", "samples", "verdict"], rows)


def _is_rate(check: Check) -> bool:
    """Every value is a rate except the absolute latency check's, which shows the p95 in ms."""
    return not (check.metric == "latency-p95" and check.test == "absolute")


def _drift_table(checks: list[Check]) -> str:
    rows = [[c.metric.removeprefix("drift:"), c.test, _value(c.candidate, False), c.threshold, c.samples,
             _verdict(c)] for c in checks]
    return table(["feature", "statistic", "value", "threshold", "values", "verdict"], rows)


def _verdict(check: Check) -> str:
    return VERDICT_ICON[check.verdict] + (f" — {check.note}" if check.note else "")


def _actions(acted: dict) -> list[str]:
    out = []
    if acted.get("rolled_back"):
        out.append(f"**Rolled back:** {acted['rolled_back']}")
    if acted.get("promoted"):
        out.append(f"**Promoted:** {acted['promoted']} is now champion")
    if acted.get("action_failed"):
        out.append(f"**Acting on the decision failed:** {md_escape(acted['action_failed'])}")
    if acted.get("retrain_dispatched"):
        out.append("**Retraining requested:** a repository_dispatch event was sent with the drift evidence")
    return out


def _value(value: float | None, rate: bool) -> str:
    if value is None:
        return ""
    return f"{value:.4f}" if rate else f"{value:.4g}"


def _interval(interval: tuple[float, float] | None) -> str:
    return f"[{interval[0]:.4f}, {interval[1]:.4f}]" if interval else ""

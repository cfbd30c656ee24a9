"""The production gate's job summary: the decision and what was done, how it was judged, the
samples, then one table per check (pure). One unit per column, stated in the table's title."""

from __future__ import annotations

from dataclasses import dataclass

from ...gha import md_escape
from ...monitor.decide import GROUPS, Check, Decision
from ...monitor.metrics import Snapshot
from ..prcomment import linked_model
from ..prcomment import render as pr
from ..summary import table

__all__ = ["Working", "comment_section", "render_summary"]

VERDICT_ICON = {"pass": "✅ pass", "fail": "❌ fail", "inconclusive": "⏸️ inconclusive", "drift": "⚠️ drift"}
DECISION_ICON = {"promote": "✅", "hold": "⏸️", "rollback": "⏪", "retrain": "🔁"}
TITLES = {"online-accuracy": "Online accuracy (share of predictions the feedback says were right)",
          "online-precision": "Online precision (share of labelled positive predictions that were positive)",
          "online-recall": "Online recall (share of labelled positives the model predicted positive)",
          "online-f1": "Online F1 of the positive class (from the labelled confusion counts)",
          "online-mae": "Online mean absolute error (|prediction − true value|, in the label's unit)",
          "online-rmse": "Online root mean squared error (in the label's unit)",
          "error-rate": "Error rate (share of /predict answered 5xx)",
          "latency-p95": "Latency (share of /predict slower than the limit; p95 in ms in the note)",
          "conversion": "Conversion (share of reported outcomes that converted)"}


@dataclass(frozen=True)
class Working:
    """How the decision was reached, for the reader: what the tables alone do not say."""

    confidence: float  # family-wise, over every look
    tests: int  # tests per evaluation, the error budget's share
    counted: str  # the window, in words ("since canary started, 12 min ago")
    source: str
    consecutive_failures: int
    on_failure: str
    elapsed: float | None = None  # seconds the counts cover: turns "samples still needed" into a time


def render_summary(decision: Decision, mode: str, snaps: dict[str, Snapshot], acted: dict,
                   working: Working | None = None) -> str:
    base_name, cand_name = GROUPS[mode]
    model = snaps[cand_name].model
    who = (f"model {md_escape(model.get('name', '?'))} version {md_escape(model.get('version', '?'))}"
           if model else "model (unknown)")
    if mode != "none":
        base = snaps[base_name].model
        who += f" ({cand_name}) against version {md_escape(base.get('version', '?'))} ({base_name})"
    parts = [f"## {DECISION_ICON[decision.decision]} aicd production gate — {_headline(decision, acted, working)}",
             f"{who}: {md_escape(decision.reason)}"]
    if working:
        parts.append(_how(working, mode))
    if decision.failure_streak:
        parts.append(f"Failing evaluations in a row: {decision.failure_streak}")
    parts.append("### Samples\n\n" + _samples_table(snaps, mode))
    metrics = dict.fromkeys([*TITLES, *(c.metric for c in decision.evaluation.checks)])  # none left unshown
    for metric in metrics:
        title = TITLES.get(metric, metric)
        checks = [c for c in decision.evaluation.checks if c.metric == metric]
        if checks:
            parts.append(f"### {title}\n\n" + _check_table(checks, mode, base_name, cand_name, working))
    if decision.evaluation.drift:
        pooled = "" if mode == "none" else (f" — {base_name} and {cand_name} pooled (they see the same traffic), "
                                            "so `values` counts both sides")
        parts.append(f"### Drift of live traffic from the training data{pooled}\n\n"
                     + _drift_table(decision.evaluation.drift))
    parts += _actions(acted)
    return "\n\n".join(parts)


def _headline(decision: Decision, acted: dict, working: Working | None) -> str:
    if decision.decision == "promote" and not acted.get("promoted"):
        return "promote decided; nothing was promoted (on-success is not promote)"
    if decision.decision != "rollback":
        return decision.decision
    if acted.get("rolled_back"):
        return "rollback, carried out"
    if acted.get("action_failed"):
        return "rollback decided; acting on it failed, nothing was rolled back"
    mode = working.on_failure if working else "fail"
    passes = "the step passes" if mode == "report" else "the step fails"
    return f"rollback decided; nothing was rolled back (on-failure: {mode}, {passes})"


def _how(w: Working, mode: str) -> str:
    per_test = 1 - (1 - w.confidence) / w.tests
    needs = f"{w.consecutive_failures} failing evaluations in a row" if w.consecutive_failures > 1 \
        else "one failing evaluation"
    return (f"**How this was judged.** Confidence {w.confidence:g} family-wise over every look, split over "
            f"{w.tests} tests: each interval at {per_test:.4g}. Counted {md_escape(w.counted)}, from "
            f"{md_escape(w.source)}. A rollback needs {needs}; on-failure: {w.on_failure}.")


def _samples_table(snaps: dict[str, Snapshot], mode: str) -> str:
    names = list(dict.fromkeys(GROUPS[mode]))
    rows = [[what, *(getattr(snaps[n], attr) for n in names)] for what, attr in (
        ("/predict requests", "requests"), ("feedback labels", "labelled"), ("reported outcomes", "outcomes"))]
    if any(s.paired for s in snaps.values()):
        rows.append(["labels also scored by a shadow model", *(sum(snaps[n].paired.values()) for n in names)])
    return table(["counted", *names], rows)


def _check_table(checks: list[Check], mode: str, base_name: str, cand_name: str, working: Working | None) -> str:
    elapsed = working.elapsed if working else None
    if mode == "none":
        rows = [[c.test, _value(c.candidate), _interval(c.interval), c.threshold, c.samples, _verdict(c, elapsed)]
                for c in checks]
        return table(["test", "served", "interval", "threshold", "samples", "verdict"], rows)
    rows = [[c.test, *(_value(v) for v in (c.baseline, c.candidate, c.difference)), _interval(c.interval),
             c.threshold, c.samples, _verdict(c, elapsed)] for c in checks]
    return table(["test", base_name, cand_name, "difference", "interval", "threshold", "samples (smaller side)",
                  "verdict"], rows)


def _drift_table(checks: list[Check]) -> str:
    rows = [[c.metric.removeprefix("drift:"), c.test, _statistic(c.candidate), c.threshold, c.samples,
             _verdict(c)] for c in checks]
    return table(["feature", "statistic", "value", "threshold", "values", "verdict"], rows)


def _verdict(check: Check, elapsed: float | None = None) -> str:
    return VERDICT_ICON[check.verdict] + (f" — {check.note}" if check.note else "") + _eta(check, elapsed)


def _eta(check: Check, elapsed: float | None) -> str:
    """How long the samples an inconclusive check still needs take at the rate they came in so far."""
    if not check.needed or not elapsed or check.samples <= 0 or check.needed <= check.samples:
        return ""
    seconds = (check.needed - check.samples) * elapsed / check.samples
    return f"; at the current traffic about {_duration(seconds)} more"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


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


def _value(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _statistic(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _interval(interval: tuple[float, float] | None) -> str:
    return f"[{interval[0]:.4f}, {interval[1]:.4f}]" if interval else ""


TOP_DRIFT = 5  # the comment's drifted features; the job summary has every one


def comment_section(decision: Decision, mode: str, snaps: dict[str, Snapshot], acted: dict,
                    working: Working | None, links: pr.Links) -> pr.Section:
    """The production gate's part of the pull-request comment: the decision and why, every check in one
    table, the most drifted features, and what was done about it."""
    base_name, cand_name = GROUPS[mode]
    model = snaps[cand_name].model
    who = _linked(links, model)
    if mode != "none":
        who += f" ({cand_name}) against {_linked(links, snaps[base_name].model)} ({base_name})"
    headline = pr.text(_headline(decision, acted, working))
    parts = [f"#### {DECISION_ICON[decision.decision]} Production gate — {headline}",
             f"{who}: {pr.text(decision.reason)}"]
    checks = decision.evaluation.checks
    if checks:
        value = "served" if mode == "none" else f"{cand_name} (vs {base_name})"
        parts.append(pr.table(["check", "test", value, "difference", "interval", "threshold", "samples", "verdict"], [
            [c.metric, c.test, _value(c.candidate), _value(c.difference), _interval(c.interval), c.threshold,
             c.samples, _verdict(c, working.elapsed if working else None)] for c in checks]))
    drifted = [c for c in decision.evaluation.drift if c.verdict == "drift"][:TOP_DRIFT]
    if drifted:
        parts.append(pr.table(["drifted feature", "statistic", "value", "threshold"], [
            [c.metric.removeprefix("drift:"), c.test, _statistic(c.candidate), c.threshold] for c in drifted]))
    done = [pr.text(line.replace("**", "")) for line in _actions(acted)]
    if done:
        parts.append("\n\n".join(done))
    return pr.Section("monitor", "\n\n".join(parts))


def _linked(links: pr.Links, model: dict) -> str:
    if not model:
        return "model (unknown)"
    return linked_model(links, f"models:/{model.get('name', '?')}/{model.get('version', '?')}")

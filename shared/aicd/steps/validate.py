"""``aicd validate``: the data gate (checks, drift against a reference, data-version)."""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..config import Config, load_config
from ..data.checks import Check, run_checks
from ..data.drift import HANDLING, METHODS, ColumnDrift, Side, choose_method, column_drift, sides_from_profile
from ..data.scan import Scan, needs_pandas, scan
from ..data.verdict import judge_family, weighted_share
from ..datasets import content_hash, open_source
from ..errors import ConfigError, DataError, GateFailed
from ..gha import Actions, inert, md_code
from ..installs import ensure
from ..paths import check_writable, write_text
from . import read_inputs
from .html_report import render_html
from .prcomment import render as pr
from .specs import SPECS
from .summary import ICON, details, table

DESCRIPTION, INPUTS, OUTPUTS = SPECS["validate"]
PREDICTION_DRIFT = ("not measured by the data gate: it sees data, not the model's answers; the production gate "
                    "(action-monitor) compares the live predictions' shares")


@dataclass
class Reference:
    """What drift compares against: the features' sides, the label's, and the features' weights."""

    sides: dict[str, Side]
    rows: int | None = None  # a file's row count (the row-count check compares with it)
    skipped: set[str] = field(default_factory=set)  # its high-cardinality columns
    label: Side | None = None
    weights: dict[str, float] | None = None  # permutation importance stored with a model


def run(inputs: Mapping[str, str], gh: Actions, env: Mapping[str, str] | None = None) -> dict[str, str]:
    env = env if env is not None else os.environ
    inputs = read_inputs(INPUTS, inputs)
    report = check_writable(inputs["report"], what="input `report`", env=env, inputs=inputs)
    html = check_writable(str(report.with_suffix(".html")), what="input `report` (its HTML beside it)", env=env,
                          inputs=inputs)
    if report.suffix.lower() == ".html":
        raise ConfigError(f"input `report`: {str(report)!r} would be overwritten by the HTML report written beside "
                          "it", hint="name the JSON report, e.g. aicd-reports/validate.json")
    cfg = load_config(inputs.get("config"), inputs.get("tenant") or "")
    inputs = {**inputs, "data": cfg.data_source(inputs.get("data"))}
    if needs_pandas(cfg.data):
        ensure("pandas", lambda text: gh.info(f"aicd validate: {text}"))
    source = open_source(inputs["data"], cfg.data, env=env, mask=gh.mask,
                         say=lambda text: gh.info(f"aicd validate: {text}"))
    reference_spec = inputs.get("reference") or cfg.data.drift.reference
    gh.info(f"aicd validate: scanning {inputs['data']} ({len(source.files)} file(s))"
            + (f" and the reference {reference_spec}" if reference_spec else ""))
    with ThreadPoolExecutor(2) as pool:  # Arrow parses and hashlib hashes outside the GIL: use both cores
        sample = cfg.data.drift.sample_rows if reference_spec else 0
        current_job = pool.submit(scan, source, cfg.data, sample, 1)
        version_job = pool.submit(content_hash, source)
        reference = _reference(reference_spec, cfg, inputs, env, gh.mask)
        current, version = current_job.result(), version_job.result()
    checks = run_checks(current, cfg.data, reference.rows if reference else None, task=cfg.model.task,
                        max_missing_label_ratio=cfg.model.max_missing_label_ratio)
    drift = _drift(current, reference.sides, reference.skipped, cfg, (reference_spec or "").startswith("models:/")) \
        if reference is not None else []
    label = _label_drift(current, reference, cfg) if reference is not None else None
    passed = all(c.passed for c in checks)
    drifted = [d.column for d in drift if d.drifted]
    share = weighted_share(drift, reference.weights if reference else None)
    body = _report_body(inputs["data"], reference_spec, version, current, passed, checks, drift, share, cfg,
                        label, bool(reference and reference.weights),
                        _left_out(current, cfg, reference, drift, (reference_spec or "").startswith("models:/"))
                        if reference is not None else None)
    write_text(report, json.dumps(body, indent=1, default=str), "input `report`")
    write_text(html, render_html(body, drift), "input `report` (its HTML beside it)")
    outputs = {"passed": str(passed).lower(), "data-version": version, "drift-score": f"{share:.4f}",
               "drifted-columns": json.dumps(drifted), "dataset-drifted": str(body["dataset_drifted"]).lower(),
               "label-drifted": str(bool(label and label.drifted)).lower(),
               "report": str(report), "html-report": str(html)}
    gh.set_outputs(outputs)
    _annotate(gh, cfg, inputs["data"], checks, drift)
    gh.summary(render_summary(body, checks, drift))
    gh.comment(lambda links: comment_section(body, checks, drift, links, str(html)))
    if not passed:
        failed = [c for c in checks if not c.passed]
        raise GateFailed(f"data gate failed: {len(failed)} check(s) failed, first: {failed[0].message}",
                         file=inputs["data"], annotated=True)
    return outputs


def _reference(spec: str | None, cfg: Config, inputs: Mapping[str, str], env: Mapping[str, str],
               mask=lambda secret: None) -> Reference | None:
    """The reference: a file/glob, a model's stored profile, or none."""
    if not spec:
        return None
    exclude = _not_drifted(cfg)
    if spec.startswith("models:/"):
        tracking = inputs.get("tracking-uri") or env.get("MLFLOW_TRACKING_URI", "")
        return _model_profile(spec, tracking, exclude, cfg.data.label)
    said = lambda text: print(inert(f"aicd validate: {text}"), flush=True)  # noqa: E731 - beside the current scan
    reference = scan(open_source(spec, cfg.data, env=env, mask=mask, say=said), cfg.data, cfg.data.drift.sample_rows,
                     seed=2)
    return Reference(reference.sides(exclude), reference.rows, reference.high_cardinality(),
                     _label_side(reference, cfg))


def _model_profile(model_uri: str, tracking_uri: str, exclude: tuple[str, ...], label: str | None) -> Reference:
    """The profile stored with the model, with the label's and the features' importance when training
    stored them (older models have neither: their columns weigh alike and the label is not compared)."""
    import tempfile

    from ..modelfiles import PROFILE_FILE
    from ..registry import MlflowRegistry

    with tempfile.TemporaryDirectory() as tmp:
        model_dir, meta = MlflowRegistry(tracking_uri).fetch_model(model_uri, tmp)
        profile = json.loads((model_dir / PROFILE_FILE).read_text(encoding="utf-8"))
    sides = {k: v for k, v in sides_from_profile(profile).items() if k not in exclude}
    stored = meta.get("label_profile")
    label_side = sides_from_profile({label: stored})[label] if label and stored else None
    return Reference(sides, label=label_side, weights=meta.get("importance") or None)


def _label_side(s: Scan, cfg: Config) -> Side | None:
    """The label as drift sees it: its classes' counts for a classifier, its values for a regressor."""
    label = cfg.data.label
    column = s.columns.get(label) if label else None
    if column is None:
        return None
    if cfg.model.task == "classification" or column.categorical:
        counts = {str(k): v for k, v in column.counts.items()}
        return Side("categorical", sum(counts.values()), counts=counts)
    return s.sides().get(label)


def _label_drift(current: Scan, reference: Reference, cfg: Config) -> ColumnDrift | None:
    """The label judged alone (a family of one), under the auto rule at ``data.drift.label-threshold``:
    a moved label is news of its own, never counted in the features' share."""
    ref, cur = reference.label, _label_side(current, cfg)
    if ref is None or cur is None or ref.kind != cur.kind:
        return None
    d = cfg.data.drift
    family = METHODS[choose_method(ref, cur, d.method)].family
    result = column_drift(cfg.data.label, ref, cur, d.method, d.label_threshold if family else d.threshold, d.bins)
    return judge_family([result], result.threshold)[0] if result is not None else None


def _not_drifted(cfg: Config) -> tuple[str, ...]:
    """The label, the columns the model never sees (``model.drop-columns``) and those drift skips."""
    skipped = [name for name, o in cfg.data.drift.columns.items() if o.skip]
    return tuple(dict.fromkeys([*([cfg.data.label] if cfg.data.label else []), *cfg.model.drop_columns, *skipped]))


def _left_out(current: Scan, cfg: Config, reference: Reference, drift: list[ColumnDrift],
              model_reference: bool) -> dict[str, str]:
    """Each column of the data that drift did not compare, and why (the label is judged on its own line)."""
    compared, why = {d.column for d in drift}, {}
    for name in cfg.model.drop_columns:
        why[name] = "model.drop-columns"
    for name, override in cfg.data.drift.columns.items():
        if override.skip:
            why[name] = "skip: true in data.drift.columns"
    wide = current.high_cardinality()
    for name, col in current.columns.items():
        if name in compared or name == cfg.data.label or name in why:
            continue
        if col.kind in ("timestamp", "date"):
            why[name] = "a date or time, new on every run by nature: freshness checks it"
        elif name in wide:
            distinct = f"{len(col.counts):,} distinct values" if col.counts else "more than 10,000 distinct values"
            why[name] = f"an identifier or free text: {distinct} in {current.rows:,} rows"
        elif name in reference.skipped:
            why[name] = "an identifier or free text in the reference"
        elif model_reference and name not in reference.sides:
            why[name] = "not a feature of the model (its stored profile has no bins for it)"
        else:
            why[name] = "no values to compare on one side"
    return {name: text for name, text in why.items() if name in current.columns}


def _drift(current: Scan, reference: dict[str, Side], reference_skipped: set[str], cfg: Config,
           model_reference: bool = False) -> list[ColumnDrift]:
    """Drift of every column both sides can compare; a column too high-cardinality on either side (an id,
    a free-text field) is left out, not mistaken for a missing column. Against a model's stored profile
    only the model's features are compared: the data may hold more columns (ids, dates, the label)."""
    for name in cfg.data.drift.columns:  # a typo must not switch a column's rule off unseen
        if name not in current.columns:
            guess = difflib.get_close_matches(name, current.names, n=1)
            raise ConfigError(f"`data.drift.columns.{name}`: `{name}` is not a column of the data", file=cfg.file,
                              line=cfg.line_of(f"data.drift.columns.{name}"),
                              hint=f"did you mean `{guess[0]}`?" if guess else "name a column of the data")
    cur = current.sides(_not_drifted(cfg))
    skipped = current.high_cardinality() | reference_skipped
    missing = sorted(set(reference) - set(cur) - skipped)
    extra = [] if model_reference else sorted(set(cur) - set(reference) - skipped)
    if missing or extra:
        raise DataError(f"the reference has different columns (only in reference: {missing or 'none'}; only in "
                        f"data: {extra or 'none'})", file=current.source,
                        hint="compare datasets with the same columns, or leave a column out of drift with "
                             "data.drift.columns.<name>: {skip: true} (the label and model.drop-columns are)")
    d, out = cfg.data.drift, []
    for name in (n for n in cur if n in reference):
        override = d.columns.get(name)
        method = (override.method if override and override.method else None) or d.method
        threshold = override.threshold if override and override.threshold is not None else d.threshold
        result = column_drift(name, reference[name], cur[name], method, threshold, d.bins)
        if result is not None:
            out.append(result)
    return judge_family(out, d.level)


def _report_body(data, reference, version, s: Scan, passed, checks, drift, weight, cfg: Config,
                 label: ColumnDrift | None = None, importance: bool = False,
                 left_out: dict[str, str] | None = None) -> dict:
    """The JSON report. ``drifted_share`` counts columns; ``drifted_weight`` is what the dataset verdict
    reads (the drifted columns' importance, or the same share when the columns weigh alike)."""
    share = sum(d.drifted for d in drift) / len(drift) if drift else 0.0
    return {"data": data, "reference": reference, "data_version": version, "rows": s.rows, "columns": len(s.columns),
            "passed": passed, "checks": [c.to_dict() for c in checks],
            "drift": [d.to_dict() for d in drift], "drifted_share": round(share, 6),
            "drifted_weight": round(weight, 6), "weights": "importance" if importance else "equal",
            "dataset_drifted": bool(drift) and weight >= cfg.data.drift.dataset_share,
            "dataset_drift_share": cfg.data.drift.dataset_share, "drift_method": cfg.data.drift.method,
            "label_drift": label.to_dict() if label is not None else None,
            "prediction_drift": PREDICTION_DRIFT, "drift_handling": HANDLING,
            "histograms": {d.column: {"bins": d.bins, "reference": d.reference, "current": d.current}
                           for d in [*drift, *([label] if label else [])] if d.drifted},
            "drift_left_out": left_out or {}}


def _line(cfg: Config, check: Check) -> int | None:
    """The rule's own line, else its column's (a default rule has no line of its own)."""
    column = check.column or ""
    return (cfg.line_of(check.config_path or "") or cfg.line_of(f"data.columns.{column}")
            or (cfg.line_of("data.label") if column and column == cfg.data.label else None))


def _annotate(gh: Actions, cfg: Config, data: str, checks: list[Check], drift: list[ColumnDrift]) -> None:
    for check in (c for c in checks if not c.passed):
        gh.annotate("error", check.message,  # it says what was measured against what (the summary's table too)
                    file=cfg.file if cfg.lines else data, line=_line(cfg, check),
                    title=f"aicd data gate: {check.name}")
    for d in (d for d in drift if d.drifted):
        op = "<" if METHODS[d.method].p_value else ">"
        gh.annotate("warning", f"`{d.column}` drifted: {d.method} {_statistic(d.method, d.statistic)} {op} "
                    f"{d.threshold:g}",
                    file=data, title="aicd data drift")


def render_summary(body: dict, checks: list[Check], drift: list[ColumnDrift]) -> str:
    passed = body["passed"]
    failed = [c for c in checks if not c.passed]
    parts = [f"## {ICON[passed]} aicd data gate — {'passed' if passed else 'failed'}\n\n"
             f"{md_code(body['data'])} · {body['rows']:,} rows × {body['columns']} columns · "
             f"data-version {md_code(body['data_version'])}"]
    if failed:
        parts.append("### Failed checks\n\n" + table(["check", "column", "measured", "threshold", "message"],
                     [[c.name, c.column, *c.shown(), c.message] for c in failed]))
    if drift:
        drifted = sum(d.drifted for d in drift)
        verdict = "dataset drifted" if body["dataset_drifted"] else "dataset not drifted"
        parts.append(f"### Drift against {md_code(body['reference'])} — {drifted} of {len(drift)} columns drifted "
                     f"({verdict})\n\n" + verdict_lines(body, md_code) + "\n\n" + table(
                         ["column", "method", "statistic", "threshold", "verdict", "note"],
                         [[d.column, d.method, _statistic(d.method, d.statistic), d.threshold,
                           "drifted" if d.drifted else "ok", d.note]
                          for d in sorted(drift, key=lambda d: (not d.drifted, d.column))]))
    if body.get("drift_left_out"):
        parts.append("Left out of drift: " + ", ".join(f"{md_code(name)} ({why})" for name, why
                                                       in body["drift_left_out"].items()))
    parts.append(details(f"All {len(checks)} checks", table(
        ["", "check", "column", "measured", "threshold"],
        [[ICON[c.passed], c.name, c.column, *c.shown()] for c in checks])))
    return "\n\n".join(parts)


def verdict_lines(body: dict, code=md_code) -> str:
    """Dataset, label and prediction drift as three lines, each judged apart (Markdown)."""
    weight, limit = body["drifted_weight"], body["dataset_drift_share"]
    what = "of the features' importance" if body["weights"] == "importance" else "of the compared columns"
    dataset = (f"- **Dataset:** {'drifted' if body['dataset_drifted'] else 'not drifted'} — the drifted columns "
               f"carry {weight:.1%} {what}; it drifts at {limit:.0%} (data.drift.share)")
    label = body.get("label_drift")
    if label is None:
        label_line = "- **Label:** not compared (no label in both the data and the reference)"
    else:
        op = "<" if METHODS[label["method"]].p_value else ">"
        label_line = (f"- **Label:** {code(label['column'])} {'drifted' if label['drifted'] else 'not drifted'} "
                      f"({label['method']} {_statistic(label['method'], label['statistic'])}, drift when {op} "
                      f"{label['threshold']:g}{_floor_note(label)}; judged apart, not counted in the dataset's share)")
    return "\n".join([dataset, label_line, f"- **Prediction:** {body['prediction_drift']}"])


def _statistic(method: str, value) -> str:
    found = METHODS.get(method)
    return found.shown(value) if found is not None else _fmt(value)


def _floor_note(label: dict) -> str:
    """Why a significant label change is not drift (the effect floor), when that is so."""
    note = str(label.get("note") or "")
    return f" — {note[note.index('significant, but below'):]}" if "significant, but below" in note else ""


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4g}"


REPORT_ARTIFACT = "aicd-data-gate-report"  # the artifact aicd-pipeline.yml uploads the reports as
TOP_FAILED, TOP_DRIFTED = 10, 5  # what a pull-request reader needs; the job summary has every row


def comment_section(body: dict, checks: list[Check], drift: list[ColumnDrift], links: pr.Links,
                    html: str = "") -> pr.Section:
    """The data gate's part of the pull-request comment: verdict, failed checks, the most drifted
    columns, and where the full (HTML) report is."""
    failed = [c for c in checks if not c.passed]
    parts = [f"#### {ICON[body['passed']]} Data gate — {'passed' if body['passed'] else 'failed'}\n\n"
             f"{pr.code(body['data'])} · {body['rows']:,} rows × {body['columns']} columns · "
             f"{len(checks) - len(failed)} of {len(checks)} checks passed · "
             f"data-version {pr.code(body['data_version'])}"]
    if failed:
        rows = [[c.name, c.column, *c.shown(), c.message] for c in failed[:TOP_FAILED]]
        parts.append(pr.table(["failed check", "column", "measured", "threshold", "message"], rows)
                     + _more(len(failed) - TOP_FAILED, "failed checks"))
    drifted = sorted((d for d in drift if d.drifted), key=_severity, reverse=True)
    if drift:
        verdict = "dataset drifted" if body["dataset_drifted"] else "dataset not drifted"
        parts.append(f"Drift against {pr.code(body['reference'])}: {len(drifted)} of {len(drift)} columns drifted "
                     f"({verdict}).\n\n" + verdict_lines(body, pr.code))
    if drifted:
        parts.append(pr.table(["drifted column", "method", "statistic", "threshold"],
                              [[d.column, d.method, d.statistic, d.threshold] for d in drifted[:TOP_DRIFTED]])
                     + _more(len(drifted) - TOP_DRIFTED, "drifted columns"))
    parts.append(f"Every check and column: {links.report('the job summary of this run')}; the HTML report "
                 f"with the histograms is {pr.code(html or 'validate.html')}, in the run's artifact "
                 f"{pr.code(REPORT_ARTIFACT)} where the workflow uploads it (aicd-pipeline.yml does).")
    return pr.Section("validate", "\n\n".join(parts))


def _severity(d: ColumnDrift) -> float:
    """How far past its threshold a column drifted (a p-value: how far below it)."""
    if METHODS[d.method].p_value:
        return d.threshold / d.statistic if d.statistic > 0 else float("inf")
    return d.statistic / d.threshold if d.threshold > 0 else float("inf")


def _more(count: int, what: str) -> str:
    return f"\n\n… and {count} more {what} in the job summary." if count > 0 else ""

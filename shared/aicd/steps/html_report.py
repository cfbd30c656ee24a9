"""A self-contained HTML data report a person can read: the verdicts first (the gate's, and drift's
apart from it), every check against its threshold, one section per failed check, and for every drifted
column a reference-vs-current chart with labelled axes (bin ranges or level names, shares) and the
numbers in a table under it.

One file, no scripts, no external assets: inline CSS and SVG, hover text in SVG ``<title>``. Every
string that comes from data, config or paths (column names, levels, messages, file names) is escaped
with :func:`html.escape` before it reaches the page, attributes included.
"""

from __future__ import annotations

from html import escape

from ..data.checks import shown
from ..data.drift import METHODS, ColumnDrift
from .summary import _fmt

_STYLE = """body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.6em 0 1.2em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.bad{color:#b00}.ok{color:#070}.warn{color:#a65f00}
header{border-left:8px solid #070;padding:.2em 1em;margin-bottom:1.5em}header.bad{border-color:#b00}
header.warn{border-color:#e69a00}header.ok,header.bad,header.warn{color:inherit}
header h1{margin:.3em 0}header ul{list-style:none;padding:0;margin:.5em 0}
header li{margin:.25em 0}header li b{display:inline-block;min-width:9em}
tr.failed td{background:#fff1f1}section.check{border-left:4px solid #b00;padding:.1em 1em;margin:1em 0}
figure{margin:0 0 2em}figcaption{font-weight:600;margin-bottom:.3em}
figure table{font-size:12px}.legend span{display:inline-block;width:10px;height:10px;margin:0 4px}
svg text{font-size:11px;fill:#333}svg .axis{stroke:#888}svg .grid{stroke:#e4e4e4}"""
REF, CUR = "#7b9fd4", "#e0894a"
MAX_BARS = 30  # rows a chart shows; a column with more bins shows the ones whose share moved most
LABEL_CHARS = 28  # a longer bin or level name is cut in the chart (it is whole in the hover and the table)


def render_html(body: dict, drift: list[ColumnDrift]) -> str:
    """The page for ``body`` (the JSON report validate.py writes) and the ``drift`` it was made from.

    Pure: the same inputs give the same text. ``body`` needs the keys validate.py writes (``data``,
    ``reference``, ``data_version``, ``rows``, ``columns``, ``passed``, ``checks``, ``drifted_share``,
    ``dataset_drifted``); ``dataset_drift_share`` and ``drift_handling`` are shown when present."""
    drifted = sorted((d for d in drift if d.drifted), key=lambda d: d.column)
    failed = [c for c in body["checks"] if not c["passed"]]
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>aicd data report</title>
<style>{_STYLE}</style></head><body>
{_header(body, drift, drifted)}
{_checks_table(body["checks"])}
{"".join(_failed_section(c) for c in failed)}
{_drift_table(body, drift) if drift else ""}
{_charts(drifted)}
{_handling(body) if drift else ""}
</body></html>
"""


def _header(body: dict, drift: list[ColumnDrift], drifted: list[ColumnDrift]) -> str:
    """The gate's verdict and drift's verdict as separate lines: drift never fails the gate, but a page
    that says a green "passed" over drifted columns would hide it — so drift turns the header amber."""
    checks, passed = body["checks"], body["passed"]
    failed = sum(not c["passed"] for c in checks)
    state = "bad" if not passed else "warn" if drifted else "ok"
    title = "failed" if not passed else "passed, with drift" if drifted else "passed"
    gate = (f'<span class=bad>failed</span>: {failed} of {len(checks)} checks failed' if not passed
            else f'<span class=ok>passed</span>: all {len(checks)} checks passed')
    lines = [f"<li><b>Data gate</b>{gate}</li>"]
    if not body.get("reference"):
        lines.append("<li><b>Column drift</b>not measured: no reference was given</li>")
    elif not drift:
        lines.append(f"<li><b>Column drift</b>no column could be compared with "
                     f"<code>{escape(str(body['reference']))}</code></li>")
    else:
        names = ", ".join(f'<a href="#drift-{i}"><code>{escape(d.column)}</code></a>' for i, d in enumerate(drifted))
        cls = "warn" if drifted else "ok"
        lines.append(f"<li><b>Column drift</b><span class={cls}>{len(drifted)} of {len(drift)} columns "
                     f"drifted</span>{': ' + names if names else ''}</li>")
        lines.append(f"<li><b>Dataset drift</b>{_dataset_verdict(body)}</li>")
        lines.append(f"<li><b>Label drift</b>{_label_verdict(body)}</li>")
        if body.get("prediction_drift"):
            lines.append(f"<li><b>Prediction drift</b>{escape(body['prediction_drift'])}</li>")
        if body.get("drift_left_out"):
            shown = ", ".join(f"<code>{escape(name)}</code> ({escape(why)})"
                              for name, why in body["drift_left_out"].items())
            lines.append(f"<li><b>Left out of drift</b>{shown}</li>")
        lines.append("<li><small>Drift is a warning, not a failure of this gate: retraining on drift is the "
                     "production gate's call.</small></li>")
    return (f"<header class={state}><h1>aicd data gate — <span class={state}>{title}</span></h1>"
            f"<p><code>{escape(str(body['data']))}</code> · {body['rows']:,} rows × {body['columns']} columns · "
            f"data-version <code>{escape(str(body['data_version']))}</code></p><ul>{''.join(lines)}</ul></header>")


def _dataset_verdict(body: dict) -> str:
    share, limit = body["drifted_share"], body.get("dataset_drift_share")
    weight = body.get("drifted_weight", share)
    what = "of the features' importance" if body.get("weights") == "importance" else "of the compared columns' weight"
    rule = f", the dataset drifts at {limit:.1%} (data.drift.share)" if limit is not None else ""
    verdict = "<span class=warn>drifted</span>" if body["dataset_drifted"] else "<span class=ok>not drifted</span>"
    return f"{verdict}: {share:.1%} of compared columns drifted, carrying {weight:.1%} {what}{rule}"


def _label_verdict(body: dict) -> str:
    label = body.get("label_drift")
    if label is None:
        return "not compared: the data and the reference do not both hold the label"
    verdict = "<span class=warn>drifted</span>" if label["drifted"] else "<span class=ok>not drifted</span>"
    method = METHODS.get(label["method"])
    op = "<" if method is not None and method.p_value else ">"
    statistic = "n/a" if label["statistic"] is None else f"{label['statistic']:.4g}"
    kind = "p-value " if method is not None and method.p_value else ""
    note = str(label.get("note") or "")
    floor = f" — {escape(note[note.index('significant, but below'):])}" if "significant, but below" in note else ""
    return (f"{verdict}: <code>{escape(str(label['column']))}</code> {escape(label['method'])} {kind}{statistic}, "
            f"drift when {escape(op)} {label['threshold']:g}{floor} (judged apart from the features)")


def _checks_table(checks: list[dict]) -> str:
    """Every check, failed ones first (each group in the order the gate ran them)."""
    rows = "".join(
        f"<tr class={'passed' if c['passed'] else 'failed'}><td>{escape(c['name'])}</td>"
        f"<td>{_code(c['column'])}</td>{''.join(f'<td>{escape(v)}</td>' for v in _shown(c))}"
        f"<td class={'ok' if c['passed'] else 'bad'}>{'passed' if c['passed'] else 'failed'}</td></tr>"
        for c in sorted(checks, key=lambda c: c["passed"]))
    return _table(f"Data checks ({len(checks)})", ["check", "column", "measured", "threshold", "verdict"], rows)


def _failed_section(check: dict) -> str:
    config = check.get("config_path")
    where = f" · rule <code>{escape(config)}</code>" if config else ""
    measured, threshold = _shown(check)
    return (f"<section class=check><h3>Failed: {escape(check['name'])}"
            f"{' — ' + _code(check['column']) if check['column'] is not None else ''}</h3>"
            f"<p>{escape(check['message'])}</p><p>measured <b>{escape(measured)}</b>, threshold "
            f"<b>{escape(threshold)}</b>{where}</p></section>")


def _shown(check: dict) -> tuple[str, str]:
    """The check's measured value and threshold with unit and comparison (:func:`aicd.data.checks.shown`)."""
    return tuple(_fmt(v) for v in shown(check["name"], check["measured"], check["threshold"]))


def _drift_table(body: dict, drift: list[ColumnDrift]) -> str:
    rows = "".join(
        f"<tr><td>{_code(d.column)}</td><td>{escape(d.kind)}</td><td>{escape(d.method)}</td>"
        f"<td class=num>{escape(METHODS[d.method].shown(d.statistic))}</td>"
        f"<td>{_limit(d)}</td><td class={'warn' if d.drifted else 'ok'}>{'drifted' if d.drifted else 'ok'}</td>"
        f"<td class=num>{d.n_reference:,}</td><td class=num>{d.n_current:,}</td><td>{escape(d.note)}</td></tr>"
        for d in sorted(drift, key=lambda d: (not d.drifted, d.column)))
    return _table(f"Drift against {body['reference']}", ["column", "kind", "method", "statistic", "drift when",
                                                         "verdict", "reference rows", "current rows", "note"], rows)


def _limit(d: ColumnDrift) -> str:
    method = METHODS.get(d.method)
    return escape(f"{'<' if method is not None and method.p_value else '>'} {d.threshold:g}")


def _handling(body: dict) -> str:
    handling = body.get("drift_handling") or {}
    items = "".join(f"<li>{escape(str(text))}</li>" for text in handling.values())
    return f"<h2>How drift was measured</h2><ul>{items}</ul>" if items else ""


def _charts(drifted: list[ColumnDrift]) -> str:
    if not drifted:
        return ""
    legend = (f'<p class=legend><span style="background:{REF}"></span>reference '
              f'<span style="background:{CUR}"></span>current — bar length is the share of the side\'s rows '
              "in the bin; hover a bar for its numbers</p>")
    return "<h2>Drifted columns</h2>" + legend + "".join(_chart(d, f"drift-{i}") for i, d in enumerate(drifted))


def _shares(d: ColumnDrift) -> list[tuple[str, float, float, float, float]]:
    """(bin, reference share, current share, reference count, current count) of every bin."""
    total_ref, total_cur = sum(d.reference) or 1, sum(d.current) or 1
    return [(b, r / total_ref, c / total_cur, r, c) for b, r, c in zip(d.bins, d.reference, d.current, strict=True)]


def _chart(d: ColumnDrift, anchor: str) -> str:
    rows = _shares(d)
    shown, caveat = rows, ""
    if len(rows) > MAX_BARS:  # the most moved bins, kept in their own order so the axis reads as before
        moved = sorted(range(len(rows)), key=lambda i: -abs(rows[i][2] - rows[i][1]))[:MAX_BARS]
        shown = [rows[i] for i in sorted(moved)]
        caveat = (f"<p><small>The chart shows the {MAX_BARS} of {len(rows)} {_unit(d)}s whose share changed most; "
                  "the table has all of them.</small></p>")
    return (f'<figure id="{anchor}"><figcaption><code>{escape(d.column)}</code> — {escape(d.kind)}, '
            f"{escape(d.method)} {d.statistic:.4g} (drift when {_limit(d)})</figcaption>{_svg(d, shown)}{caveat}"
            f"{_share_table(d, rows)}</figure>")


def _unit(d: ColumnDrift) -> str:
    return "level" if d.kind == "categorical" else "bin"


def _svg(d: ColumnDrift, rows: list[tuple[str, float, float, float, float]]) -> str:
    """Horizontal grouped bars: one row per bin (its range or level name on the left axis), reference
    above current, the share axis along the top and bottom in percent."""
    left, plot, right, top, row, bar = 190, 360, 60, 44, 26, 10
    height = top + row * len(rows) + 34
    scale, step = _axis(max((max(r, c) for _, r, c, _, _ in rows), default=0))
    x = lambda share: left + share / scale * plot  # noqa: E731 - the one mapping every mark uses
    parts = []
    for k in range(round(scale / step) + 1):
        at = x(k * step)
        parts.append(f'<line class=grid x1="{at:.1f}" y1="{top - 4}" x2="{at:.1f}" y2="{height - 30}"/>'
                     f'<text x="{at:.1f}" y="{top - 8}" text-anchor="middle">{k * step:.0%}</text>')
    for i, (name, r, c, nr, nc) in enumerate(rows):
        y = top + i * row + 3
        parts.append(f'<text x="{left - 6}" y="{y + bar + 3}" text-anchor="end"><title>{escape(name)}</title>'
                     f"{escape(_cut(name))}</text>")
        for j, (share, count, colour, side) in enumerate(((r, nr, REF, "reference"), (c, nc, CUR, "current"))):
            top_y = y + j * bar
            hover = escape(f"{name}: {side} {share:.1%} ({count:,.0f} rows)")
            parts.append(f'<rect x="{left}" y="{top_y}" width="{max(x(share) - left, 0.5):.1f}" height="{bar - 1}" '
                         f'fill="{colour}"><title>{hover}</title></rect>'
                         f'<text x="{x(share) + 4:.1f}" y="{top_y + bar - 1}">{share:.1%}</text>')
    parts.append(f'<line class=axis x1="{left}" y1="{top - 4}" x2="{left}" y2="{height - 30}"/>'
                 f'<text x="{left + plot / 2}" y="{height - 10}" text-anchor="middle">share of rows</text>'
                 f'<text x="4" y="12">{_unit(d)} of {escape(_cut(d.column))}</text>')
    label = escape(f"{d.column}: reference and current share of rows per {_unit(d)}")
    return (f'<svg width="{left + plot + right}" height="{height}" role="img" aria-label="{label}">'
            f"{''.join(parts)}</svg>")


def _axis(peak: float) -> tuple[float, float]:
    """(axis end, tick step): the smallest step of a short list that covers ``peak`` in at most 5 ticks."""
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25):
        if peak <= step * 5:
            end = max(step, -(-peak // step) * step)
            return min(end, 1.0), step
    return 1.0, 0.25


def _share_table(d: ColumnDrift, rows: list[tuple[str, float, float, float, float]]) -> str:
    body = "".join(f"<tr><td>{escape(name)}</td><td class=num>{r:.1%}</td><td class=num>{c:.1%}</td>"
                   f"<td class=num>{(c - r) * 100:+.1f} pp</td><td class=num>{nr:,.0f}</td>"
                   f"<td class=num>{nc:,.0f}</td></tr>" for name, r, c, nr, nc in rows)
    head = "".join(f"<th{' class=num' if i else ''}>{h}</th>" for i, h in enumerate(
        [_unit(d), "reference share", "current share", "change", "reference rows", "current rows"]))
    return f"<table><tr>{head}</tr>{body}</table>"


def _table(title: str, headers: list[str], rows: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<h2>{escape(title)}</h2><table><tr>{head}</tr>{rows}</table>"


def _code(value: object) -> str:
    return "—" if value is None else f"<code>{escape(str(value))}</code>"


def _cut(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "…"

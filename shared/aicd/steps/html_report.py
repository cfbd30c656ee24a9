"""A self-contained HTML data report: verdicts, failed checks, and reference-vs-current histograms
(inline SVG, no scripts, no external assets) for every drifted column. User text is escaped."""

from __future__ import annotations

from html import escape

from ..data.drift import ColumnDrift

_STYLE = """body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
.bad{color:#b00}.ok{color:#070}figure{display:inline-block;margin:0 1.5em 1.5em 0}
figcaption{font-weight:600;margin-bottom:.3em}.legend span{display:inline-block;width:10px;height:10px;margin:0 4px}"""
REF, CUR = "#7b9fd4", "#e0894a"


def render_html(body: dict, drift: list[ColumnDrift]) -> str:
    failed = [c for c in body["checks"] if not c["passed"]]
    rows = "".join(f"<tr><td>{escape(c['name'])}</td><td>{escape(str(c['column']))}</td>"
                   f"<td>{escape(str(c['measured']))}</td><td>{escape(str(c['threshold']))}</td>"
                   f"<td>{escape(c['message'])}</td></tr>" for c in failed)
    verdict = "passed" if body["passed"] else "failed"
    charts = "".join(_chart(d) for d in drift if d.drifted)
    drift_rows = "".join(
        f"<tr><td>{escape(d.column)}</td><td>{d.method}</td><td>{d.statistic:.4g}</td><td>{d.threshold}</td>"
        f"<td class={'bad' if d.drifted else 'ok'}>{'drifted' if d.drifted else 'ok'}</td></tr>" for d in drift)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>aicd data report</title>
<style>{_STYLE}</style></head><body>
<h1>aicd data gate — <span class={'ok' if body['passed'] else 'bad'}>{verdict}</span></h1>
<p><code>{escape(body['data'])}</code> · {body['rows']:,} rows × {body['columns']} columns · data-version
<code>{escape(body['data_version'])}</code></p>
{_section("Failed checks", ["check", "column", "measured", "threshold", "message"], rows) if failed else ""}
{_section(f"Drift against {body['reference']}", ["column", "method", "statistic", "threshold", "verdict"],
          drift_rows) if drift else ""}
{_legend() + charts if charts else ""}
</body></html>
"""


def _section(title: str, headers: list[str], rows: str) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    return f"<h2>{escape(title)}</h2><table><tr>{head}</tr>{rows}</table>"


def _legend() -> str:
    return (f'<h2>Drifted columns</h2><p class=legend><span style="background:{REF}"></span>reference '
            f'<span style="background:{CUR}"></span>current</p>')


def _chart(d: ColumnDrift, width: int = 420, height: int = 160) -> str:
    """Grouped bars of the share of each bin, reference beside current."""
    total_ref, total_cur = sum(d.reference) or 1, sum(d.current) or 1
    shares = [(r / total_ref, c / total_cur) for r, c in zip(d.reference, d.current, strict=True)][:40]
    top = max((max(pair) for pair in shares), default=1) or 1
    slot = width / max(len(shares), 1)
    bars = []
    for i, (r, c) in enumerate(shares):
        for j, (value, colour) in enumerate(((r, REF), (c, CUR))):
            h = value / top * (height - 20)
            label = escape(f"{d.bins[i]}: {'reference' if j == 0 else 'current'} {value:.1%}")
            bars.append(f'<rect x="{i * slot + j * slot * 0.45 + 1:.1f}" y="{height - h:.1f}" '
                        f'width="{slot * 0.42:.1f}" height="{h:.1f}" fill="{colour}"><title>{label}</title></rect>')
    return (f"<figure><figcaption>{escape(d.column)} — {d.method} {d.statistic:.4g}</figcaption>"
            f'<svg width="{width}" height="{height}" role="img">{"".join(bars)}</svg></figure>')

"""Small Markdown builders for job summaries (user text is always escaped)."""

from __future__ import annotations

from ..gha import md_escape

ICON = {True: "✅", False: "❌", None: "➖"}


def table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(md_escape(_fmt(c)) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def details(title: str, body: str) -> str:
    return f"<details><summary>{md_escape(title)}</summary>\n\n{body}\n\n</details>"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return "" if value is None else str(value)

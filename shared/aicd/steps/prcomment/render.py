"""The sticky pull-request comment as text (pure): its markers, the stages' sections, the merge of a new
section into the comment already there, truncation to GitHub's limit, and inert user text.

The comment starts with :data:`MARKER` (an HTML comment GitHub does not show). Each section is kept
between two marker lines naming its key and the workflow run that wrote it::

    <!-- aicd:section train run=123 -->

    ...Markdown...

    <!-- aicd:end train -->

so validate, train, deploy and monitor, run one after another, each replace their own section and keep
the others'. Sections of another run are dropped: the comment tells the story of one run (one commit),
never a mix in which a passing model gate of the last push stands beside this push's failed data gate.
A key is a stage, or ``<stage>.<tenant>``; it orders the sections (stages in pipeline order). Whoever
writes several sections at once (one job after a matrix of tenants) gives them all to :func:`compose`.

Markers are whole lines, and user text only ever lands inside a line (through :func:`text` or
:func:`code`), so no data can forge or end a section.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from ...gha import md_code, md_escape

__all__ = ["MARKER", "ORDER", "TITLES", "Links", "Run", "Section", "code", "compose", "fit", "parse", "table",
           "text", "truncate"]

MARKER = "<!-- aicd:pr-comment -->"
ORDER = ("validate", "train", "deploy", "monitor")
TITLES = {"validate": "Data gate", "train": "Model gate", "deploy": "Release", "monitor": "Production gate"}
_KEY = r"[a-z0-9][a-z0-9.-]{0,120}"
_SECTION = re.compile(rf"^<!-- aicd:section ({_KEY}) run=([0-9]*) -->\n\n(.*?)\n\n<!-- aicd:end \1 -->$",
                      re.MULTILINE | re.DOTALL)
_WORD_JOINER = "\u2060"  # invisible: placed inside a mention, issue link, autolink or emoji code, it breaks it
# where GitHub would start one: @user (and e-mail addresses), #123, scheme://, www., :emoji:
_DEFUSED = re.compile(r"(?<=@)(?=[\w-])|(?<=#)(?=\w)|(?<=:)(?=/)|(?<=www)(?=\.)|(?<=:)(?=[\w+-]+:)", re.IGNORECASE)
_URL_SAFE = ":/?#[]@!$&'*+,;=%-._~"  # what stays as it is in a link's destination; the rest is encoded
_CUT = ("\n\n*… {lines} more line(s) cut to keep this comment within GitHub's 65,536 characters; the job "
        "summary has them all.*")


@dataclass(frozen=True)
class Section:
    """One stage's part of the comment. ``body`` is Markdown whose user text went through :func:`text`
    or :func:`code`; ``key`` is the stage (``validate``...), or ``<stage>.<tenant>``."""

    key: str
    body: str

    def __post_init__(self):
        if not re.fullmatch(_KEY, self.key):
            raise ValueError(f"section key {self.key!r} is not lower-case letters, digits, '.' and '-'")


@dataclass(frozen=True)
class Run:
    """The workflow run writing the comment: its id (digits; empty outside Actions), page and commit."""

    id: str = ""
    url: str = ""
    commit: str = ""


@dataclass(frozen=True)
class Links:
    """Where the comment's links point: the run's page, and the MLflow UI (empty: no MLflow links)."""

    run_url: str = ""
    mlflow_ui: str = ""

    def mlflow_run(self, run_id: str) -> str:
        """``run <id>``, linked to its MLflow page when the UI is known."""
        shown = code(run_id[:12])
        return _link(f"run {shown}", f"{self.mlflow_ui}/#/runs/{quote(run_id, safe='')}") if self.mlflow_ui \
            else f"run {shown}"

    def model_version(self, name: str, version: object) -> str:
        """``<name> version <n>``, linked to the registered version's MLflow page when the UI is known."""
        shown = f"{code(name)} version {code(version)}"
        if not self.mlflow_ui or not str(version):
            return shown
        return _link(shown, f"{self.mlflow_ui}/#/models/{quote(name, safe='')}/versions/{quote(str(version), safe='')}")

    def report(self, what: str) -> str:
        """``what`` linked to the run's page (its job summary and artifacts), or as it is."""
        return _link(what, self.run_url) if self.run_url else what


def text(value: object) -> str:
    """User text as inert inline Markdown, fit for a table cell or a sentence: every Markdown or HTML
    character escaped (:func:`aicd.gha.md_escape`, plus ``&``, ``~`` and ``$``, which GitHub renders as
    entities, strike-through and math), line breaks joined, and an invisible word joiner (U+2060) where
    GitHub would start a mention, an issue link, an autolink or an emoji code (``@user``, ``#1``,
    ``https://``, ``www.``, ``:smile:``), so nobody is pinged and nothing is linked. Text without those
    shows (and copies) as it is."""
    out = md_escape(value)
    for char in "&~$":
        out = out.replace(char, "\\" + char)
    return _DEFUSED.sub(_WORD_JOINER, out)


def code(value: object) -> str:
    """User text as a code span (nothing in it renders, pings or links); never inside a table cell,
    where a ``|`` would split it: use :func:`text` there."""
    return md_code(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table; headers are aicd's own, every cell goes through :func:`text` (numbers as 4
    significant digits)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return str(value)
    return text(value)


def _link(label: str, url: str) -> str:
    """A Markdown link whose destination cannot end early: anything but URL characters is encoded."""
    return f"[{label}](<{quote(url, safe=_URL_SAFE)}>)"


def parse(body: str | None) -> dict[str, tuple[str, str]]:
    """The sections of an existing comment: key -> (run id, Markdown). Malformed parts are ignored."""
    if not body or not body.startswith(MARKER):
        return {}
    return {m.group(1): (m.group(2), m.group(3)) for m in _SECTION.finditer(body)}


def compose(previous: str | None, sections: Sequence[Section], run: Run, limit: int) -> str:
    """The comment after ``sections`` replaced theirs in ``previous`` (None: there is none yet): the
    sections ``previous`` holds from the same run are kept, those of other runs dropped, all ordered by
    key, and the whole kept within ``limit`` characters by cutting the longest sections first."""
    kept = {key: body for key, (run_id, body) in parse(previous).items() if run_id == run.id}
    kept.update({s.key: s.body for s in sections})
    ordered = [Section(key, kept[key]) for key in sorted(kept, key=_order)]
    head = _head(run)
    overhead = len(head) + sum(len(_wrap(Section(s.key, ""), run.id)) + 2 for s in ordered)
    fitted = fit(ordered, limit - overhead)
    return "\n\n".join([head, *(_wrap(s, run.id) for s in fitted)]) + "\n"


def _order(key: str) -> tuple[int, str]:
    stage = key.split(".", 1)[0]
    return (ORDER.index(stage) if stage in ORDER else len(ORDER), key)


def _head(run: Run) -> str:
    where = [f"commit {code(run.commit[:12])}"] if run.commit else []
    if run.id:
        where.append(_link(f"run {run.id}", run.url) if run.url else f"run {run.id}")
    return f"{MARKER}\n### aicd" + (" · " + " · ".join(where) if where else "")


def _wrap(section: Section, run_id: str) -> str:
    # blank lines around the body: a marker line must never continue the section's last table or paragraph
    return f"<!-- aicd:section {section.key} run={run_id} -->\n\n{section.body}\n\n<!-- aicd:end {section.key} -->"


def fit(sections: Sequence[Section], budget: int) -> list[Section]:
    """``sections`` within ``budget`` characters in all: when they do not fit, every section longer
    than a common cap is cut to it (the largest cap that fits), so short sections stay whole."""
    sizes = [len(s.body) for s in sections]
    if sum(sizes) <= budget:
        return list(sections)
    cap, rest, count = 0, budget, len(sizes)
    for size in sorted(sizes):  # water-filling: the short ones whole, the rest share what is left evenly
        if size * count > rest:
            cap = max(0, rest // count)
            break
        rest, count = rest - size, count - 1
    return [Section(s.key, truncate(s.body, cap)) for s in sections]


def truncate(markdown: str, limit: int) -> str:
    """``markdown`` within ``limit`` characters, cut between lines (never inside a table row, a link or a
    code span), with a note saying how much was cut, and any ``<details>`` left open closed again."""
    if len(markdown) <= limit:
        return markdown
    lines, kept, size, opened = markdown.split("\n"), [], 0, 0
    closing = "\n\n</details>"
    for line in lines:
        opens = opened + line.count("<details>") - line.count("</details>")
        note = len(_CUT.format(lines=len(lines) - len(kept))) + len(closing) * max(opens, 0)
        if size + len(line) + 1 + note > limit:
            break
        kept.append(line)
        size, opened = size + len(line) + 1, opens
    cut = "\n".join(kept) + _CUT.format(lines=len(lines) - len(kept)) + closing * max(opened, 0)
    return cut if len(cut) <= limit else "…"[:limit]

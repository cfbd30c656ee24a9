"""The HTML data report in a real browser: Debian's ``chromium``, headless, opens the page the data gate
wrote and hands back the DOM it built and its console log.

What a browser makes of the page is what counts: the DOM must hold the report's numbers and names as
text, hostile column names and levels must stay text (no ``<script>`` or ``<img>`` element built from
them), and a page with no scripts logs nothing to the console. A control page that does log proves the
console channel is read, so a quiet log means something. Chromium comes from
``scripts/install-test-packages``, run here when it is missing; no test is skipped without it.
"""

from __future__ import annotations

import subprocess
from html.parser import HTMLParser
from pathlib import Path

from tests.conftest import ROOT
from tests.integration.conftest import stop_group
from tests.report_case import IMG, SCRIPT, run_gate

CHROMIUM = Path("/usr/bin/chromium")
INLINE = {"span", "code", "a", "small"}


def _ensure_chromium() -> None:
    if not CHROMIUM.exists():
        out = subprocess.run([str(ROOT / "scripts/install-test-packages")], capture_output=True, text=True, timeout=900)
        if out.returncode != 0 or not CHROMIUM.exists():
            raise RuntimeError(f"scripts/install-test-packages did not provide {CHROMIUM}: {out.stderr[-2000:]}")


def _open(page: Path, profile: Path, timeout: float = 120) -> tuple[str, list[str]]:
    """(the DOM chromium built from ``page``, its console lines). Chromium and its helpers run in their own
    process group, ended as a whole whatever happens."""
    _ensure_chromium()
    proc = subprocess.Popen([str(CHROMIUM), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--dump-dom",
                             page.resolve().as_uri()],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        dom, log = proc.communicate(timeout=timeout)
    finally:
        stop_group(proc)
    assert proc.returncode == 0, log[-3000:]
    return dom, [line for line in log.splitlines() if ":CONSOLE" in line]


class _Dom(HTMLParser):
    """The elements of a serialised DOM and its text as a reader sees it (entities decoded)."""

    def __init__(self, dom: str):
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.chunks: list[str] = []
        self.feed(dom)
        self.text = " ".join("".join(self.chunks).split())

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += attrs
        self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag not in INLINE:  # a cell, a line, a heading: words either side do not run together
            self.chunks.append(" ")

    def handle_data(self, data):
        self.chunks.append(data)


def test_the_console_log_is_read(tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text('<!doctype html><p>probe</p><script>console.error("aicd-console-probe")</script>')
    dom, console = _open(probe, tmp_path / "profile")
    assert "<p>probe</p>" in dom and any("aicd-console-probe" in line for line in console), console


def test_a_browser_shows_the_verdicts_checks_and_labelled_charts_and_runs_nothing_from_the_data(tmp_path):
    body, page = run_gate(tmp_path)
    dom, console = _open(page, tmp_path / "profile")
    assert console == []  # no scripts, no failed loads, no errors
    seen = _Dom(dom)
    assert "script" not in seen.tags and "img" not in seen.tags  # the hostile names stayed text
    assert not [name for name, _ in seen.attributes if name.startswith("on") or name == "src"]
    text = seen.text
    assert "aicd data gate — failed" in text
    assert "Data gate failed: 1 of 9 checks failed" in text
    assert f"Column drift 3 of 4 columns drifted: {SCRIPT}, monthly_charges, plan" in text
    assert ("Dataset drift drifted: 75.0% of compared columns drifted, carrying 75.0% of the compared columns' "
            "weight, the dataset drifts at 20.0%") in text
    assert "Prediction drift not measured by the data gate" in text
    assert f"Failed: range — {SCRIPT}" in text and f"`{SCRIPT}` has 6 above 7.5 (observed 1.679 .. 8.748)" in text
    assert "range " + SCRIPT + " 1.679 .. 8.748 <= 7.5 failed" in text  # its row in the checks table
    assert "label-balance churned 38.7% ≥ 30.0% passed" in text  # shares read as shares, with the comparison
    plan = body["histograms"]["plan"]
    for level, ref, cur in zip(plan["bins"], plan["reference"], plan["current"], strict=True):
        assert f"{level} {ref / 2000:.1%} {cur / 2000:.1%}" in text, level  # the share table under the chart
        assert f"{level}: reference {ref / 2000:.1%}" in text  # the hover title of its bar
    assert IMG in plan["bins"] and "level of plan" in text and "share of rows" in text
    for label in body["histograms"]["monthly_charges"]["bins"]:
        assert label in text
    assert "region categorical levels" in text and " ok " in text  # the steady column, in the drift table

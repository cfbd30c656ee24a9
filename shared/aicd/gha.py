"""The only place that speaks the GitHub Actions runner protocol.

Outputs go to the ``GITHUB_OUTPUT`` file as heredocs with a random delimiter, the job summary to
``GITHUB_STEP_SUMMARY`` (under act, which keeps none, to a file in the act home: :mod:`aicd.under_act`),
annotations and masks to stdout as workflow commands, escaped the way actions/toolkit escapes them.
Outside Actions (a laptop, ``aicd demo``) the same calls print plain, readable lines instead. The
runner state comes from the mapping given to :class:`Actions`, never from the environment at import
time, so tests pass a dict and temp files.

Workflow commands come only from here. The runner treats any stdout or stderr line that starts
with ``::`` (after leading white space) or holds ``##[`` as a command, so text from data or users
could forge annotations, masks or a stop of command processing. Two mechanisms make that
impossible rather than unlikely:

- every progress line the product prints goes through :func:`inert` (``Actions.info`` does it):
  one line, control characters shown as escapes, never a command;
- while :meth:`Actions.fenced` is open (the CLI keeps it open for the whole step), command
  processing is stopped with a random token, so nothing else — libraries, warnings, tracebacks,
  C extensions writing to the file descriptors — can issue a command either. The product's own
  commands resume processing for exactly their own lines.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TextIO

from . import under_act

__all__ = ["Actions", "escape_data", "escape_property", "inert", "md_code", "md_escape"]

_LEVELS = ("error", "warning", "notice")
# Everything that ends a line for the runner, Python or a terminal, and every other control character.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_SHOWN = {"\n": "\\n", "\r": "\\r"}


def inert(text: object) -> str:
    """``text`` as one log line the runner shows and never runs as a workflow command.

    Line breaks and other control characters become visible escapes (``\\n``, ``\\x1b``), a ``##[``
    (the runner's legacy command prefix, honoured anywhere in a line) is broken up, and a line that
    would start with ``::`` gets a leading backslash. Text without such characters is unchanged.
    """
    line = _CONTROL.sub(_visible, str(text)).replace("##[", "##\\[")
    if line.lstrip().startswith("::"):
        line = "\\" + line.lstrip()
    return line


def _visible(match: re.Match) -> str:
    char = match.group()
    return _SHOWN.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def escape_data(text: str) -> str:
    """Escape a workflow command's message (as actions/toolkit ``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value (as actions/toolkit ``escapeProperty``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def md_escape(text: str) -> str:
    """Make user text safe inside a Markdown table cell of the job summary."""
    out = str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")
    for ch in "<>`*_[]":
        out = out.replace(ch, "\\" + ch)
    return out


def md_code(text: object) -> str:
    """User text as a Markdown inline code span, shown literally whatever backticks, HTML or markup
    it holds: the fence is longer than any run of backticks inside (CommonMark), lines are joined."""
    body = " ".join(str(text).splitlines()) or " "
    fence = "`" * (max((len(run) for run in re.findall(r"`+", body)), default=0) + 1)
    pad = " " if body[0] == "`" or body[-1] == "`" else ""
    return f"{fence}{pad}{body}{pad}{fence}"


class Actions:
    """Runner I/O for one step, built from an environment mapping and an output stream.

    ``set_output`` values that are not strings are written as single-line JSON. Everything that
    was output is also kept in ``outputs`` so a local caller can print or chain it.
    """

    def __init__(self, env: Mapping[str, str], stream: TextIO | None = None):
        self._output_file = env.get("GITHUB_OUTPUT") or None
        self._summary_file = env.get("GITHUB_STEP_SUMMARY") or None
        self._env = env
        self.on_runner = env.get("GITHUB_ACTIONS") == "true"
        self._stream = stream or sys.stdout
        self._fence: str | None = None
        self.outputs: dict[str, str] = {}
        self.commands: list[str] = []  # every workflow-command line written, in order (for tests and audits)
        self.comment_section: Callable[..., object] | None = None
        self.stage = ""  # the aicd command this step runs; names its summary file under act

    def set_output(self, name: str, value: object) -> None:
        """Record one step output; multi-line values are safe, any value is data."""
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), sort_keys=True)
        self.outputs[name] = text
        if self._output_file:
            with open(self._output_file, "a", encoding="utf-8") as fh:
                fh.write(_heredoc(name, text))

    def set_outputs(self, values: Mapping[str, object]) -> None:
        for name, value in values.items():
            self.set_output(name, value)

    def annotate(self, level: str, message: str, *, file: str | None = None, line: int | None = None,
                 title: str | None = None) -> None:
        """Emit an error/warning/notice; on the runner it lands on ``file``:``line`` in the diff view."""
        if level not in _LEVELS:
            raise ValueError(f"annotation level must be one of {_LEVELS}, not {level!r}")
        if not self.on_runner:
            where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
            self._print(f"{level}: {where}{message}")
            return
        props = {"file": file, "line": line, "title": title}
        rendered = ",".join(f"{k}={escape_property(str(v))}" for k, v in props.items() if v is not None)
        self._command(f"::{level}{' ' + rendered if rendered else ''}::{escape_data(message)}")

    def mask(self, secret: str) -> None:
        """Ask the runner to hide ``secret`` in all later log lines (each line of it, too)."""
        if not self.on_runner:
            return
        parts = [part for part in dict.fromkeys([secret, *secret.splitlines()]) if part.strip()]
        if parts:
            self._command(*(f"::add-mask::{escape_data(part)}" for part in parts))

    @contextlib.contextmanager
    def fenced(self) -> Iterator[None]:
        """Stop the runner's command processing until the block ends (on the runner; nothing elsewhere).

        Inside, only this object's own commands are processed: each resumes processing with the
        current random token, writes its lines and stops again under a new token. Output from
        anything else (libraries, subprocesses, tracebacks) is shown and never run. Nested use is
        one fence."""
        if not self.on_runner or self._fence is not None:
            yield
            return
        self._fence = _token()
        self._write(f"::stop-commands::{self._fence}")
        try:
            yield
        finally:
            self._write(f"::{self._fence}::")
            self._fence = None

    def summary(self, markdown: str) -> None:
        """Append the step's job summary (call once, at the end of the step). Under act, which shows
        GITHUB_STEP_SUMMARY only as log lines and then deletes it, the summary goes to a file of its own
        in the act home instead, and its path is printed."""
        kept = under_act.summary_file(self._env, datetime.now(UTC), self.stage)
        path, what = (str(kept), "the act home") if kept else (self._summary_file, "GITHUB_STEP_SUMMARY")
        if not path:
            return
        try:
            if kept:
                kept.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(markdown.strip("\n") + "\n\n")
        except OSError as exc:  # the summary is a report: failing to write it must not undo the step
            self.annotate("warning", f"cannot write the job summary to {what} {path!r}: {exc.strerror or exc}",
                          title="aicd")
            return
        if kept:
            self.info(f"job summary (act keeps none): {path}")

    def comment(self, render: Callable[..., object]) -> None:
        """Hand over the step's pull-request comment section, as a function the CLI calls with the
        comment's links only when it writes one (:mod:`aicd.steps.prcomment`; nothing is sent from
        here). The last one handed over wins."""
        self.comment_section = render

    def info(self, message: str) -> None:
        """A progress line for the log; any data in it stays inert (see :func:`inert`)."""
        self._print(message)

    def _print(self, text: str) -> None:
        self._stream.write(inert(text) + "\n")
        self._stream.flush()

    def _command(self, *lines: str) -> None:
        """Write workflow-command lines (already escaped), through the fence when one is open. The
        resume, the lines and the new stop go out in one write, so nothing can come between them."""
        if self._fence is not None:
            resume, self._fence = self._fence, _token()
            lines = (f"::{resume}::", *lines, f"::stop-commands::{self._fence}")
        self._write(*lines)

    def _write(self, *lines: str) -> None:
        self.commands.extend(lines)
        self._stream.write("".join(line + "\n" for line in lines))
        self._stream.flush()


def _token() -> str:
    return f"aicd-{uuid.uuid4().hex}"


def _heredoc(name: str, value: str) -> str:
    delimiter = f"ghadelimiter_{uuid.uuid4()}"
    if delimiter in name or delimiter in value:  # astronomically unlikely; toolkit refuses it too
        raise ValueError("output name or value contains the heredoc delimiter")
    if not name or any(c in name for c in "\r\n<"):
        raise ValueError(f"invalid output name {name!r}")
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"

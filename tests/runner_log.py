"""How the GitHub Actions runner reads a step's log: which lines it would process as workflow commands.

Written from actions/runner's ``ActionCommand.TryParseV2`` / ``TryParse`` and
``ActionCommandManager``: a line (split on CR, LF or CRLF, as .NET's ``ReadLine``) is a command
when, after leading white space, it starts with ``::`` and has a second ``::``, or when it holds
``##[`` followed by ``]`` anywhere (the legacy form). After ``::stop-commands::TOKEN`` every
command is ignored until one named TOKEN (``::TOKEN::``) resumes processing.
"""

from __future__ import annotations

import re

_LINES = re.compile(r"\r\n|\r|\n")


def runner_lines(log: str) -> list[str]:
    """The lines as the runner splits them (CR, LF, CRLF; not Unicode's other separators)."""
    return _LINES.split(log)


def command_name(line: str) -> str | None:
    """The command a line would run (``error``, ``add-mask``, a resume token ...), or None."""
    text = line.lstrip()
    if text.startswith("::"):
        end = text.find("::", 2)
        if end >= 0:
            return text[2:end].split(" ", 1)[0]
    start = line.find("##[")
    if start >= 0:
        end = line.find("]", start)
        if end >= 0:
            return line[start + 3:end].split(" ", 1)[0]
    return None


def processed_commands(log: str) -> list[str]:
    """The lines of ``log`` the runner would process as commands, in order (stop/resume included)."""
    processed, stopped = [], None
    for line in runner_lines(log):
        name = command_name(line)
        if name is None or not name:
            continue
        if stopped is not None:
            if name == stopped:
                processed.append(line)
                stopped = None
            continue
        processed.append(line)
        if name == "stop-commands":
            stopped = line.lstrip()[2:].split("::", 1)[1]
    return processed

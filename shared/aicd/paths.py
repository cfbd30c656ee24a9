"""Where a step may write a file it was asked to write (a report, a rule file), and the writing.

A path given as an input is data, so it must not be able to point anywhere: ``--report
../../../x.json`` or ``--report aicd.yml`` (overwriting the config with JSON) are refused, in one
line, before any work is done. A step writes only

- inside the workspace (``GITHUB_WORKSPACE``, else the current directory),
- inside ``RUNNER_TEMP``,
- inside a folder the caller names explicitly (``folders``: the demo's own work folder),
- under act, inside the act home, where a relative path is taken (:mod:`aicd.under_act`: act deletes
  the workspace when the job succeeds),

never onto one of the step's own input files, never onto a directory. Paths are compared after
resolving symbolic links, so a link cannot smuggle a write outside either.
"""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from . import under_act
from .errors import ConfigError, UserError

__all__ = ["check_writable", "write_text"]


def check_writable(path: str, *, what: str, env: Mapping[str, str], inputs: Mapping[str, str] | None = None,
                   folders: Iterable[str] = (), own: str = "report") -> Path:
    """``path`` when a step may write it (the rules above); ConfigError naming ``what`` otherwise.
    ``inputs`` are the step's inputs (the files they name are protected, except input ``own``,
    the path being checked), ``folders`` extra places the user named for writing."""
    path = under_act.placed(path, env)
    try:
        return _checked(path, what, env, inputs or {}, folders, own)
    except OSError as exc:  # a name too long, a component that is a file ...
        raise ConfigError(f"{what}: {path[:80]!r} is not a usable path ({exc.strerror or exc})") from None


def _checked(path: str, what: str, env: Mapping[str, str], inputs: Mapping[str, str], folders: Iterable[str],
             own: str) -> Path:
    real = Path(os.path.realpath(path))
    if real.is_dir():
        raise ConfigError(f"{what}: {path[:200]!r} is a directory", hint="name a file, e.g. aicd-reports/report.json")
    if real in _input_files({k: v for k, v in inputs.items() if k != own}):
        raise ConfigError(f"{what}: {path!r} is one of this step's inputs; writing it would destroy it",
                          hint="name a new file, e.g. aicd-reports/report.json")
    places = _places(env, folders)
    if not any(real.is_relative_to(root) for _, root in places):
        raise ConfigError(f"{what}: {path!r} is outside the places a step may write",
                          hint="write inside " + " or ".join(name.format(root) for name, root in places))
    return Path(path)


def write_text(path: Path, text: str, what: str) -> None:
    """Write ``path`` whole or not at all (a temp file beside it, then a rename); an OS refusal is
    one UserError naming ``what``."""
    tmp = path.with_name(f".{path.name}.aicd-tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise UserError(f"{what}: cannot write {str(path)!r}: {exc.strerror or exc}",
                        hint="name a file in a writable folder") from None


def _places(env: Mapping[str, str], folders: Iterable[str]) -> list[tuple[str, Path]]:
    """Where a step may write, each with how a message names it (``{}``: the folder); run locally,
    without GITHUB_WORKSPACE, the workspace is the current directory."""
    workspace = ("the workspace {}", env["GITHUB_WORKSPACE"]) if env.get("GITHUB_WORKSPACE") else \
        ("the current directory {} (no GITHUB_WORKSPACE is set)", os.getcwd())
    named = [workspace, ("RUNNER_TEMP {}", env.get("RUNNER_TEMP", "")), ("act's home {}", under_act.home(env) or ""),
             *(("{} (a folder this step was given)", f) for f in folders)]
    out: dict[Path, str] = {}
    for name, place in named:
        if place:
            out.setdefault(Path(os.path.realpath(place)), name)
    return [(name, root) for root, name in out.items()]


def _input_files(inputs: Mapping[str, str]) -> set[Path]:
    """Every existing file an input names (globs expanded), resolved."""
    found = set()
    for value in inputs.values():
        if not isinstance(value, str) or not value or len(value) > 4096 or "\0" in value:
            continue
        matches = glob.glob(value) if glob.has_magic(value) else [value]
        found.update(Path(os.path.realpath(m)) for m in matches if os.path.isfile(m))
    return found

"""Pulling a DVC-tracked `data` path at the checked-out commit's version, and saying where it came from.

A team that keeps its data in DVC commits only ``<path>.dvc`` (or a ``dvc.lock`` stage output); the
bytes live on a DVC remote. Before the file reader opens such a path, :func:`pull` runs ``dvc pull``
for it, so the step reads exactly the version the commit names, and returns a :class:`DvcOrigin`
(DVC's md5, the git commit, the remote) for lineage.

DVC is not in the actions' venv (its dependency tree would fight aicd.lock): it lives in its own
venv built from ``requirements/dvc.lock`` by ``shared/bin/aicd-venv``, and aicd runs its ``dvc``
CLI. Every failure is one line: DataError when the data or the repo's DVC setup is wrong,
ServiceError when the remote or the package index cannot be reached.
"""

from __future__ import annotations

import configparser
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import DataError, ServiceError

__all__ = ["DvcOrigin", "pull", "tracking_file"]

_REPO = Path(__file__).resolve().parents[3]
_DVC_LOCK = _REPO / "requirements" / "dvc.lock"
_AICD_VENV = _REPO / "shared" / "bin" / "aicd-venv"
PULL_TIMEOUT = 1800  # seconds: a first pull may move gigabytes
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_UNREACHABLE = re.compile(r"cannot connect|connect call failed|connection (refused|reset|aborted)|timed? ?out|"
                          r"name or service not known|temporary failure in name resolution|"
                          r"server ?disconnected|network is unreachable|no route to host", re.IGNORECASE)
_PUSH_HINT = "run `dvc push` where the data was added"
_REMOTE_HINT = "add one with `dvc remote add -d <name> <url>` and commit .dvc/config"


@dataclass(frozen=True)
class DvcOrigin:
    """Where a pulled path came from: its lineage record."""

    path: str    # the path as given
    md5: str     # DVC's hash of the output holding it (outs md5; a directory's ends in .dir)
    rev: str     # git commit of the checkout ("" if not a git repo)
    remote: str  # remote name and URL, e.g. "storage (/srv/dvc-remote)"; "" if none


@dataclass(frozen=True)
class _Out:
    file: Path    # the .dvc or dvc.lock naming it
    path: Path    # the output's absolute path (the given path or a directory holding it)
    md5: str
    remote: str   # the output's own `remote:`, "" for the default


def tracking_file(path: str) -> Path | None:
    """The ``.dvc`` file or ``dvc.lock`` whose output is ``path`` or a directory holding it; None when
    DVC does not track it. Reads files only: no dvc, no subprocess."""
    out = _find_out(path)
    return out.file if out else None


def pull(path: str, say: Callable[[str], None] = lambda text: None) -> DvcOrigin:
    """Make the workspace copy of ``path`` the version the checkout's ``.dvc``/``dvc.lock`` names
    (``dvc pull``; a no-op when it already is) and return its origin. Raises DataError when ``path``
    is not tracked, has no remote, is missing on it, or holds changes no DVC cache keeps (never
    overwritten); ServiceError when the remote or the package index cannot be reached."""
    root = _repo_root(path)
    out = _find_out(path, root)
    if out is None or root is None:
        raise DataError("not tracked by DVC: no .dvc file or dvc.lock output names it", file=path,
                        hint="`dvc add` it and commit the .dvc file, or give a path that is not DVC-tracked")
    name, url = _remote(root, out.remote)
    url = _without_userinfo(url)
    remote = f"{name} ({url})" if name else ""
    say(f"dvc pull {path} from {remote or 'the local DVC cache'} ({out.file.name}: md5 {out.md5})")
    dvc = _dvc_executable()
    target = os.path.relpath(os.path.abspath(path), root)
    done = _run([dvc, "pull", target], root, PULL_TIMEOUT, f"dvc remote {remote or '(none)'}")
    if done.returncode != 0:
        raise _pull_error(path, done.stdout + done.stderr, dvc, root, name, url)
    return DvcOrigin(path, out.md5, _git_rev(root), remote)


def _without_userinfo(url: str) -> str:
    """A remote URL fit for logs and lineage: ``https://user:token@host/x`` → ``https://host/x``."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1", url, flags=re.IGNORECASE)


def _find_out(path: str, root: Path | None = None) -> _Out | None:
    """The output that is ``path`` or a directory holding it: ``<dir>.dvc`` files first, then the
    ``dvc.lock`` files from ``path``'s folder up to the repo root (DVC forbids overlapping outputs)."""
    root = root or _repo_root(path)
    target = Path(os.path.abspath(path))
    if root is None or target == root:
        return None
    inside = [target, *target.parents[:target.parents.index(root)]]
    for candidate in inside:
        if (found := _dvc_file_out(candidate)) is not None:
            return found
    for folder in (*inside[1:], root):
        lock = folder / "dvc.lock"
        stages = (_yaml(lock).get("stages") or {}).values() if lock.is_file() else ()
        for stage in stages:
            outs = _outs(lock, folder, stage.get("outs") if isinstance(stage, dict) else None)
            if found := next((o for o in outs if o.path in inside), None):
                return found
    return None


def _repo_root(path: str) -> Path | None:
    """The nearest directory at or above ``path`` holding ``.dvc/``."""
    here = Path(os.path.abspath(path))
    return next((d for d in (here, *here.parents) if (d / ".dvc").is_dir()), None)


def _dvc_file_out(target: Path) -> _Out | None:
    file = target.with_name(target.name + ".dvc")
    if not file.is_file():
        return None
    return next((o for o in _outs(file, file.parent, _yaml(file).get("outs")) if o.path == target), None)


def _outs(file: Path, base: Path, entries: object) -> list[_Out]:
    if not isinstance(entries, list):
        return []
    return [_Out(file, Path(os.path.normpath(base / str(e["path"]))), str(e.get("md5", "")), str(e.get("remote", "")))
            for e in entries if isinstance(e, dict) and e.get("path")]


def _yaml(file: Path) -> dict:
    try:
        data = yaml.safe_load(file.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataError(f"cannot read DVC file: {str(exc).splitlines()[0]}", file=str(file),
                        line=mark.line + 1 if mark else None,
                        hint="restore it from git (`git checkout -- <file>`)") from None
    return data if isinstance(data, dict) else {}


def _remote(root: Path, override: str) -> tuple[str, str]:
    """The remote a pull uses (the output's own, else ``core.remote``) and its URL, from DVC's
    config levels (system, global, repo, local; later wins). ("", "") when none is set."""
    merged: dict[str, dict[str, str]] = {}
    for file in _config_files(root):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read(file)
        except configparser.Error:
            continue  # dvc itself reports a broken config, in its own words
        for section in parser.sections():  # DVC writes ['remote "storage"']
            values = {key: value.strip().strip("'\"") for key, value in parser[section].items()}
            merged.setdefault(re.sub(r"^'(.*)'$", r"\1", section.strip()), {}).update(values)
    name = override or merged.get("core", {}).get("remote", "")
    url = merged.get(f'remote "{name}"', {}).get("url", "")
    return (name, url) if name else ("", "")


def _config_files(root: Path) -> list[Path]:
    system = Path(os.environ.get("DVC_SYSTEM_CONFIG_DIR", "/etc/xdg/dvc"))
    user = Path(os.environ.get("DVC_GLOBAL_CONFIG_DIR") or
                Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "dvc")
    return [system / "config", user / "config", root / ".dvc" / "config", root / ".dvc" / "config.local"]


def _dvc_executable() -> str:
    """The ``dvc`` of the venv built from dvc.lock (built once, cached by the lock's hash)."""
    done = _run([str(_AICD_VENV), str(_DVC_LOCK)], _REPO, 900, "package index")
    dvc = Path(done.stdout.strip() or "/nonexistent") / "bin" / "dvc"
    if done.returncode != 0 or not dvc.is_file():
        raise ServiceError("package index", f"installing dvc ({_DVC_LOCK.name}) failed: {_last_line(done.stderr)}",
                           retryable=True, hint="check that the runner reaches the package index (PyPI or your mirror)")
    return str(dvc)


def _run(cmd: list[str], cwd: Path, timeout: float, service: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "DVC_STUDIO_OFFLINE": "1", "NO_COLOR": "1", "TERM": "dumb"}
    try:
        return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ServiceError(service, f"`{Path(cmd[0]).name} {Path(cmd[1]).name}` did not finish in {timeout:.0f} s",
                           retryable=True) from None
    except OSError as exc:
        raise ServiceError(service, f"cannot run {Path(cmd[0]).name}: {exc.strerror}", retryable=False) from None


def _pull_error(path: str, output: str, dvc: str, root: Path, name: str, url: str) -> Exception:
    """The one error a failed ``dvc pull`` means, from its output (and, when objects are missing,
    a look at whether the remote answers at all: DVC reports an unreachable remote as missing files)."""
    text = _ANSI.sub("", output)
    where = f"dvc remote {name} ({url})"
    if "no default remote set" in text:
        return DataError("no DVC remote is configured, and the local DVC cache does not hold it", file=path,
                         hint=_REMOTE_HINT)
    if re.search(r"remote '[^']*' doesn't exist", text):
        return DataError(f"DVC remote not configured: {_dvc_line(text)}", file=path, hint=_REMOTE_HINT)
    if "unsaved files without confirmation" in text:
        return DataError("the workspace copy differs from the committed version and is in no DVC cache: "
                         "aicd does not overwrite it", file=path,
                         hint="`dvc add` it to keep it, or delete it to read the committed version")
    missing = re.findall(r"^\s*md5: ([0-9a-f]+(?:\.dir)?)\s*$", text, re.MULTILINE)
    if missing or "Checkout failed" in text:
        down = _unreachable(dvc, root, name, url) or (_UNREACHABLE.search(text) and _dvc_line(text))
        if down:
            return ServiceError(where, f"not reachable: {down}", retryable=True,
                                hint="check that the runner reaches the remote, then retry")
        return DataError(f"not on {where}: {_missing(missing)}", file=path, hint=_PUSH_HINT)
    if _UNREACHABLE.search(text):
        return ServiceError(where, f"not reachable: {_dvc_line(text)}", retryable=True,
                            hint="check that the runner reaches the remote, then retry")
    return DataError(f"dvc pull failed: {_dvc_line(text)}", file=path,
                     hint=f"run `dvc pull {path}` in the repository to see DVC's whole output")


def _missing(md5s: list[str]) -> str:
    if not md5s:
        return "its objects are missing"
    more = f" and {len(md5s) - 1} more" if len(md5s) > 1 else ""
    return f"{len(md5s)} object{'s' if len(md5s) > 1 else ''} missing (md5 {md5s[0]}{more})"


def _unreachable(dvc: str, root: Path, name: str, url: str) -> str:
    """Why the remote does not answer, or "" when it does (a local remote: its folder exists)."""
    if not name:
        return ""
    if "://" not in url or url.startswith("file://"):
        folder = root / ".dvc" / url.removeprefix("file://")  # relative URLs are relative to .dvc/
        return "" if folder.is_dir() else f"folder {folder.resolve()} does not exist"
    probe = _run([dvc, "ls-url", f"remote://{name}/"], root, 60, f"dvc remote {name} ({url})")
    text = _ANSI.sub("", probe.stdout + probe.stderr)
    if probe.returncode == 0 or not _UNREACHABLE.search(text):
        return ""
    reason = re.sub(r"^The path '[^']*' does not exist: (\S+: )?", "", _dvc_line(text))
    return reason.split(": [Errno")[0]


def _dvc_line(text: str) -> str:
    """DVC's one meaningful line: its first ERROR, without the generic prefixes, else the last line."""
    errors = [line for line in text.splitlines() if line.startswith("ERROR:")]
    line = errors[0] if errors else _last_line(text)
    for prefix in ("ERROR:", " failed to pull data from the cloud -", " unexpected error -"):
        line = line.removeprefix(prefix)
    return line.strip()[:300] or "no message"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in _ANSI.sub("", text).splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no message"


def _git_rev(root: Path) -> str:
    """``git rev-parse HEAD`` of the checkout, "" when it is not a git repo (or git is absent)."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""

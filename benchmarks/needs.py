"""What the benchmarks need beyond the dev venv's Python, found where the project puts it.

A benchmark runs from a fresh clone with the dev venv (``shared/bin/aicd-venv requirements/dev.lock``)
and the packages ``scripts/install-test-packages`` installs, and nothing on PATH: uv is the one beside
the venv's Python, else the one ``shared/bin/aicd-venv`` bootstrapped into the cache, else bootstrapped
here the same way (pip, hash-checked from ``requirements/uv.lock``). A tool that cannot be had is one
line naming what to run, never a traceback; an optional part that needs a Docker engine says in one
line that it is skipped when none answers.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UV_LOCK = ROOT / "requirements/uv.lock"

__all__ = ["cache_root", "docker_engine", "program", "uv", "venv"]


def cache_root() -> Path:
    """The cache ``shared/bin/aicd-venv`` uses: $AICD_CACHE_DIR, the runner's tool cache, ~/.cache/aicd."""
    if os.environ.get("AICD_CACHE_DIR"):
        return Path(os.environ["AICD_CACHE_DIR"])
    if os.environ.get("RUNNER_TOOL_CACHE"):
        return Path(os.environ["RUNNER_TOOL_CACHE"]) / "aicd"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aicd"


def uv() -> str:
    """The path of uv, bootstrapping the project's pinned one into the cache when there is none."""
    beside = Path(sys.executable).parent / "uv"  # the dev venv installs uv: its lock pins it
    found = shutil.which("uv") or (str(beside) if beside.is_file() else None)
    if found:
        return found
    version = re.search(r"^uv==([0-9.]+)", UV_LOCK.read_text(encoding="utf-8"), re.M).group(1)
    home = cache_root() / f"uv-{version}"
    if not (home / "bin/uv").is_file():
        print(f"bootstrapping uv {version} into {home} (as shared/bin/aicd-venv does) ...", flush=True)
        try:
            subprocess.run([sys.executable, "-m", "venv", str(home)], check=True, capture_output=True)
            subprocess.run([str(home / "bin/python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                            "--require-hashes", "--only-binary", ":all:", "-r", str(UV_LOCK)], check=True,
                           capture_output=True)
        except subprocess.CalledProcessError as exc:
            sys.exit(f"error: cannot install uv {version} from the package index into {home} "
                     f"({(exc.stderr or b'').decode(errors='replace').strip().splitlines()[-1:]}): "
                     "install uv, or run shared/bin/aicd-venv requirements/dev.lock once with the index reachable")
    return str(home / "bin/uv")


def program(name: str, hint: str, path: str | None = None) -> str:
    """The path of a program the benchmark cannot do without; exit with one line saying how to get it."""
    found = path if path and Path(path).is_file() else shutil.which(name)
    if not found:
        sys.exit(f"error: {path or name} is missing: {hint}")
    return found


def docker_engine():
    """(a docker client, "") when an engine answers within 5 s, else (None, why not in a few words)."""
    try:
        import docker
    except ImportError:
        return None, "the docker package is not installed in this Python"
    try:
        client = docker.from_env(timeout=5)
        client.ping()
    except Exception as exc:  # DockerException, or a socket error underneath: either way no engine to use
        where = os.environ.get("DOCKER_HOST") or "the default socket"
        return None, f"no Docker engine answers at {where} ({type(exc).__name__})"
    return client, ""


def venv(name: str, requirements: list[str], env: dict[str, str] | None = None) -> Path:
    """The python of a competitor's own venv under the cache's ``bench-venvs/``, built with uv from the
    package index when missing or when its requirements changed (a marker file keeps them)."""
    home = cache_root() / "bench-venvs" / name
    marker = home / ".bench-requirements"
    if not marker.exists() or marker.read_text().split("\n") != requirements:
        print(f"building the {name} venv in {home} ...", flush=True)
        tool, python = uv(), f"{sys.version_info.major}.{sys.version_info.minor}"
        subprocess.run([tool, "venv", "-q", "--allow-existing", "-p", python, str(home)], check=True, env=env)
        subprocess.run([tool, "pip", "install", "-q", "--compile-bytecode", "--python", str(home / "bin/python"),
                        *requirements], check=True, env=env)
        marker.write_text("\n".join(requirements))
    return home / "bin/python"

"""Where remote data lands before it is read: one temp directory per process, removed at exit.

A query's rows and a bucket's objects are streamed to local files here (bounded memory: one batch
or one block at a time), so the scan, the content hash and training read them as they read any
file, in parallel, as often as they like, and the database is asked once. On a runner the
directory is under ``RUNNER_TEMP`` (emptied after every job); elsewhere under the system temp dir.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["spool_dir"]

_DIR: list[Path] = []


def spool_dir() -> Path:
    """The process's spool directory, created on first use."""
    if not _DIR:
        base = os.environ.get("RUNNER_TEMP") or None
        path = Path(tempfile.mkdtemp(prefix="aicd-data-", dir=base if base and Path(base).is_dir() else None))
        atexit.register(shutil.rmtree, path, True)
        _DIR.append(path)
    return _DIR[0]

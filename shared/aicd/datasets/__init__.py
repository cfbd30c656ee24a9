"""Reading datasets: the adapters that turn where a team keeps its data into Arrow record batches.

    open_source(spec, settings, env=..., mask=..., say=...) -> Source

``spec`` is what the ``data`` (or ``reference``) input says; the first kind that claims it reads it:

* a SQL query — a ``.sql`` file or ``sql: SELECT ...`` (:mod:`.sql`), on the database whose URL is in
  the environment variable ``data.sql.url-env`` names;
* object storage — ``s3://``, ``gs://``, ``az://`` paths and globs (:mod:`.objects`);
* DVC — a local path (or a glob inside a folder) that a ``.dvc`` file or ``dvc.lock`` tracks is pulled
  at the checkout's version first (:mod:`.dvc`), then read as files;
* files — a local path or glob of CSV, Parquet, JSON Lines or Arrow files (:mod:`.files`).

Remote rows are first streamed to local files in the spool (:mod:`.spool`), so every kind ends as a
:class:`~.files.Source` of local files: the scan (which only knows :class:`aicd.data.dataset.Dataset`),
the content hash and training read them alike, and the database is queried once per step. The
source's ``origin`` says where the rows came from, for lineage; the data-version is the hash of the
bytes read, whatever the kind.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from ..config.data import DataConfig
from .files import Source, check_format, content_hash, open_files, read_frame
from .spool import spool_dir

__all__ = ["Source", "content_hash", "open_source", "read_frame"]


def open_source(spec: str, settings: DataConfig | None = None, *, env: Mapping[str, str] | None = None,
                mask: Callable[[str], None] = lambda secret: None,
                say: Callable[[str], None] = lambda text: None) -> Source:
    """The dataset ``spec`` names, as local files; raises DataError / ConfigError / ServiceError (one line)."""
    settings = settings or DataConfig()
    env = os.environ if env is None else env
    from .sql import is_query

    if is_query(spec):
        return _query(spec, settings, env, mask, say)
    from .objects import is_object_url

    if is_object_url(spec):
        return _objects(spec, settings, env, mask, say)
    from .dvc import tracking_file

    tracked = _fixed_part(spec)
    if tracking_file(tracked) is not None:
        return _dvc(spec, tracked, settings, say)
    return open_files(spec, settings.delimiter)


def _fixed_part(spec: str) -> str:
    """The path before the first glob character's folder (``data/day=*/x.csv`` → ``data``): what DVC tracks."""
    if not glob.has_magic(spec):
        return spec
    head = re.split(r"[*?\[]", spec, maxsplit=1)[0]
    return os.path.dirname(head) or "."


def _dvc(spec: str, tracked: str, settings: DataConfig, say) -> Source:
    from .dvc import pull

    origin = pull(tracked, say)
    source = open_files(spec, settings.delimiter)
    return replace(source, origin={"kind": "dvc", "uri": spec, "dvc_md5": origin.md5, "dvc_rev": origin.rev,
                                   "dvc_remote": origin.remote})


def _query(spec: str, settings: DataConfig, env, mask, say) -> Source:
    from .sql import open_query, spool_query

    query = open_query(spec, env, settings.sql.url_env, mask)
    say(f"running {query.label} on {query.where}")
    target = Path(tempfile.mkdtemp(prefix="query-", dir=spool_dir())) / "rows.arrow"  # one per call
    rows = spool_query(query, target, settings.sql.fetch_rows, say)
    say(f"{rows:,} rows from {query.where}")
    origin = {"kind": "sql", "uri": query.shown, "query": query.label,
              "query_sha256": hashlib.sha256(query.text.encode()).hexdigest()}
    return replace(open_files(str(target)), spec=query.label, labels=(query.label,), origin=origin)


def _objects(spec: str, settings: DataConfig, env, mask, say) -> Source:
    from .objects import fetch_objects

    into = Path(tempfile.mkdtemp(prefix="objects-", dir=spool_dir()))  # one per call
    copies = fetch_objects(spec, into, env, mask, say,
                           check=lambda url: check_format(Path(url.rsplit("/", 1)[-1]), url))
    return Source(spec, tuple(p for _, p in copies), settings.delimiter, labels=tuple(u for u, _ in copies),
                  origin={"kind": spec.split("://", 1)[0].lower(), "uri": spec})

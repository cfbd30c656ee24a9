"""SQL sources: a query's rows, streamed from the database into a local Arrow file.

    data: queries/nightly.sql             # a query file in the repository
    data: "sql: SELECT * FROM behaviour"  # or inline

The connection is a SQLAlchemy URL read from the environment variable ``data.sql.url-env`` names
(``AICD_DATABASE_URL`` unless set): it comes from a secret, never from aicd.yml, and its password is
masked in the log before anything can print it. ``postgresql://`` URLs (any ``+driver`` suffix) are
read through ADBC's PostgreSQL driver — libpq's binary COPY, Arrow batches with no Python objects
per row — installed on demand (``requirements/sql.lock``); any other dialect through SQLAlchemy with
a server-side cursor, ``fetch-rows`` rows at a time (its DBAPI driver must be installed; SQLite's
ships with Python). Either way memory stays bounded: batches go to the spool file as they arrive.

Types are made plain on the way: PostgreSQL ``numeric`` and other decimals become float64, Arrow
extension types their storage, and field metadata is dropped, so the spool is ordinary Arrow.
Every failure is one line naming the source: a bad URL, a missing driver, a refused password, an
unreachable server, a bad query, a connection lost mid-read, an empty result. A partial spool file
is removed, so nothing downstream ever sees half a result.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from ..errors import ConfigError, DataError, ServiceError

__all__ = ["DEFAULT_URL_ENV", "SqlQuery", "is_query", "open_query", "spool_query"]

DEFAULT_URL_ENV = "AICD_DATABASE_URL"
SECRET_PARAMS = re.compile(r"pass|secret|token|key|credential|auth|sslpassword", re.IGNORECASE)
ADBC_DIALECTS = ("postgresql", "postgres")  # postgres:// is what Heroku, Render and Supabase hand out
INLINE = "sql:"


def is_query(spec: str) -> bool:
    """A ``.sql`` file or inline ``sql:`` text."""
    return spec.strip().lower().startswith(INLINE) or spec.lower().endswith(".sql")


@dataclass(frozen=True)
class SqlQuery:
    """A query and where it runs. ``label`` names it in messages (the file, or the inline text's start);
    ``where`` names the server without credentials (``postgresql 127.0.0.1:5432/behaviour``)."""

    text: str
    label: str
    url: object  # sqlalchemy.engine.URL (imported lazily: SQLAlchemy costs 0.2 s to import)
    where: str

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    @property
    def shown(self) -> str:
        """The URL for lineage and logs: no password, no credential-like query parameters."""
        kept = {k: v for k, v in self.url.query.items() if not SECRET_PARAMS.search(k)}
        return self.url.set(query=kept).render_as_string(hide_password=True)


def open_query(spec: str, env: Mapping[str, str], url_env: str = DEFAULT_URL_ENV,
               mask: Callable[[str], None] = lambda secret: None) -> SqlQuery:
    """The query of ``spec`` and the database of ``$url_env``; the URL's password is masked first."""
    text, label = _query_text(spec)
    raw = env.get(url_env, "").strip()
    if not raw:
        raise ConfigError(f"`data` {label!r} is a SQL query but ${url_env} is not set",
                          hint=f"set {url_env} to a SQLAlchemy URL from a secret in the step's `env:` "
                               "(or name another variable with data.sql.url-env)")
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        mask(raw)
        raise ConfigError(f"${url_env} is not a SQLAlchemy URL", hint="e.g. postgresql://user:password@host:5432/db "
                          "or sqlite:///path/to/file.db") from None
    if url.password:
        mask(str(url.password))
    for key, value in url.query.items():  # libpq and drivers also take credentials as parameters
        if SECRET_PARAMS.search(key):
            for item in (value if isinstance(value, tuple) else (value,)):
                mask(str(item))
    where = f"{url.get_backend_name()} " + (f"{url.host}:{url.port or 'default port'}/{url.database or ''}"
                                            if url.host else str(url.database or "(in memory)"))
    return SqlQuery(text, label, url, where)


def _query_text(spec: str) -> tuple[str, str]:
    stripped = spec.strip()
    if stripped.lower().startswith(INLINE):
        text = stripped[len(INLINE):].strip()
        label = " ".join(text.split())
        label = f"sql: {label[:60]}…" if len(label) > 60 else f"sql: {label}"
    else:
        path = Path(spec)
        if not path.is_file():
            raise DataError("query file not found", file=spec, hint="name a .sql file in the repository")
        try:
            text, label = path.read_text(encoding="utf-8-sig"), spec
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read the query file: {exc}", file=spec,
                            hint="save it as UTF-8 text the step can read") from None
    text = text.strip().rstrip(";").strip()
    if not text:
        raise DataError("the query is empty", file=label, hint="write a SELECT that returns the dataset's rows")
    return text, label


def spool_query(query: SqlQuery, into: Path, fetch_rows: int = 65_536,
                say: Callable[[str], None] = lambda text: None) -> int:
    """Run the query and write its rows to the Arrow IPC file ``into``; returns the row count."""
    batches = _adbc_batches(query) if query.dialect in ADBC_DIALECTS else _sqlalchemy_batches(query, fetch_rows)
    rows = 0
    try:
        first = next((b for b in map(_plain, batches) if b.num_rows), None)
        if first is None:
            raise DataError(f"the query returned no rows on {query.where}", file=query.label,
                            hint="check its WHERE clause, or whether today's data has landed")
        with pa.OSFile(str(into), "wb") as sink, pa.ipc.new_file(sink, first.schema) as writer:
            for batch in _chain(first, batches, query):
                writer.write_batch(batch)
                rows += batch.num_rows
                if rows % 1_000_000 < batch.num_rows:
                    say(f"{rows:,} rows read from {query.where}")
    except OSError as exc:  # the spool itself (a full disk): the database is not to blame
        into.unlink(missing_ok=True)
        raise ServiceError("the runner's disk", f"cannot write the query's rows to {into.parent}: {exc}",
                           retryable=False, hint="free disk space under RUNNER_TEMP") from None
    except BaseException:
        into.unlink(missing_ok=True)
        raise
    finally:
        batches.close()  # a generator left early still closes its connection now
    return rows


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch], query: SqlQuery) -> Iterator[pa.RecordBatch]:
    yield first
    for batch in rest:
        plain = _plain(batch)
        yield plain if plain.schema == first.schema else _conformed(plain, first.schema, query)


def _plain(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Extension types as their storage, decimals (and PostgreSQL numeric) as float64, no metadata."""
    columns, fields = [], []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        kind = field.type
        if isinstance(kind, pa.ExtensionType):
            numeric = getattr(kind, "type_name", "") == "numeric"
            column = column.storage
            column = column.cast(pa.float64()) if numeric else column
        elif pa.types.is_decimal(kind):
            column = column.cast(pa.float64())
        columns.append(column)
        fields.append(pa.field(field.name, column.type))
    return pa.RecordBatch.from_arrays(columns, schema=pa.schema(fields))


def _conformed(batch: pa.RecordBatch, schema: pa.Schema, query: SqlQuery) -> pa.RecordBatch:
    """A later batch in the first one's types (a column all NULL at first gets its type later)."""
    try:
        return pa.RecordBatch.from_arrays([c.cast(f.type) if c.type != f.type else c
                                           for c, f in zip(batch.columns, schema, strict=True)], schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        changed = [f.name for c, f in zip(batch.columns, schema, strict=True) if c.type != f.type]
        raise DataError(f"column {changed[0]!r} changes type between batches of the result", file=query.label,
                        hint="CAST it to one type in the query") from None


# ---- PostgreSQL through ADBC -------------------------------------------------------------------

def _adbc_batches(query: SqlQuery) -> Iterator[pa.RecordBatch]:
    from ..installs import ensure

    ensure("sql", lambda text: print(f"aicd: {text}", flush=True))
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi as pg

    uri = query.url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        conn = pg.connect(uri)
    except adbc_driver_manager.Error as exc:
        raise _connect_error(query, _adbc_message(exc, query)) from None
    rows = 0
    try:
        with conn.cursor() as cur:
            try:
                cur.execute(query.text)
                reader = cur.fetch_record_batch()
            except adbc_driver_manager.Error as exc:
                raise _query_error(query, _adbc_message(exc, query)) from None
            try:
                for batch in reader:
                    rows += batch.num_rows
                    yield batch
            except (adbc_driver_manager.Error, OSError, pa.ArrowException) as exc:
                raise _query_error(query, _adbc_message(exc, query), rows) from None
    finally:
        with contextlib.suppress(adbc_driver_manager.Error):  # already gone: the error above says why
            conn.close()


def _adbc_message(exc: BaseException, query: SqlQuery) -> str:
    text = re.sub(r"^(\w+: )?(\[libpq\] )?(Failed to (connect|prepare query|execute query)[^:]*: )?"
                  r"(Execution error \[\w+\]: )?", "", str(exc))
    text = re.split(r"\nQuery was:|\nLINE \d+:|\nDETAIL:|\nHINT:", text)[0]
    text = text.replace("ERROR:  ", "").replace("FATAL:  ", "")
    return _scrubbed(" ".join(text.split()), query)


# ---- any other dialect through SQLAlchemy -----------------------------------------------------

def _sqlalchemy_batches(query: SqlQuery, fetch_rows: int) -> Iterator[pa.RecordBatch]:
    import sqlalchemy
    from sqlalchemy import exc as sa

    try:
        engine = sqlalchemy.create_engine(query.url)
    except (sa.NoSuchModuleError, ModuleNotFoundError) as exc:
        raise ConfigError(f"no SQLAlchemy driver for {query.url.drivername!r} URLs: {exc}",
                          hint="install the dialect's DBAPI driver into the step's Python, or use postgresql://") \
            from None
    try:
        try:
            conn = engine.connect()
        except sa.DBAPIError as exc:
            raise _connect_error(query, _scrubbed(_first(exc.orig), query)) from None
        with conn:
            try:
                result = conn.execution_options(stream_results=True, yield_per=fetch_rows).exec_driver_sql(
                    query.text)
            except sa.DBAPIError as exc:
                raise _query_error(query, _scrubbed(_first(exc.orig), query)) from None
            except sa.SQLAlchemyError as exc:
                raise _query_error(query, _scrubbed(_first(exc), query)) from None
            if not result.returns_rows:
                raise DataError(f"the query returns no result set on {query.where}", file=query.label,
                                hint="write a SELECT (a statement or a comment alone gives no rows)")
            names, rows = list(result.keys()), 0
            try:
                for part in result.partitions():
                    rows += len(part)
                    yield _from_rows(names, part, query)
            except sa.DBAPIError as exc:
                raise _query_error(query, _scrubbed(_first(exc.orig), query), rows) from None
    finally:
        engine.dispose()


def _from_rows(names: list[str], rows, query: SqlQuery) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    try:
        arrays = [pa.array(list(values)) for values in columns]
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise DataError(f"a column of the result mixes types: {str(exc).splitlines()[0]}", file=query.label,
                        hint="CAST it to one type in the query") from None
    arrays = [a.cast(pa.string()) if pa.types.is_null(a.type) else a for a in arrays]
    return pa.RecordBatch.from_arrays(arrays, names=names)


# ---- errors ----------------------------------------------------------------------------------

def _connect_error(query: SqlQuery, message: str) -> ServiceError:
    refused = re.search(r"password authentication failed|role .* does not exist|no password supplied|"
                        r"database .* does not exist|access denied", message, re.IGNORECASE)
    hint = ("check the user, password and database in the connection URL's secret" if refused else
            "check that the server runs and the runner can reach it (host, port, firewall)")
    return ServiceError(query.where, f"cannot connect: {message}", retryable=not refused, hint=hint)


def _query_error(query: SqlQuery, message: str, rows: int | None = None) -> Exception:
    """The connection lost (retryable), else the query itself failed (the user's to fix); ``rows``: read so far."""
    after = f" after {rows:,} rows" if rows else ""
    lost = re.search(r"server closed the connection|terminating connection|connection.*(lost|closed|reset)|"
                     r"no connection to the server|could not receive data", message, re.IGNORECASE)
    if lost:
        return ServiceError(query.where, f"the connection was lost{after} reading {query.label}: {message}",
                            retryable=True, hint="run the step again; if it recurs, check the server's logs and "
                                                 "statement timeout")
    return DataError(f"the query failed{after} on {query.where}: {message}", file=query.label,
                     hint="fix the query (run it with psql or your SQL client to see the whole error)")


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _scrubbed(text: str, query: SqlQuery) -> str:
    """A driver's message, never holding the password (some drivers echo the URL)."""
    secret = query.url.password
    return text.replace(str(secret), "***") if secret else text

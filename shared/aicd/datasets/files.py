"""Streaming a dataset as Arrow record batches, in bounded memory, with errors a person can act on.

A source is one file or a glob of partitions: CSV, Parquet or JSON Lines, optionally gzip or zstd
compressed (by extension). Batches are read one at a time, so memory depends on the batch size,
not the file size. Every failure of the reader underneath becomes a :class:`DataError` naming the
file and, where Arrow says which, the column.
"""

from __future__ import annotations

import functools
import glob
import io
import itertools
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa

from ..errors import DataError

__all__ = ["BATCH_BYTES", "SPLIT_BYTES", "Part", "Source", "check_format", "content_hash", "open_files", "read_frame"]

SPLIT_BYTES = 64 << 20  # a plain CSV or Parquet file above this is read in parallel parts (one stream uses one core)
SPLIT_WAYS = 2
BATCH_BYTES = 1 << 20  # CSV block: the reader keeps ~50 blocks in flight, so small blocks bound its memory
_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl",
            ".arrow": "arrow", ".feather": "arrow"}  # Arrow IPC files: what SQL sources spool to
_COMPRESSION = {".gz": "gzip", ".zst": "zstd"}


@dataclass(frozen=True)
class Part:
    """A piece of a dataset that can be read on its own: a whole file, a byte range of a plain
    CSV file (``names``/``types`` then come from the file's header and first block), or a run of
    a Parquet file's row groups."""

    path: Path
    start: int = 0
    end: int | None = None
    names: tuple[str, ...] = ()
    types: tuple[pa.DataType, ...] = ()
    delimiter: str = ","
    label: str = ""  # how messages name it when the file is a local copy (an object's URL)
    row_groups: tuple[int, ...] = ()  # Parquet only: these row groups, not the whole file
    rows: int | None = None  # known before reading (a run of row groups: the file's metadata), else None

    def batches(self, column_types: dict[str, pa.DataType] | None = None) -> Iterator[pa.RecordBatch]:
        """``column_types`` pins CSV columns to a type instead of inferring it from the first block
        (a column declared ``str`` may then hold anything)."""
        _memory_pool()
        with _named(self.path, self.label):
            if self.row_groups:
                yield from _guarded(self.path, "parquet", lambda: _parquet(self.path, self.row_groups))
            elif self.end is None:
                yield from _read(self.path, column_types or {}, self.delimiter)
            else:
                yield from _guarded(self.path, "csv", lambda: _csv_range(self, column_types or {}))


@functools.cache
def _memory_pool() -> None:
    """Arrow allocates from jemalloc where the wheel has it, unless ARROW_DEFAULT_MEMORY_POOL says
    otherwise: mimalloc (pyarrow's default) hands pages back to the OS and faults them in again batch
    after batch, 4.0 s of system time against jemalloc's 1.2 s on a 1M x 50 Parquet data gate."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    with suppress(NotImplementedError):  # a build without jemalloc keeps its default
        pa.set_memory_pool(pa.jemalloc_memory_pool())


@contextmanager
def _named(path: Path, label: str):
    """A DataError about a local copy names what it is a copy of."""
    try:
        yield
    except DataError as exc:
        if label and exc.file == str(path):
            exc.file = label
        raise


@dataclass(frozen=True)
class Source:
    """The files of one dataset, in a stable (sorted) order. ``labels`` (one per file, or none) name
    local copies in messages; ``origin`` says where the rows came from (kind, uri, ...) for lineage."""

    spec: str
    files: tuple[Path, ...]
    delimiter: str = ","  # CSV only (data.delimiter)
    labels: tuple[str, ...] = ()
    origin: Mapping[str, str] = field(default_factory=lambda: {"kind": "file"})

    def label(self, index: int) -> str:
        return self.labels[index] if self.labels else ""

    def parts(self, column_types: dict[str, pa.DataType] | None = None, ways: int = SPLIT_WAYS) -> list[Part]:
        """Pieces to scan in parallel: every file; plain CSV files above ``SPLIT_BYTES`` cut at
        line ends into ``ways`` ranges, Parquet files above it into ``ways`` runs of row groups
        (a constant, not the core count, so the seeded drift sample is the same on every machine).
        Like Arrow's own parallel CSV reader, this assumes no line break inside a quoted value."""
        out: list[Part] = []
        for i, path in enumerate(self.files):
            fmt = _format(path)
            big = ways > 1 and path.stat().st_size > SPLIT_BYTES
            if big and fmt == ("csv", None):
                with _named(path, self.label(i)):
                    out += [replace(p, label=self.label(i))
                            for p in _csv_parts(path, ways, column_types or {}, self.delimiter)]
            elif big and fmt[0] == "parquet":
                with _named(path, self.label(i)):
                    out += [Part(path, label=self.label(i), row_groups=run, rows=rows)
                            for run, rows in _row_group_runs(path, ways)]
            else:
                out.append(Part(path, delimiter=self.delimiter, label=self.label(i)))
        return out

    def batches(self, column_types: dict[str, pa.DataType] | None = None) -> Iterator[pa.RecordBatch]:
        """Every record batch of every file, in order (one stream; ``parts`` for parallel reading)."""
        for i, path in enumerate(self.files):
            yield from Part(path, delimiter=self.delimiter, label=self.label(i)).batches(column_types)


def open_files(spec: str, delimiter: str = ",") -> Source:
    """Resolve a path or glob; raise DataError when nothing matches or a format is unknown."""
    matches = sorted(glob.glob(spec)) if glob.has_magic(spec) else [spec]
    files = tuple(Path(m) for m in matches if Path(m).is_file())
    if not files and not glob.has_magic(spec) and Path(spec).is_dir():
        raise DataError("is a directory, not a data file", file=spec,
                        hint=f"name a file, or a glob of its partitions such as {spec.rstrip('/')}/*.parquet")
    if not files:
        what = "no file matches the glob" if glob.has_magic(spec) else "data file not found"
        raise DataError(what, file=spec, hint="check the path: the `data` or `reference` input, or `data.source` "
                        "(a tenant's: tenants.<tenant>.data.source) in aicd.yml, relative to the working directory")
    for path in files:
        _format(path)
    return Source(spec, files, delimiter, origin={"kind": "file", "uri": spec})


def check_format(path: Path, label: str) -> None:
    """Raise DataError naming ``label`` unless ``path``'s extension is a format the reader knows."""
    with _named(path, label):
        _format(path)


def _format(path: Path) -> tuple[str, str | None]:
    suffixes = [s.lower() for s in path.suffixes]
    compression = _COMPRESSION.get(suffixes[-1]) if suffixes else None
    if compression:
        suffixes = suffixes[:-1]
    fmt = _FORMATS.get(suffixes[-1] if suffixes else "")
    if fmt is None:
        raise DataError(f"unsupported file type {''.join(path.suffixes) or '(none)'}", file=str(path),
                        hint="use .csv, .parquet, .jsonl or .arrow, optionally compressed as .gz or .zst")
    return fmt, compression


def _read(path: Path, column_types: dict[str, pa.DataType], delimiter: str = ",") -> Iterator[pa.RecordBatch]:
    fmt, compression = _format(path)
    readers = {"parquet": lambda: _parquet(path), "arrow": lambda: _arrow(path),
               "csv": lambda: _csv(path, compression, column_types, delimiter),
               "jsonl": lambda: _jsonl(path, compression)}
    yield from _guarded(path, fmt, readers[fmt])


def _guarded(path: Path, fmt: str, reader) -> Iterator[pa.RecordBatch]:
    """Run a reader, turning whatever Arrow or the OS raises into a DataError naming the file."""
    with _read_errors(path, fmt):
        yield from reader()


@contextmanager
def _read_errors(path: Path, fmt: str):
    try:
        yield
    except DataError:
        raise
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OSError, UnicodeDecodeError,
            ValueError) as exc:
        raise DataError(_explain(str(exc), fmt), file=str(path), hint=_hint(str(exc))) from None


def _csv(path: Path, compression: str | None, column_types: dict[str, pa.DataType],
         delimiter: str = ",") -> Iterator[pa.RecordBatch]:
    from pyarrow import csv

    stream = pa.input_stream(str(path), compression=compression)
    reader = csv.open_csv(stream, read_options=csv.ReadOptions(block_size=BATCH_BYTES),
                          parse_options=csv.ParseOptions(delimiter=delimiter),
                          convert_options=csv.ConvertOptions(column_types=column_types, strings_can_be_null=True))
    names = reader.schema.names
    _check_delimiter(names, path, delimiter)
    _check_names(names, path)
    yielded = False
    for batch in reader:
        yielded = True
        yield batch
    if not yielded:
        raise DataError("the CSV has a header but no rows", file=str(path))


def _csv_parts(path: Path, ways: int, column_types: dict[str, pa.DataType], delimiter: str = ",") -> list[Part]:
    from pyarrow import csv

    def first_block():
        reader = csv.open_csv(str(path), read_options=csv.ReadOptions(block_size=BATCH_BYTES),
                              parse_options=csv.ParseOptions(delimiter=delimiter),
                              convert_options=csv.ConvertOptions(column_types=column_types,
                                                                 strings_can_be_null=True))
        yield reader.schema

    schema = next(_guarded(path, "csv", first_block))
    _check_delimiter(schema.names, path, delimiter)
    _check_names(schema.names, path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        cuts = [len(fh.readline())]
        for i in range(1, ways):
            fh.seek(max(size * i // ways, cuts[-1]))
            fh.readline()
            cuts.append(min(fh.tell(), size))
    cuts.append(size)
    bounds = sorted(set(cuts))
    return [Part(path, start, end, tuple(schema.names), tuple(schema.types), delimiter)
            for start, end in itertools.pairwise(bounds) if end > start]


def _csv_range(part: Part, column_types: dict[str, pa.DataType]) -> Iterator[pa.RecordBatch]:
    from pyarrow import csv

    types = {**dict(zip(part.names, part.types, strict=True)), **column_types}
    with _RangeReader(part.path, part.start, part.end) as body:
        yield from csv.open_csv(body, read_options=csv.ReadOptions(
            block_size=BATCH_BYTES, column_names=list(part.names)),
            parse_options=csv.ParseOptions(delimiter=part.delimiter), convert_options=csv.ConvertOptions(
                column_types=types, strings_can_be_null=True))


class _RangeReader(io.RawIOBase):
    """A read-only file object over bytes [start, end) of a file (not memory-mapped: mapped pages
    would count as the process's memory)."""

    def __init__(self, path: Path, start: int, end: int):
        self._fh, self._left = open(path, "rb"), end - start  # noqa: SIM115 - closed by close()
        self._fh.seek(start)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer)[: self._left]
        count = self._fh.readinto(view)
        self._left -= count
        return count

    def close(self) -> None:
        self._fh.close()
        super().close()


def _whole(path: Path, label: str, delimiter: str) -> pa.Table:
    """One file as a table. Parquet is decoded by Arrow's threads, column by column (the batch stream
    of :meth:`Part.batches` is one thread: 1 s more than pandas' own reader on a million rows);
    the other formats are their batches."""
    if _format(path)[0] == "parquet":
        with _named(path, label), _read_errors(path, "parquet"):
            return _parquet_table(path)
    return pa.Table.from_batches(list(Part(path, delimiter=delimiter, label=label).batches()))


def _parquet_table(path: Path) -> pa.Table:
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as handle:
        _check_names(handle.schema_arrow.names, path)
        if handle.metadata.num_rows == 0:
            raise DataError("the Parquet file has no rows", file=str(path))
        return handle.read(use_threads=True)


def _parquet(path: Path, row_groups: tuple[int, ...] = ()) -> Iterator[pa.RecordBatch]:
    """The file's batches, or those of ``row_groups`` only (a part of it)."""
    import pyarrow.parquet as pq

    with _PARQUET_STREAMS, pq.ParquetFile(path) as handle:
        _check_names(handle.schema_arrow.names, path)
        if handle.metadata.num_rows == 0:
            raise DataError("the Parquet file has no rows", file=str(path))
        yield from handle.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=list(row_groups) or None)


# A Parquet stream holds its row group's column chunks decompressed (~2x the row group: ~190 MB for 250,000
# rows x 50 columns, whatever the batch size), so at most two are read at once: parts of one file keep both
# cores busy when nothing else is scanned (checks only), and a data gate scanning two Parquet files of two
# parts each holds two streams, not four (1.76 GB peak on 1M x 50 with four, above the CSV path's 1.2 GB)
_PARQUET_STREAMS = threading.BoundedSemaphore(2)


def _row_group_runs(path: Path, ways: int) -> list[tuple[tuple[int, ...], int]]:
    """The file's row groups cut into at most ``ways`` contiguous runs of about equal rows, each with
    its rows (a file of one row group is one run: Parquet cannot be read from the middle of a row group)."""
    import pyarrow.parquet as pq

    def sizes():
        with pq.ParquetFile(path) as handle:
            yield [handle.metadata.row_group(g).num_rows for g in range(handle.metadata.num_row_groups)]

    rows = next(_guarded(path, "parquet", sizes))
    total, runs, done = sum(rows), [[] for _ in range(ways)], 0
    for group, count in enumerate(rows):
        runs[min(ways - 1, done * ways // max(total, 1))].append(group)
        done += count
    return [(tuple(run), sum(rows[g] for g in run)) for run in runs if run] or [((), total)]


PARQUET_BATCH_ROWS = 65_536  # decoded a batch at a time, so a wide file's row group is never held whole:
# on 1M x 50 with a Parquet reference the peak went from 2.2 GB (500,000-row batches) to 1.25 GB, the CSV path's


def _arrow(path: Path) -> Iterator[pa.RecordBatch]:
    """An Arrow IPC file (Feather v2), batch by batch from the file (not memory-mapped)."""
    with pa.OSFile(str(path)) as fh:
        reader = pa.ipc.open_file(fh)
        _check_names(reader.schema.names, path)
        if reader.num_record_batches == 0:
            raise DataError("the Arrow file has no rows", file=str(path))
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)


def _jsonl(path: Path, compression: str | None) -> Iterator[pa.RecordBatch]:
    """Streamed block by block (memory does not grow with the file); the schema is inferred from the
    first block, so a later row that changes a column's type fails the read with Arrow's row number.
    A line longer than the block is read again with a block 8 times larger (rows already given are
    skipped), up to ``MAX_LINE_BYTES``, so memory stays bounded however the file looks."""
    block, given = BATCH_BYTES, 0
    while True:
        try:
            for batch in _jsonl_blocks(path, compression, block, skip=given):
                given += batch.num_rows
                yield batch
            return
        except pa.ArrowInvalid as exc:
            if "straddl" not in str(exc):
                raise
            if block >= MAX_LINE_BYTES:
                raise DataError(f"a JSON line is longer than {MAX_LINE_BYTES >> 20} MiB", file=str(path),
                                hint="split the record into smaller ones") from None
            block = min(block * 8, MAX_LINE_BYTES)


MAX_LINE_BYTES = 128 << 20  # the longest JSON line read; a block this large is the memory it costs


def _jsonl_blocks(path: Path, compression: str | None, block: int, skip: int) -> Iterator[pa.RecordBatch]:
    from pyarrow import json

    try:
        reader = json.open_json(pa.input_stream(str(path), compression=compression),
                                read_options=json.ReadOptions(block_size=block))
    except pa.ArrowInvalid as exc:
        if "Empty JSON" in str(exc):
            raise DataError("the JSON Lines file has no rows", file=str(path)) from None
        raise
    _check_names(reader.schema.names, path)
    rows = 0
    for batch in reader:
        rows += batch.num_rows
        if rows > skip:
            yield batch.slice(max(0, skip - (rows - batch.num_rows)))
    if rows == 0:
        raise DataError("the JSON Lines file has no rows", file=str(path))


def _check_delimiter(names: list[str], path: Path, delimiter: str) -> None:
    """One column whose name holds another common delimiter: the file is not ``delimiter``-separated."""
    if len(names) != 1:
        return
    for other in (";", "\t", "|", ","):
        if other != delimiter and other in names[0]:
            shown = "\\t" if other == "\t" else other
            raise DataError(f"the CSV has a single column named {names[0][:60]!r}: it looks '{shown}'-delimited, "
                            f"not {delimiter!r}", file=str(path), hint=f"set `data.delimiter: \"{shown}\"` in aicd.yml")


def _check_names(names: list[str], path: Path) -> None:
    dupes = sorted({name for name in names if names.count(name) > 1})
    if dupes:
        raise DataError(f"duplicate column names: {', '.join(dupes)}", file=str(path),
                        hint="rename the columns so each name is unique")
    if any(not n.strip() for n in names):
        raise DataError("a column has an empty name", file=str(path), hint="give every column a header")


def _explain(message: str, fmt: str) -> str:
    first = message.strip().splitlines()[0] if message.strip() else "unreadable"
    if "Empty CSV file" in first or "Empty file" in first:
        return "the file is empty"
    column = re.search(r"In CSV column #(\d+): CSV conversion error to (\w+): invalid value '([^']*)'", first)
    if column:
        return (f"CSV column #{int(column.group(1)) + 1} mixes types: value {column.group(3)!r} is not "
                f"{column.group(2)} like the rows before it")
    if "Expected" in first and "columns, got" in first:
        return f"ragged rows: {first}"
    if "invalid UTF8" in first or "UTF8" in first or "utf-8" in first:
        return "the file is not valid UTF-8 text"
    return f"cannot read {fmt.upper()}: {first}"


def _hint(message: str) -> str:
    if "mixes types" in _explain(message, "csv"):
        return "fix the value, or declare the column as str in aicd.yml"
    return "fix the file, or check it is the format (and compression) its extension says"


def content_hash(source: Source, length: int = 16) -> str:
    """SHA-256 of the files' bytes (and names, for a glob), shortened: the ``data-version``."""
    import hashlib

    digest = hashlib.sha256()
    for path in source.files:
        if len(source.files) > 1:
            digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:length]


def read_frame(source: Source | str):
    """The whole dataset (a Source, or a local path or glob) as a pandas DataFrame (for training, which
    needs it in memory anyway)."""
    source = open_files(source) if isinstance(source, str) else source
    try:
        table = pa.concat_tables([_whole(path, source.label(i), source.delimiter)
                                  for i, path in enumerate(source.files)])
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:  # e.g. partitions that disagree on a column's type
        raise DataError(f"cannot read the data: {str(exc).splitlines()[0]}", file=source.spec,
                        hint="every file must have the same columns and types") from None
    return table.to_pandas()

"""Streaming a dataset as Arrow record batches, in bounded memory, with errors a person can act on.

A source is one file or a glob of partitions: CSV, Parquet or JSON Lines, optionally gzip or zstd
compressed (by extension). Batches are read one at a time, so memory depends on the batch size,
not the file size. Every failure of the reader underneath becomes a :class:`DataError` naming the
file and, where Arrow says which, the column.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from ..errors import DataError

__all__ = ["BATCH_BYTES", "Source", "content_hash", "open_source", "read_frame"]

BATCH_BYTES = 4 << 20  # CSV block: parses in parallel, bounds read-ahead (64 MB blocks: 2x slower, 6x memory)
_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_COMPRESSION = {".gz": "gzip", ".zst": "zstd"}


@dataclass(frozen=True)
class Source:
    """The files of one dataset, in a stable (sorted) order."""

    spec: str
    files: tuple[Path, ...]

    def batches(self, column_types: dict[str, pa.DataType] | None = None) -> Iterator[pa.RecordBatch]:
        """Every record batch of every file; all files must have the first file's columns.

        ``column_types`` pins CSV columns to a type instead of inferring it from the first block
        (a column declared ``str`` may then hold anything)."""
        schema = None
        for path in self.files:
            for batch in _read(path, column_types or {}):
                if schema is None:
                    schema = batch.schema
                elif batch.schema.names != schema.names:
                    raise DataError(f"columns differ from {self.files[0].name}: {batch.schema.names} vs "
                                    f"{schema.names}", file=str(path), hint="all partitions need the same columns")
                yield batch


def open_source(spec: str) -> Source:
    """Resolve a path or glob; raise DataError when nothing matches or a format is unknown."""
    matches = sorted(glob.glob(spec)) if glob.has_magic(spec) else [spec]
    files = tuple(Path(m) for m in matches if Path(m).is_file())
    if not files:
        what = "no file matches the glob" if glob.has_magic(spec) else "data file not found"
        raise DataError(what, file=spec, hint="check the path given to the `data` (or `reference`) input")
    for path in files:
        _format(path)
    return Source(spec, files)


def _format(path: Path) -> tuple[str, str | None]:
    suffixes = [s.lower() for s in path.suffixes]
    compression = _COMPRESSION.get(suffixes[-1]) if suffixes else None
    if compression:
        suffixes = suffixes[:-1]
    fmt = _FORMATS.get(suffixes[-1] if suffixes else "")
    if fmt is None:
        raise DataError(f"unsupported file type {''.join(path.suffixes) or '(none)'}", file=str(path),
                        hint="use .csv, .parquet or .jsonl, optionally compressed as .gz or .zst")
    return fmt, compression


def _read(path: Path, column_types: dict[str, pa.DataType]) -> Iterator[pa.RecordBatch]:
    fmt, compression = _format(path)
    try:
        if fmt == "parquet":
            yield from _parquet(path)
        elif fmt == "csv":
            yield from _csv(path, compression, column_types)
        else:
            yield from _jsonl(path, compression)
    except DataError:
        raise
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OSError, UnicodeDecodeError,
            ValueError) as exc:
        raise DataError(_explain(str(exc), fmt), file=str(path), hint=_hint(str(exc))) from None


def _csv(path: Path, compression: str | None, column_types: dict[str, pa.DataType]) -> Iterator[pa.RecordBatch]:
    from pyarrow import csv

    stream = pa.input_stream(str(path), compression=compression)
    reader = csv.open_csv(stream, read_options=csv.ReadOptions(block_size=BATCH_BYTES),
                          convert_options=csv.ConvertOptions(column_types=column_types, strings_can_be_null=True))
    names = reader.schema.names
    _check_names(names, path)
    yielded = False
    for batch in reader:
        yielded = True
        yield batch
    if not yielded:
        raise DataError("the CSV has a header but no rows", file=str(path))


def _parquet(path: Path) -> Iterator[pa.RecordBatch]:
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as handle:
        _check_names(handle.schema_arrow.names, path)
        if handle.metadata.num_rows == 0:
            raise DataError("the Parquet file has no rows", file=str(path))
        yield from handle.iter_batches(batch_size=500_000)


def _jsonl(path: Path, compression: str | None) -> Iterator[pa.RecordBatch]:
    from pyarrow import json

    table = json.read_json(pa.input_stream(str(path), compression=compression),
                           read_options=json.ReadOptions(block_size=BATCH_BYTES))
    if table.num_rows == 0:
        raise DataError("the JSON Lines file has no rows", file=str(path))
    _check_names(table.schema.names, path)
    yield from table.to_batches(max_chunksize=500_000)


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


def read_frame(spec: str):
    """The whole dataset as a pandas DataFrame (for training, which needs it in memory anyway)."""
    source = open_source(spec)
    table = pa.Table.from_batches(list(source.batches()))
    return table.to_pandas()

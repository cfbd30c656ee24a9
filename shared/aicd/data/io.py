"""Reading data files into frames, with errors that name the file and say what to do.

CSV, Parquet and JSON Lines, chosen by extension (``.gz`` and ``.zst`` are decompressed). The
content hash that becomes ``data-version`` is taken from the bytes on disk, so the same file gives
the same version on every machine, whatever pandas later makes of it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from ..errors import DataError

__all__ = ["content_hash", "read_table"]

_READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def _format_of(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".zst"):
        suffixes = suffixes[:-1]
    fmt = _READERS.get(suffixes[-1] if suffixes else "")
    if fmt is None:
        raise DataError(f"unsupported file type {''.join(path.suffixes) or '(none)'}", file=str(path),
                        hint="use .csv, .parquet or .jsonl (optionally .gz / .zst)")
    return fmt


def read_table(path: str | Path) -> pd.DataFrame:
    """Read one data file; raise DataError (never a pandas error) when it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise DataError("data file not found", file=str(path), hint="check the path given to the `data` input")
    fmt = _format_of(path)
    try:
        if fmt == "csv":
            frame = pd.read_csv(path, on_bad_lines="error")
        elif fmt == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_json(path, lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, UnicodeDecodeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot parse {fmt.upper()}: {first}", file=str(path),
                        hint="fix the file, or check it is the format its extension says") from None
    except ImportError as exc:  # parquet without pyarrow
        raise DataError(f"cannot read {fmt}: {exc}", file=str(path)) from None
    if frame.empty:
        raise DataError("data file has no rows", file=str(path))
    return frame


def content_hash(path: str | Path, length: int = 16) -> str:
    """SHA-256 of the file's bytes, shortened to ``length`` hex digits (the ``data-version``)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]

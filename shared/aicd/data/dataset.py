"""What the data gate scans: a dataset as parts that each stream Arrow record batches (pure).

The readers live in :mod:`aicd.datasets` (adapters); this is their contract, so the scan never
knows where the rows came from.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import pyarrow as pa

__all__ = ["Dataset", "Part"]

ColumnTypes = dict[str, pa.DataType] | None


class Part(Protocol):
    """A piece of a dataset that can be read on its own (a file, a byte range, a query's page)."""

    def batches(self, column_types: ColumnTypes = None) -> Iterator[pa.RecordBatch]:
        """Its rows in order; ``column_types`` pins columns to a type instead of inferring it (a
        reader that cannot pin types ignores it). Raises DataError naming the source."""
        ...


class Dataset(Protocol):
    """The parts of one dataset, in a stable order; ``spec`` names it in every message."""

    spec: str

    def parts(self, column_types: ColumnTypes = None) -> Sequence[Part]:
        """Pieces to scan in parallel; the same pieces on every machine (the drift sample is seeded)."""
        ...

"""Arrow values to and from numpy without pyarrow's pandas probe.

pyarrow imports pandas (0.6-0.8 s on a CI machine) the first time it converts a Python or numpy
object into Arrow, or an array into numpy. The data gate needs neither pandas nor those generic
conversions, so these helpers build arrays from raw buffers and read float buffers directly: a scan
then never imports pandas, which is a third of a checks-only run on 1M rows and most of a cold start.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["fill_floats", "float_chunks", "float_scalar", "indices", "string_array"]


def float_scalar(value: float) -> pa.Scalar:
    return pa.Array.from_buffers(pa.float64(), 1, [None, pa.py_buffer(np.array([value], dtype=np.float64))])[0]


def indices(positions: np.ndarray) -> pa.Array:
    values = np.ascontiguousarray(positions, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


def string_array(values: list[str]) -> pa.Array:
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.concatenate([[0], np.cumsum([len(v) for v in encoded])]).astype(np.int32)
    return pa.Array.from_buffers(pa.string(), len(encoded), [None, pa.py_buffer(offsets),
                                                              pa.py_buffer(b"".join(encoded))])


def fill_floats(array: pa.Array | pa.ChunkedArray, out: np.ndarray) -> None:
    """Write the values into ``out`` (float64, as long as the array) with missing ones as NaN, chunk by
    chunk: no concatenated copy, and no filled copy of a float column without nulls."""
    start = 0
    for _, values in _nan_chunks(array):
        out[start:start + len(values)] = values
        start += len(values)


def float_chunks(array: pa.Array | pa.ChunkedArray) -> list[np.ndarray]:
    """A float64 array's chunks as numpy views with missing values as NaN (a view of Arrow's buffer,
    no copy, for a chunk without nulls); chunks holding only nulls are left out."""
    return [values for nulls, values in _nan_chunks(array) if nulls < len(values)]


def _nan_chunks(array: pa.Array | pa.ChunkedArray):
    """(nulls, values) of each chunk: float64 values with missing ones as NaN, a view of Arrow's buffer
    where the chunk is float64 without nulls."""
    for chunk in array.chunks if isinstance(array, pa.ChunkedArray) else [array]:
        nulls = chunk.null_count
        if nulls or not pa.types.is_float64(chunk.type):
            chunk = pc.fill_null(pc.cast(chunk, pa.float64()), float_scalar(np.nan))
        yield nulls, np.frombuffer(chunk.buffers()[1], dtype=np.float64, count=len(chunk), offset=chunk.offset * 8)

"""Reading datasets: the adapters that turn where a team keeps its data into Arrow record batches.

Each reader implements :class:`aicd.data.dataset.Dataset` (the interface the pure data gate scans);
today one: files — a path or glob of CSV, Parquet or JSON Lines (:mod:`.files`). A path tracked by
DVC is first pulled at the checkout's version by :mod:`.dvc` (imported on its own, not re-exported).
"""

from __future__ import annotations

from .files import content_hash, open_source, read_frame

__all__ = ["content_hash", "open_source", "read_frame"]

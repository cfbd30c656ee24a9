"""Reading a Parquet object from S3 as aicd's data gate does, against pyarrow reading it directly.

    python benchmarks/object_source.py [--rows 1000000] [--repeat 3]

Starts versitygw (an S3 gateway over a local folder; scripts/install-object-stores builds it, as for
the tests), writes one Parquet object of ``--rows`` rows × 10 columns, then:

- pyarrow: ``pyarrow.parquet.read_table("bucket/key", filesystem=S3FileSystem(...))`` — the whole
  object read straight into one Arrow table;
- aicd: ``aicd.datasets.open_source("s3://bucket/key")`` — the object streamed into the spool block
  by block (bounded memory), then every batch read back as the scan reads it.

Prints the best of ``--repeat`` wall times and the ratio (target: aicd ≤ 2× pyarrow's own read).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "shared"))


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tests.integration.object_store_infra import S3Server, object_store_bin

    from aicd.datasets import open_source

    rng = np.random.default_rng(0)
    n = args.rows
    table = pa.table({f"num{i}": rng.normal(size=n) for i in range(6)}
                     | {f"cat{i}": pa.array(rng.choice(["a", "b", "c", "d"], n)) for i in range(3)}
                     | {"id": np.arange(n)})
    server = S3Server()
    server.start(object_store_bin())
    try:
        server.create_bucket("bench")
        fs = server.filesystem()
        pq.write_table(table, "bench/rows.parquet", filesystem=fs)

        def direct():
            assert pq.read_table("bench/rows.parquet", filesystem=fs).num_rows == n

        def aicd():
            source = open_source("s3://bench/rows.parquet", env=server.env)
            assert sum(b.num_rows for part in source.parts() for b in part.batches()) == n
            Path(source.files[0]).unlink()

        direct()
        d, a = best(direct, args.repeat), best(aicd, args.repeat)
        size = fs.get_file_info("bench/rows.parquet").size / 1e6
        print(f"rows {n:,} × 10 columns, one Parquet object of {size:.0f} MB, best of {args.repeat}")
        print(f"pyarrow (read_table from S3)           {d:7.2f} s")
        print(f"aicd    (open_source + read the spool) {a:7.2f} s")
        print(f"ratio   {a / d:.2f}× pyarrow's own read (target ≤ 2×)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()

"""Reading a SQL query as aicd's data gate does, against the driver's own bulk read of the same rows.

    python benchmarks/sql_source.py [--rows 1000000] [--repeat 3]

Starts a private PostgreSQL cluster (Debian's server, as the tests do: tests/integration/pg_infra),
loads ``--rows`` rows of ten columns (ints, floats, numeric, text, a timestamp, a boolean), then:

- driver: ADBC's PostgreSQL driver, ``cursor.fetch_arrow_table()`` — the whole result in memory as
  one Arrow table, the fastest bulk read the driver offers;
- aicd: ``aicd.datasets.open_source("sql: ...")`` — the same query streamed batch by batch into the
  spool's Arrow file (bounded memory) — then every batch read back as the scan reads it.

Prints the best of ``--repeat`` wall times for each, and the ratio (target: aicd ≤ 2× the driver).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "shared"))

QUERY = "SELECT * FROM bench ORDER BY id"


def load(server, rows: int) -> None:
    server.psql(f"""
        DROP TABLE IF EXISTS bench;
        CREATE TABLE bench AS SELECT g AS id, (g % 1000)::int AS bucket, random() * 100 AS score,
               (random() * 1e4)::numeric(12, 2) AS amount, md5(g::text) AS token,
               (ARRAY['basic', 'pro', 'team'])[1 + g % 3] AS plan, now() - (g || ' seconds')::interval AS seen,
               g % 2 = 0 AS active, random() AS r1, (g % 97)::bigint AS small
        FROM generate_series(1, {rows}) g;
        ALTER TABLE bench OWNER TO aicd; ANALYZE bench;""")


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from tests.integration.pg_infra import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        load(server, args.rows)
        import adbc_driver_postgresql.dbapi as pg

        from aicd.datasets import open_source

        def driver():
            with pg.connect(server.url) as conn, conn.cursor() as cur:
                cur.execute(QUERY)
                return cur.fetch_arrow_table().num_rows

        def aicd():
            source = open_source(f"sql: {QUERY}", env={"AICD_DATABASE_URL": server.url})
            count = sum(b.num_rows for part in source.parts() for b in part.batches())
            Path(source.files[0]).unlink()
            return count

        driver()  # warm the server's cache and the driver's import
        d, n1 = best(driver, args.repeat)
        a, n2 = best(aicd, args.repeat)
        assert n1 == n2 == args.rows, (n1, n2)
        print(f"rows {args.rows:,} × 10 columns, best of {args.repeat}")
        print(f"driver (ADBC fetch_arrow_table)       {d:7.2f} s")
        print(f"aicd   (open_source + read the spool) {a:7.2f} s")
        print(f"ratio  {a / d:.2f}× the driver's bulk read (target ≤ 2×)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()

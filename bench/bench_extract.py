"""PostgreSQL extraction (table -> landing Parquet) against raw binary COPY of the same rows.

The ceiling is PostgreSQL's own `COPY (SELECT ...) TO STDOUT (FORMAT binary)` with the bytes thrown
away: no client can read faster. Lakeward reads the same rows keyset-chunked, converts them to Arrow,
writes zstd Parquet and checksums it. The goal is a ratio of at least 0.6.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from lakeward.definition import Limits, ObjectSpec, PostgresSource
from lakeward.demo import embedded_postgres
from lakeward.lake import landing
from lakeward.sources import extract_postgres
from lakeward.sources.target import Target

TABLE_DDL = """
DROP TABLE IF EXISTS bench_orders;
DROP TYPE IF EXISTS bench_status;
CREATE TYPE bench_status AS ENUM ('pending', 'paid', 'shipped', 'cancelled');
CREATE TABLE bench_orders (
    id bigint PRIMARY KEY, public_id uuid NOT NULL, user_id bigint NOT NULL, status bench_status NOT NULL,
    currency char(3) NOT NULL, amount numeric(12,2) NOT NULL, note text, tags text[],
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
INSERT INTO bench_orders
SELECT g, md5(g::text)::uuid, g % 50000, (ARRAY['pending','paid','shipped','cancelled'])[g % 4 + 1]::bench_status,
       (ARRAY['USD','EUR','GBP'])[g % 3 + 1], round((g % 100000) / 7.0, 2), 'order note ' || g,
       ARRAY['t' || g % 7, 'u' || g % 11],
       timestamptz '2026-01-01' + g * interval '1 second', timestamptz '2026-01-01' + g * interval '2 second'
FROM generate_series(1, %(rows)s) g;
CREATE INDEX bench_orders_cursor ON bench_orders (updated_at, id);
"""


def raw_copy(dsn: str, select: str) -> tuple[float, int]:
    started = time.perf_counter()
    size = 0
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY ({select}) TO STDOUT (FORMAT binary)") as copy:
            for data in copy:
                size += len(data)
    return time.perf_counter() - started, size


def lakeward_extract(target: Target, window: landing.Window, chunk_rows: int, streams: int
                     ) -> tuple[float, int]:
    root = Path(tempfile.mkdtemp(prefix="lakeward-bench-landing-"))
    try:
        started = time.perf_counter()
        writer = landing.BatchWriter(root, "bench", "orders", window).begin()
        limits = Limits(chunk_rows=chunk_rows, concurrency=streams)
        schema, stats = extract_postgres.extract(target, window, writer, limits)
        manifest = writer.commit(schema, stats)
        return time.perf_counter() - started, manifest.row_count
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument("--streams", type=int, default=2, help="concurrent reads (the off-hours limit)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="lakeward-bench-pg-"))
    workdir.chmod(0o755)
    dsn = os.environ.get("LAKEWARD_BENCH_PG_DSN") or embedded_postgres.database_dsn(
        embedded_postgres.server_dsn(workdir / "data"), "bench", fresh=True)
    print(f"Preparing bench_orders with {args.rows:,} rows ...", flush=True)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(TABLE_DDL.replace("%(rows)s", str(int(args.rows))))
        conn.execute("VACUUM ANALYZE bench_orders")
    os.environ["LAKEWARD_BENCH_DSN"] = dsn
    source = PostgresSource(kind="postgres", connection="env:LAKEWARD_BENCH_DSN", cadence=timedelta(hours=1),
                            objects={"orders": ObjectSpec(table="public.bench_orders", primary_key=["id"],
                                                      cursor="updated_at")})
    target = Target("bench", source, "orders", source.objects["orders"], "bench")
    columns = extract_postgres.describe(target, extract_postgres.conninfo(target))
    select = f"SELECT {', '.join(columns)} FROM public.bench_orders"  # every column, as stored
    window = landing.Window(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))

    raw_times, ours = [], []
    for _ in range(args.repeat):  # interleaved, so drift on the machine hits both alike
        seconds, size = raw_copy(dsn, select)
        raw_times.append(seconds)
        seconds, rows = lakeward_extract(target, window, args.chunk_rows, args.streams)
        assert rows == args.rows, f"extracted {rows} of {args.rows} rows"
        ours.append(seconds)
    raw, lw = statistics.median(raw_times), statistics.median(ours)
    print(f"raw COPY (FORMAT binary), bytes discarded: {args.rows / raw:>12,.0f} rows/s  "
          f"({size / raw / 1e6:,.0f} MB/s)")
    print(f"lakeward extract -> landing Parquet:       {args.rows / lw:>12,.0f} rows/s  "
          f"({args.streams} streams, chunks of {args.chunk_rows:,}, zstd, sha256)")
    print(f"ratio (goal >= 0.6): {raw / lw:.2f}")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

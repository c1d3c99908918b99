"""Incremental extraction of any configured PostgreSQL table into a landing batch.

Rows are read in keyset order on (cursor, primary key) in chunks, so rows that share one cursor value
are never split or skipped at a chunk boundary. Reads go through the ADBC driver (binary COPY straight
into Arrow) on read-only sessions with a statement timeout. A window is split into as many streams as
the source's concurrency limit allows, cut at the cursor's own histogram so the streams are even; every
chunk query holds one of the source's permits, so the business-hours limits bound the load on the
read replica whatever else runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import adbc_driver_postgresql.dbapi as adbc
import psycopg
import pyarrow as pa
from psycopg import sql
from psycopg.conninfo import make_conninfo

from lakeward.definition import DefinitionError, Limits, PostgresSource
from lakeward.lake.landing import BatchWriter, Window
from lakeward.sources.connections import resolve
from lakeward.sources.postgres_types import INTROSPECT, Column, to_arrow
from lakeward.sources.target import Target

# The cursor's equi-depth histogram from ANALYZE: free to read, and good enough to balance streams.
HISTOGRAM = """
SELECT histogram_bounds::text FROM pg_stats WHERE schemaname = %s AND tablename = %s AND attname = %s
"""


class ExtractError(RuntimeError):
    """The source could not be read; names the table and the reason."""


def table_name(target: Target) -> str:
    """The schema-qualified table an object reads: its `table`, else `public.<object>`."""
    return target.spec.table or f"public.{target.object_name}"


def conninfo(target: Target) -> str:
    source = target.source
    assert isinstance(source, PostgresSource)
    dsn = resolve(target.source.connection, f"sources.{target.source_name}.connection")
    timeout_ms = int(source.statement_timeout.total_seconds() * 1000)
    return make_conninfo(
        dsn, application_name="lakeward",
        options=f"-c statement_timeout={timeout_ms} -c default_transaction_read_only=on",
    )


def describe(target: Target, info: str) -> dict[str, Column]:
    """The table's columns; checks that the declared key, cursor and partition columns exist."""
    try:
        with psycopg.connect(info) as conn:
            rows = conn.execute(INTROSPECT, (table_name(target),)).fetchall()
    except psycopg.errors.UndefinedTable:
        raise DefinitionError(
            target.definition_file, target.key("table"), f"table {table_name(target)} does not exist") from None
    except psycopg.Error as err:
        raise ExtractError(f"{table_name(target)}: cannot read the catalog: {_first_line(err)}") from None
    columns = {name: Column(name, typ, typmod, element) for name, typ, typmod, element in rows}
    declared = [("primary_key", c) for c in target.spec.primary_key] + [("cursor", target.spec.cursor)]
    if target.spec.partition:
        declared.append(("partition.column", target.spec.partition.column))
    for key, column in declared:
        if column not in columns:
            raise DefinitionError(
                target.definition_file, target.key(key),
                f"column '{column}' is not in table {table_name(target)} (columns: {', '.join(columns)})",
            )
    return columns


def extract(
    target: Target, window: Window, writer: BatchWriter, limits: Limits,
    permits: threading.Semaphore | None = None, on_rows: Callable[[int], None] = lambda n: None,
) -> tuple[pa.Schema, dict]:
    """Read every row whose cursor lies in the window into `writer`; returns its schema and statistics."""
    info = conninfo(target)
    columns = describe(target, info)
    permits = permits or threading.Semaphore(limits.concurrency)
    reader = _Reader(target, columns, info, limits.chunk_rows, permits)
    started = time.perf_counter()
    parts = reader.split(window, limits.concurrency)
    schemas: list[pa.Schema] = []

    def read(numbered: tuple[int, Window]) -> int:
        stream, part = numbered
        chunks = 0
        for batch in reader.chunks(part):
            if batch is None:
                chunks += 1
                continue
            schemas.append(batch.schema)
            writer.write(batch, stream)
            on_rows(batch.num_rows)
        return chunks

    try:
        with ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix="extract") as pool:
            chunks = sum(pool.map(read, enumerate(parts)))
    except (adbc.Error, psycopg.Error) as err:
        raise ExtractError(f"{table_name(target)}: extraction failed: {_first_line(err)}") from None
    stats = {"chunks": chunks, "chunk_rows": limits.chunk_rows, "streams": len(parts),
             "seconds": round(time.perf_counter() - started, 3), "source_columns": list(columns)}
    return (schemas[0] if schemas else reader.empty_schema()), stats


class _Reader:
    """Keyset-chunked reads of one table, each chunk under one of the source's permits."""

    def __init__(self, target: Target, columns: dict[str, Column], info: str, chunk_rows: int,
                 permits: threading.Semaphore):
        self.target, self.columns, self.info = target, columns, info
        self.chunk_rows, self.permits = chunk_rows, permits
        self.order = [target.spec.cursor, *target.spec.primary_key]
        self.order_by = sql.SQL(", ").join(sql.Identifier(c) for c in self.order)
        schema_name, relation = table_name(target).split(".")
        self.select = sql.SQL("SELECT {columns} FROM {table}").format(
            columns=sql.SQL(", ").join(
                sql.SQL(col.select_expression(sql.Identifier(name).as_string())) for name, col in columns.items()),
            table=sql.Identifier(schema_name, relation),
        )

    def split(self, window: Window, streams: int) -> list[Window]:
        """Cut the window at histogram bounds into up to `streams` parts holding similar row counts."""
        if streams < 2 or self.columns[self.target.spec.cursor].type != "timestamptz":
            return [window]
        schema_name, relation = table_name(self.target).split(".")
        with psycopg.connect(self.info) as conn:
            row = conn.execute(HISTOGRAM, (schema_name, relation, self.target.spec.cursor)).fetchone()
            if not row or not row[0]:
                return [window]
            bounds = conn.execute("SELECT unnest(%s::text::timestamptz[])", (row[0],)).fetchall()
        inside = [b for (b,) in bounds if window.start < b < window.end]
        cuts = sorted({inside[len(inside) * i // streams] for i in range(1, streams)}) if inside else []
        edges = [window.start, *cuts, window.end]
        return [Window(lo, hi) for lo, hi in zip(edges, edges[1:], strict=False)]

    def chunks(self, window: Window) -> Iterator[pa.RecordBatch | None]:
        """Yields the (typed) record batches of each chunk, then None to mark the end of a chunk."""
        cursor = sql.Identifier(self.target.spec.cursor)
        base = sql.SQL("{select} WHERE {cursor} >= {start} AND {cursor} < {end}").format(
            select=self.select, cursor=cursor, start=sql.Literal(window.start), end=sql.Literal(window.end))
        last: tuple | None = None
        with adbc.connect(self.info) as conn, conn.cursor() as cur:
            while True:
                after = sql.SQL("")
                if last is not None:  # keyset: strictly after the last (cursor, key) row already read
                    after = sql.SQL(" AND ({cols}) > ({vals})").format(
                        cols=self.order_by, vals=sql.SQL(", ").join(sql.Literal(v) for v in last))
                query = sql.Composed([base, after, sql.SQL(" ORDER BY {o} LIMIT {n}").format(
                    o=self.order_by, n=sql.Literal(self.chunk_rows))])
                rows, tail = 0, None
                with self.permits:
                    cur.execute(query.as_string())
                    for batch in cur.fetch_record_batch():
                        if batch.num_rows:
                            rows += batch.num_rows
                            tail = to_arrow(batch, self.columns)
                            yield tail
                yield None
                if rows < self.chunk_rows or tail is None:
                    return
                last = tuple(tail.column(c)[tail.num_rows - 1].as_py() for c in self.order)

    def empty_schema(self) -> pa.Schema:
        """The Arrow schema of the table when the window holds no rows (read with LIMIT 0)."""
        with adbc.connect(self.info) as conn, conn.cursor() as cur:
            cur.execute(sql.Composed([self.select, sql.SQL(" LIMIT 0")]).as_string())
            table = cur.fetch_arrow_table()
        return to_arrow(pa.RecordBatch.from_pylist([], schema=table.schema), self.columns).schema


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0]


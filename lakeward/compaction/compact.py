"""The local compaction engine: the compaction SQL on DuckDB over the raw lines of a batch."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakeward import sql
from lakeward.compaction import dialects
from lakeward.lake import engine

EVENT_COLUMNS = (
    "event_id", "event_type", "occurred_at", "user_id", "anonymous_id", "session_id", "page_url", "product_id",
    "order_id", "amount", "currency", "utm_source", "utm_medium", "utm_campaign", "search_query",
    "device_platform", "device_os", "app_version", "properties", "event_date", "event_hour",
)


def lines_view(source: str, obj: str) -> str:
    """The relation the compaction SQL reads its raw lines from."""
    return f"landing.{source}__{obj}_lines"


def compact(lines: pa.Table, sql_file: Path, view: str) -> pa.Table:
    """Every input line with its fate (loaded, duplicate, quarantined), typed by the SQL."""
    con = _connect(lines, view)
    return con.sql(dialects.to_duckdb(sql.read(sql_file))).to_arrow_table()


def _connect(lines: pa.Table, view: str):
    con = engine.duck()
    schema_name, name = view.split(".")
    con.execute(f"CREATE SCHEMA {schema_name}")
    con.register("_lw_lines", lines)
    con.execute(f"CREATE VIEW {schema_name}.{name} AS SELECT * FROM _lw_lines")
    return con


def to_parquet(lines: pa.Table, sql_file: Path, view: str, out: Path) -> dict[str, int]:
    """Compact straight to a Parquet file of loaded events (the bench's path), streaming the SQL's result:
    returns the count of each fate."""
    con = _connect(lines, view)
    result = con.sql(dialects.to_duckdb(sql.read(sql_file))).fetch_record_batch(1 << 17)
    counts: dict[str, int] = {}
    writer = None
    for batch in result:
        status = batch.column(batch.schema.get_field_index("status"))
        for value in pc.value_counts(status).to_pylist():
            counts[value["values"]] = counts.get(value["values"], 0) + value["counts"]
        loaded = pa.Table.from_batches([batch]).filter(pc.equal(status, "loaded")).select(list(EVENT_COLUMNS))
        writer = writer or pq.ParquetWriter(out, loaded.schema, compression="zstd")
        writer.write_table(loaded)
    if writer:
        writer.close()
    return counts

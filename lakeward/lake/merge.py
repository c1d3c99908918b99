"""Merge a landed batch into its staging table by primary key, in one atomic Iceberg commit.

The batch is deduplicated (latest cursor wins), unioned with the rows already in the partitions it
touches, reduced to one row per key, and written back with an overwrite filter on exactly those
partitions. An existing row wins a tie on the cursor, so replaying an old window never regresses a row
and a rerun of the same window changes nothing. Upsert in pyiceberg is far too slow for batches.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    BooleanExpression,
    GreaterThanOrEqual,
    In,
    IsNull,
    LessThan,
    Or,
)
from pyiceberg.table import Table

from lakeward.definition import Partition
from lakeward.lake import engine, schema
from lakeward.recovery import faults

BATCH_COLUMN = "_lw_batch_id"


@dataclass(frozen=True)
class MergeResult:
    rows_in: int
    duplicates: int
    inserted: int
    updated: int
    unchanged: int
    snapshot_id: int | None
    columns_added: list[str]


class MergeError(ValueError):
    """A batch that cannot be merged as it is; nothing was written."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def merge(
    table: Table, batch: pa.Table, *, key: list[str], cursor: str, partition: Partition | None,
    properties: dict[str, str],
) -> MergeResult:
    """Merge `batch` into `table` and set `properties` (e.g. the watermark) in the same commit."""
    name = ".".join(table.name())
    nulls = [k for k in key if batch.column(k).null_count]
    if nulls:
        count = batch.column(nulls[0]).null_count
        raise MergeError(f"{name}: {count} row(s) with a null primary key column '{nulls[0]}'")
    added = schema.evolve(table, batch.schema)
    if added:
        table = table.refresh()
    con = engine.duck()
    keys = ", ".join(_quote(k) for k in key)
    order = f"{_quote(cursor)} DESC NULLS LAST"
    batch = batch.append_column("_lw_pos", pa.array(range(batch.num_rows), pa.int64()))
    con.register("batch", batch)
    deduped = con.sql(
        f"""SELECT * EXCLUDE (_lw_pos) FROM batch
            QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {order}, _lw_pos DESC) = 1"""
    ).to_arrow_table()
    scope = affected(deduped, partition)
    existing = schema.conform(table.scan(row_filter=scope).to_arrow(), table)
    incoming = schema.conform(deduped, table)
    con.register("existing", existing)
    con.register("incoming", incoming)
    ranked = f"""
        SELECT *, row_number() OVER (PARTITION BY {keys} ORDER BY {order}, _lw_src) AS _lw_rank
        FROM (SELECT *, 0 AS _lw_src FROM existing UNION ALL SELECT *, 1 AS _lw_src FROM incoming)"""
    counts = con.execute(f"""
        SELECT count(*) FILTER (WHERE _lw_src = 1 AND _lw_rank = 1 AND n = 1),
               count(*) FILTER (WHERE _lw_src = 1 AND _lw_rank = 1 AND n = 2),
               count(*) FILTER (WHERE _lw_src = 1 AND _lw_rank = 2)
        FROM (SELECT *, count(*) OVER (PARTITION BY {keys}) AS n FROM ({ranked}))""").fetchall()[0]
    inserted, updated, unchanged = counts
    snapshot_id = None
    with table.transaction() as tx:
        if inserted or updated:
            merged = con.sql(f"SELECT * EXCLUDE (_lw_src, _lw_rank) FROM ({ranked}) WHERE _lw_rank = 1")
            merged = merged.to_arrow_table()
            tx.overwrite(schema.conform(merged, table), overwrite_filter=scope, snapshot_properties=properties)
            faults.reached("stage.mid_commit")  # data files written, the catalog not yet pointed at them
        tx.set_properties(properties)
    if inserted or updated:
        snapshot_id = table.refresh().current_snapshot().snapshot_id
    return MergeResult(
        batch.num_rows, batch.num_rows - deduped.num_rows, inserted, updated, unchanged, snapshot_id, added
    )


def affected(rows: pa.Table, partition: Partition | None) -> BooleanExpression:
    """A filter matching exactly the partitions these rows fall into (the whole table if unpartitioned)."""
    if partition is None or rows.num_rows == 0:
        return AlwaysTrue()
    column = rows.column(partition.column)
    has_null = column.null_count > 0
    values = pc.unique(column.drop_null()).to_pylist()
    if partition.transform == "identity":
        parts: list[BooleanExpression] = [In(partition.column, set(values))] if values else []
    else:
        parts = [
            And(GreaterThanOrEqual(partition.column, lo), LessThan(partition.column, hi))
            for lo, hi in _ranges(values, partition.transform)
        ]
    if has_null:
        parts.append(IsNull(partition.column))
    expression = parts[0]
    for part in parts[1:]:
        expression = Or(expression, part)
    return expression


def _ranges(values: list, transform: str) -> list[tuple[str, str]]:
    """Contiguous [lo, hi) ranges of the time partitions the values fall into, as ISO literals."""
    starts = sorted({_bucket(v, transform) for v in values})
    ranges: list[list] = []
    for start in starts:
        end = _next(start, transform)
        if ranges and ranges[-1][1] == start:
            ranges[-1][1] = end
        else:
            ranges.append([start, end])
    kind = "date" if not any(isinstance(v, datetime) for v in values) else (
        "timestamptz" if any(v.tzinfo for v in values) else "timestamp")
    return [(_literal(lo, kind), _literal(hi, kind)) for lo, hi in ranges]


def _bucket(value: date | datetime, transform: str) -> date:
    day = value.astimezone(UTC).date() if isinstance(value, datetime) and value.tzinfo else (
        value.date() if isinstance(value, datetime) else value)
    if transform == "month":
        return day.replace(day=1)
    if transform == "year":
        return day.replace(month=1, day=1)
    return day


def _next(start: date, transform: str) -> date:
    if transform == "month":
        return start + timedelta(days=calendar.monthrange(start.year, start.month)[1])
    if transform == "year":
        return start.replace(year=start.year + 1)
    return start + timedelta(days=1)


def _literal(day: date, kind: str) -> str:
    if kind == "date":
        return day.isoformat()
    return datetime.combine(day, time(0), tzinfo=UTC if kind == "timestamptz" else None).isoformat()

"""Replace whole date partitions of an Iceberg table in one atomic commit, with table properties set in it.

For sources that re-deliver whole days (a GA4 daily table re-exported while late events arrive), the day's
new content simply is the day: delete the partition and write the rows, with `overwrite(overwrite_filter=)`.
pyiceberg's dynamic_partition_overwrite would be shorter but rejects day() transforms, and it cannot empty a
day whose new content has no rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.table import Table

from lakeward.definition import Partition
from lakeward.lake import schema
from lakeward.lake.merge import affected


class ReplaceError(ValueError):
    """Rows that do not belong to the partitions being replaced; nothing was written."""


@dataclass(frozen=True)
class ReplaceResult:
    days: list[date]
    rows_written: int
    rows_removed: int
    snapshot_id: int | None
    columns_added: list[str]
    removed_by_day: dict[date, int] = field(default_factory=dict)  # rows each replaced day held before
    written_by_day: dict[date, int] = field(default_factory=dict)  # rows each replaced day holds now

    @property
    def late_rows(self) -> dict[str, int]:
        """Per day that held rows before, the rows it gained: the late rows that day received."""
        return {d.isoformat(): self.written_by_day.get(d, 0) - n for d, n in sorted(self.removed_by_day.items())
                if n and self.written_by_day.get(d, 0) > n}


def day_of(value: date | datetime) -> date:
    return value.astimezone(UTC).date() if isinstance(value, datetime) else value


def _day_column(rows: pa.Table, partition: Partition) -> pa.ChunkedArray:
    """Each row's partition day (the UTC date of a timestamp)."""
    if partition.transform not in ("day", "identity"):
        raise ReplaceError(f"partition {partition.column}: replacing partitions needs a day or identity "
                           f"transform on a date, not {partition.transform}")
    column = rows.column(partition.column)
    if pa.types.is_timestamp(column.type):
        column = pc.cast(pc.assume_timezone(column, "UTC") if column.type.tz is None else column,
                         pa.timestamp("us", tz="UTC")).cast(pa.date32())
    return column


def rows_by_day(rows: pa.Table, partition: Partition) -> dict[date, int]:
    return dict(Counter(d for d in _day_column(rows, partition).to_pylist() if d is not None))


def outside(rows: pa.Table, partition: Partition, days: list[date]) -> pa.Table:
    """The rows whose partition day is not one of `days`."""
    column = _day_column(rows, partition)
    mask = pc.invert(pc.is_in(column, pa.array(days, pa.date32())))
    return rows.filter(pc.fill_null(mask, True))


def replace_days(table: Table, rows: pa.Table, partition: Partition, days: list[date],
                 properties: dict[str, str]) -> ReplaceResult:
    """Make `rows` the whole content of `days` (each row must fall in one of them) and set `properties`."""
    name = ".".join(table.name())
    stray = outside(rows, partition, days)
    if stray.num_rows:
        raise ReplaceError(f"{name}: {stray.num_rows} row(s) fall outside the partitions being replaced "
                           f"({', '.join(map(str, days))}), e.g. {partition.column}="
                           f"{stray.column(partition.column)[0].as_py()}")
    added = schema.evolve(table, rows.schema) if rows.num_rows else []
    if added:
        table = table.refresh()
    snapshot_id, removed, before = None, 0, {}
    with table.transaction() as tx:
        if days:
            scope = affected(pa.table({partition.column: pa.array(sorted(days), pa.date32())}), partition)
            before = rows_by_day(table.scan(row_filter=scope, selected_fields=(partition.column,)).to_arrow(),
                                 partition)
            removed = sum(before.values())
            if rows.num_rows:
                tx.overwrite(schema.conform(rows, table), overwrite_filter=scope, snapshot_properties=properties)
            elif removed:
                tx.delete(scope, snapshot_properties=properties)
        tx.set_properties(properties)
    if rows.num_rows or removed:
        snapshot_id = table.refresh().current_snapshot().snapshot_id
    return ReplaceResult(sorted(days), rows.num_rows, removed, snapshot_id, added, before,
                         rows_by_day(rows, partition) if rows.num_rows else {})

"""Arrow batches meet Iceberg tables: creation with keys and partitions, additive evolution, conforming.

Iceberg refuses frames that differ from the table schema (nullability, unit, extra columns), so every
write goes through `conform`. A column whose type changed is a drift the pipeline must not paper over.
"""

from __future__ import annotations

import uuid

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform, IdentityTransform, MonthTransform, YearTransform

from lakeward.definition import Partition
from lakeward.lake.catalog import TABLE_PROPERTIES

TRANSFORMS = {"identity": IdentityTransform, "day": DayTransform, "month": MonthTransform, "year": YearTransform}


class SchemaDriftError(ValueError):
    """A source column changed type: the batch is refused, nothing is staged."""

    def __init__(self, message: str, column: str = "", expected: str = "", found: str = ""):
        super().__init__(message)
        self.column, self.expected, self.found = column, expected, found


def normalize(schema: pa.Schema) -> pa.Schema:
    """Types Iceberg can hold: JSON as text, microsecond timestamps, plain strings and binaries."""
    return pa.schema([f.with_type(_normal_type(f.type)) for f in schema])


def _normal_type(t: pa.DataType) -> pa.DataType:
    if isinstance(t, pa.ExtensionType) and t.extension_name != "arrow.uuid":
        return _normal_type(t.storage_type)
    if pa.types.is_timestamp(t) and t.unit == "ns":
        return pa.timestamp("us", tz=t.tz)
    if pa.types.is_large_string(t):
        return pa.string()
    if pa.types.is_large_binary(t):
        return pa.binary()
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pa.list_(_normal_type(t.value_type))
    return t


def create(
    catalog: Catalog, identifier: str, schema: pa.Schema, key: list[str], partition: Partition | None
) -> Table:
    """Create a table whose key columns are required Iceberg identifier fields."""
    fields = [f.with_nullable(f.name not in key) for f in normalize(schema)]
    with catalog.create_table_transaction(identifier, schema=pa.schema(fields), properties=TABLE_PROPERTIES) as tx:
        with tx.update_schema() as update:
            update.set_identifier_fields(*key)
        if partition:
            with tx.update_spec() as spec:
                spec.add_field(
                    partition.column, TRANSFORMS[partition.transform](),
                    f"{partition.column}_{partition.transform}",
                )
    return catalog.load_table(identifier)


def evolve(table: Table, incoming: pa.Schema) -> list[str]:
    """Add columns the batch brings; refuse a changed type. Returns the columns added."""
    current = table.schema().as_arrow()
    incoming = normalize(incoming)
    added = [f for f in incoming if f.name not in current.names]
    for field in incoming:
        if field.name in current.names:
            have = current.field(field.name).type
            if not _compatible(have, field.type):
                raise SchemaDriftError(
                    f"{'.'.join(table.name())}: column '{field.name}' changed type from {_normal_type(have)} "
                    f"to {field.type}; the batch is refused", field.name, str(_normal_type(have)), str(field.type))
    if added:
        with table.update_schema() as update:
            update.union_by_name(pa.schema(added))
    return [f.name for f in added]


def _compatible(have: pa.DataType, incoming: pa.DataType) -> bool:
    if have == incoming or _normal_type(have) == _normal_type(incoming):
        return True
    # Iceberg's own widenings: int -> long, float -> double.
    widen = {(pa.int64(), pa.int32()), (pa.int64(), pa.int16()), (pa.int32(), pa.int16()),
             (pa.float64(), pa.float32())}
    return (have, incoming) in widen or (
        pa.types.is_string(have) and pa.types.is_string(_normal_type(incoming))
    )


def _cast(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    if column.type == target:
        return column
    if isinstance(column.type, pa.ExtensionType):
        column = pa.chunked_array([c.storage for c in column.chunks], column.type.storage_type)
    if isinstance(target, pa.UuidType) and pa.types.is_string(column.type):
        # DuckDB hands UUIDs back as text.
        raw = [None if v is None else uuid.UUID(v).bytes for v in column.to_pylist()]
        return pa.chunked_array([pa.array(raw, pa.uuid())], target)
    return column.cast(target)


def conform(data: pa.Table, table: Table) -> pa.Table:
    """Order, fill and cast columns to exactly the table's Arrow schema."""
    target = table.schema().as_arrow()
    columns = []
    for field in target:
        if field.name in data.column_names:
            column = data.column(field.name)
            columns.append(_cast(column, field.type))
        else:
            columns.append(pa.nulls(data.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=target)

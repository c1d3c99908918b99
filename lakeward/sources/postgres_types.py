"""How PostgreSQL columns become Arrow (and so Iceberg) columns.

The ADBC driver reads over binary COPY and maps most types natively: numeric arrives as text and is
cast to a decimal of the declared precision; types Iceberg has no home for (json, enums, intervals,
network types) are read as text so nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

# Read as they are: ADBC gives the right Arrow type and Iceberg has a matching one.
NATIVE = {
    "bool", "int2", "int4", "int8", "float4", "float8", "numeric", "text", "varchar", "bpchar", "name",
    "date", "timestamp", "timestamptz", "time", "uuid", "bytea",
}
# Unconstrained numeric has no declared scale; this keeps cents and rates exact and fails loudly beyond.
DEFAULT_NUMERIC = (38, 9)
# numeric(p, s) up to this precision travels as a scaled bigint: exact, and far cheaper to decode than
# the driver's numeric-to-text conversion, which otherwise dominates extraction time.
SCALED_INT_PRECISION = 18

INTROSPECT = """
SELECT a.attname, t.typname, a.atttypmod, e.typname AS element
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    typmod: int
    element: str | None  # the element type of an array column

    @property
    def native(self) -> bool:
        return self.type in NATIVE or (self.element is not None and self.element in NATIVE)

    def select_expression(self, quoted: str) -> str:
        target = self.decimal()
        if target is not None and target.precision <= SCALED_INT_PRECISION:
            return f"({quoted} * 1{'0' * target.scale})::int8 AS {quoted}"
        if self.native:
            return quoted
        cast = "text[]" if self.element is not None else "text"
        return f"{quoted}::{cast} AS {quoted}"

    def decimal(self) -> pa.Decimal128Type | None:
        if self.type != "numeric":
            return None
        if self.typmod < 0:
            return pa.decimal128(*DEFAULT_NUMERIC)
        precision, scale = ((self.typmod - 4) >> 16) & 0xFFFF, (self.typmod - 4) & 0xFFFF
        return pa.decimal128(precision, scale)


def _decimal(array: pa.Array, target: pa.Decimal128Type) -> pa.Array:
    if pa.types.is_int64(array.type):  # a scaled bigint: reinterpret the unscaled value, no arithmetic
        return pc.cast(array, pa.decimal128(19, 0)).view(target)
    return pc.cast(array, target)


def to_arrow(batch: pa.RecordBatch, columns: dict[str, Column]) -> pa.RecordBatch:
    """Cast numeric text to decimals and unwrap driver extension types, keeping UUIDs as UUIDs."""
    arrays, fields = [], []
    for field, array in zip(batch.schema, batch.columns, strict=True):
        target = columns[field.name].decimal()
        if isinstance(array.type, pa.ExtensionType) and array.type.extension_name != "arrow.uuid":
            array = array.storage
        if target is not None:
            try:
                array = _decimal(array, target)
            except pa.ArrowInvalid as err:
                raise ValueError(f"column '{field.name}': numeric value does not fit {target}: {err}") from None
        arrays.append(array)
        fields.append(pa.field(field.name, array.type))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))

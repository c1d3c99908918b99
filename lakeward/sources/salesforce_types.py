"""Salesforce records to typed Arrow: column names and types from describe(), values from REST or Bulk.

REST returns JSON (numbers already Decimal, booleans, nulls) and Bulk API 2.0 returns CSV text (every
value a string, null as empty); both go through `to_batch`, so the two transports land identical rows.
Every batch also carries the soft-delete columns staging needs: `is_deleted` and `deleted_at`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa

from lakeward.definition import IDENTIFIER

TEXT = {"id", "string", "reference", "picklist", "multipicklist", "combobox", "email", "phone", "url",
        "textarea", "encryptedstring", "time", "base64"}
NUMBER = {"double", "percent", "currency"}
_WORD = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


class FieldNameError(ValueError):
    """An API name that does not give a valid, unique staging column name."""


def column_name(api_name: str) -> str:
    """snake_case of an API name: SystemModstamp -> system_modstamp, UTM_Campaign__c -> utm_campaign__c."""
    return _WORD.sub("_", api_name).lower()


@dataclass(frozen=True)
class Field:
    api_name: str
    type: str  # the Salesforce type, as describe() reports it
    precision: int = 0
    scale: int = 0
    removed: bool = False  # gone from describe(): lands as a null column so staging keeps its shape

    @property
    def column(self) -> str:
        return column_name(self.api_name)

    @property
    def spec(self) -> str:
        """'currency(18,2)', or the bare type: what a manifest records to compare the next describe() with."""
        return f"{self.type}({self.precision},{self.scale})" if self.precision else self.type

    @classmethod
    def parse(cls, api_name: str, spec: str) -> Field:
        kind, _, digits = spec.partition("(")
        precision, scale = (int(d) for d in digits.rstrip(")").split(",")) if digits else (0, 0)
        return cls(api_name, kind, precision, scale)

    @property
    def arrow(self) -> pa.DataType:
        if self.type == "boolean":
            return pa.bool_()
        if self.type == "int" or (self.type in NUMBER and self.scale == 0 and 0 < self.precision <= 18):
            return pa.int64()
        if self.type in NUMBER:
            return pa.decimal128(self.precision, self.scale) if 0 < self.precision <= 38 else pa.float64()
        if self.type == "date":
            return pa.date32()
        if self.type == "datetime":
            return pa.timestamp("us", tz="UTC")
        return pa.string()  # text kinds, and compound fields (address, location) kept as JSON

    def value(self, raw: object) -> object:
        """A REST (JSON) or Bulk (CSV text) value as the Python value of this field's Arrow type."""
        if raw is None or raw == "":
            return None
        kind = self.arrow
        if pa.types.is_boolean(kind):
            return raw if isinstance(raw, bool) else str(raw).lower() == "true"
        if pa.types.is_int64(kind):
            return int(Decimal(str(raw)))
        if pa.types.is_decimal(kind):
            return Decimal(str(raw)).quantize(Decimal(1).scaleb(-self.scale))
        if pa.types.is_floating(kind):
            return float(raw)  # type: ignore[arg-type]
        if pa.types.is_date32(kind):
            return date.fromisoformat(str(raw))
        if pa.types.is_timestamp(kind):
            return datetime.fromisoformat(str(raw)).astimezone(UTC)
        return raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True, default=str)


def fields_from_describe(sobject: str, describe: dict) -> list[Field]:
    """The object's fields; refuses names that do not make valid or distinct column names."""
    fields = [Field(f["name"], f["type"], int(f.get("precision") or 0), int(f.get("scale") or 0))
              for f in describe["fields"]]
    seen: dict[str, str] = {}
    for f in fields:
        if not re.match(IDENTIFIER, f.column):
            raise FieldNameError(f"Salesforce {sobject}.{f.api_name}: column name '{f.column}' is not a valid "
                                 "identifier")
        if f.column in seen or f.column == "deleted_at":
            raise FieldNameError(f"Salesforce {sobject}: fields {seen.get(f.column, 'deleted_at')} and "
                                 f"{f.api_name} both become column '{f.column}'")
        seen[f.column] = f.api_name
    return fields


def arrow_schema(fields: list[Field]) -> pa.Schema:
    columns = [pa.field(f.column, f.arrow) for f in fields]
    if not any(f.api_name == "IsDeleted" for f in fields):
        columns.append(pa.field("is_deleted", pa.bool_()))  # objects without a recycle bin (User)
    return pa.schema([*columns, pa.field("deleted_at", pa.timestamp("us", tz="UTC"))])


def to_batch(fields: list[Field], records: list[dict], schema: pa.Schema) -> pa.RecordBatch:
    """Typed columns from records keyed by API name (REST's `attributes` and unknown keys ignored)."""
    columns = [pa.array([f.value(r.get(f.api_name)) for r in records], f.arrow) for f in fields]
    names = [f.column for f in fields]
    if "is_deleted" not in names:
        columns.append(pa.array([False] * len(records), pa.bool_()))
        names.append("is_deleted")
    deleted, stamp = columns[names.index("is_deleted")], columns[names.index("system_modstamp")]
    columns.append(pa.array([s if d else None for d, s in zip(deleted.to_pylist(), stamp.to_pylist(), strict=True)],
                            pa.timestamp("us", tz="UTC")))
    return pa.RecordBatch.from_arrays(columns, schema=schema)

"""Quarantine tables: rows a batch could not stage, kept in Iceberg for inspection beside what did stage.

`replace_batch` is the one writer: a batch's rows replace its earlier ones, so rerunning a batch never
adds to its quarantine. `drifted` keeps a batch refused for a changed column type whole, in
`quarantine.<source>__<object>`: each landed row as JSON text with the field and the two types.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import EqualTo

from lakeward.lake import schema
from lakeward.lake.catalog import ensure_table

NAMESPACE = "quarantine"
DRIFT_SCHEMA = pa.schema([
    pa.field("batch_id", pa.string(), nullable=False),
    pa.field("raw_row", pa.string(), nullable=False),
    pa.field("field", pa.string(), nullable=False),
    pa.field("expected_type", pa.string(), nullable=False),
    pa.field("found_type", pa.string(), nullable=False),
    pa.field("quarantined_at", pa.timestamp("us", tz="UTC"), nullable=False),
])


def replace_batch(catalog: Catalog, identifier: str, batch_id: str, rows: pa.Table) -> None:
    """Write a batch's quarantined rows (a `batch_id` column), replacing the ones an earlier try wrote."""
    table = ensure_table(catalog, identifier, rows.schema)
    table.overwrite(schema.conform(rows, table), overwrite_filter=EqualTo("batch_id", batch_id))


def drifted(catalog: Catalog, source: str, obj: str, batch_id: str, batch: pa.Table,
            err: schema.SchemaDriftError) -> str:
    """Keep every row of a batch refused for a type change; returns the quarantine table's name."""
    identifier = f"{NAMESPACE}.{source}__{obj}"
    raw = [json.dumps(row, default=str, sort_keys=True) for row in batch.to_pylist()]
    n = len(raw)
    rows = pa.table({
        "batch_id": [batch_id] * n, "raw_row": raw, "field": [err.column] * n,
        "expected_type": [err.expected] * n, "found_type": [err.found] * n,
        "quarantined_at": pa.array([datetime.now(UTC)] * n, DRIFT_SCHEMA.field("quarantined_at").type),
    }, schema=DRIFT_SCHEMA)
    replace_batch(catalog, identifier, batch_id, rows)
    return identifier

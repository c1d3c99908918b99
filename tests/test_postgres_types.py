"""PostgreSQL types survive into Iceberg with the right types and values."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg
from psycopg.types.json import Jsonb
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    ListType,
    LongType,
    StringType,
    TimestampType,
    TimestamptzType,
    UUIDType,
)

from lakeward.lake import engine
from lakeward.lake.catalog import load_table, open_catalog
from lakeward.runner import run
from tests.conftest import NIGHT, write_definition

DDL = """
CREATE TYPE mood AS ENUM ('calm', 'busy');
CREATE TABLE everything (
    id bigint PRIMARY KEY, small int, amount numeric(12,2), ratio numeric, created timestamptz NOT NULL,
    local_ts timestamp, day date, doc jsonb, ref uuid, tags text[], counts int[], moods mood[], state mood,
    blob bytea, flag boolean, score double precision, span interval, updated_at timestamptz NOT NULL)
"""
ROW = {
    "id": 1, "small": 7, "amount": Decimal("1234.56"), "ratio": Decimal("0.123456789"),
    "created": datetime(2026, 9, 2, 3, 4, 5, 678901, tzinfo=UTC),
    "local_ts": datetime(2026, 9, 2, 3, 4, 5), "day": date(2026, 9, 2), "doc": '{"a": [1, 2], "b": {"c": null}}',
    "ref": uuid.UUID("6f1c1d2e-8a3b-4c5d-9e0f-112233445566"), "tags": ["x", "y"], "counts": [1, 2, 3],
    "moods": ["calm", "busy"], "state": "busy", "blob": b"\x00\x01\xff", "flag": True, "score": 2.5,
    "span": "1 day 02:00:00", "updated_at": datetime(2026, 9, 2, 3, 4, 5, tzinfo=UTC),
}
EXPECTED_TYPES = {
    "id": LongType(), "small": IntegerType(), "amount": DecimalType(12, 2), "ratio": DecimalType(38, 9),
    "created": TimestamptzType(), "local_ts": TimestampType(), "day": DateType(), "doc": StringType(),
    "ref": UUIDType(), "tags": ListType, "counts": ListType, "moods": ListType, "state": StringType(),
    "blob": BinaryType(), "flag": BooleanType(), "score": DoubleType(), "span": StringType(),
}


def test_types_survive_into_iceberg(tmp_path, pg_dsn, home):
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(DDL)
        conn.execute(
            f"INSERT INTO everything ({', '.join(ROW)}) VALUES ({', '.join(['%s'] * len(ROW))})",
            [Jsonb(json.loads(ROW[k])) if k == "doc" else ROW[k] for k in ROW],
        )
        conn.execute("INSERT INTO everything (id, created, updated_at) VALUES (2, now(), %s)", (ROW["updated_at"],))

    def edit(raw):
        raw["sources"]["postgres"]["objects"] = {"everything": {
            "primary_key": ["id"], "cursor": "updated_at", "partition": {"column": "created", "transform": "day"}}}
        raw["marts"] = {}

    assert run(write_definition(tmp_path, edit), home, end=datetime(2026, 10, 1, tzinfo=UTC), now=NIGHT).ok
    catalog = open_catalog(home)
    table = load_table(catalog, "staging.postgres__everything")
    schema = table.schema()
    for name, expected in EXPECTED_TYPES.items():
        actual = schema.find_field(name).field_type
        assert isinstance(actual, expected) if isinstance(expected, type) else actual == expected, name
    assert schema.find_field("tags").field_type.element_type == StringType()
    assert schema.find_field("counts").field_type.element_type == IntegerType()
    assert schema.find_field("id").required and schema.identifier_field_names() == {"id"}
    assert table.spec().fields[0].name == "created_day"

    row = table.scan(row_filter="id = 1").to_arrow().to_pylist()[0]
    for name in ("amount", "ratio", "created", "local_ts", "day", "ref", "tags", "counts", "moods", "state",
                 "blob", "flag", "score"):
        assert row[name] == ROW[name], name
    assert row["doc"] == ROW["doc"]  # jsonb's own canonical text
    assert row["span"] == "1 day 02:00:00"
    empty = table.scan(row_filter="id = 2").to_arrow().to_pylist()[0]
    assert empty["amount"] is None and empty["tags"] is None and empty["ref"] is None
    # The engine sees the same values with SQL types.
    seen = engine.query(catalog, "SELECT typeof(ref) AS t, CAST(ref AS VARCHAR) AS r "
                                 "FROM staging.postgres__everything WHERE id = 1",
                        dialect="duckdb").to_pylist()[0]
    assert seen == {"t": "UUID", "r": str(ROW["ref"])}

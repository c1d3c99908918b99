"""Which table columns a batch's source stopped sending: top-level columns only, never nested fields."""

from __future__ import annotations

import pyarrow as pa

from lakeward.lake import drift, schema
from lakeward.lake.catalog import open_catalog
from lakeward.lake.landing import Manifest


def manifest(rows: int, stats: dict) -> Manifest:
    return Manifest("b1", "stripe", "charges", {"start": "", "end": ""}, rows, [], "v", "", stats)


def test_removed_columns_are_the_top_level_ones_missing_from_source_columns(home):
    columns = pa.schema([("id", pa.string()), ("tags", pa.list_(pa.string())), ("captured", pa.bool_()),
                         ("_lw_batch_id", pa.string())])
    table = schema.create(open_catalog(home), "staging.drift_probe", columns, ["id"], None)
    assert drift.removed(table, manifest(3, {"source_columns": ["id", "tags"]})) == ["captured"]
    assert drift.removed(table, manifest(3, {"source_columns": ["id", "tags", "captured"]})) == []
    assert drift.removed(table, manifest(0, {"source_columns": ["id"]})) == []  # an empty window says nothing
    assert drift.removed(table, manifest(3, {})) == []  # a source that cannot tell absent from empty
    assert drift.details(["risk_flag"], ["captured"])["drift"] == {"added": ["risk_flag"], "removed": ["captured"]}
    assert drift.details([], []) == {}

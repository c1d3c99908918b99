"""The staging merge on real Iceberg tables: dedupe, partition-scoped overwrite, evolution, replays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from lakeward.definition import Partition
from lakeward.lake import merge, schema
from lakeward.lake.catalog import open_catalog

DAY = datetime(2026, 9, 1, tzinfo=UTC)
KEY = dict(key=["id"], cursor="updated_at", partition=Partition(column="created_at", transform="day"))


def batch(rows: list[tuple[int, str, int, int]]) -> pa.Table:
    """Rows of (id, status, created day offset, updated minute offset)."""
    return pa.table({
        "id": pa.array([r[0] for r in rows], pa.int64()),
        "status": pa.array([r[1] for r in rows], pa.string()),
        "created_at": pa.array([DAY + timedelta(days=r[2]) for r in rows], pa.timestamp("us", tz="UTC")),
        "updated_at": pa.array([DAY + timedelta(minutes=r[3]) for r in rows], pa.timestamp("us", tz="UTC")),
    })


@pytest.fixture
def table(home):
    catalog = open_catalog(home)
    return schema.create(catalog, "staging.t", batch([]).schema, ["id"], KEY["partition"])


def contents(table) -> dict[int, str]:
    data = table.refresh().scan().to_arrow()
    ids = data["id"].to_pylist()
    assert len(ids) == len(set(ids)), "duplicate keys in the table"
    return dict(zip(ids, data["status"].to_pylist(), strict=True))


def test_latest_cursor_wins_inside_a_batch(table):
    result = merge.merge(table, batch([(1, "old", 0, 1), (1, "new", 0, 5), (2, "a", 1, 1), (1, "mid", 0, 3)]),
                         properties={}, **KEY)
    assert (result.rows_in, result.duplicates, result.inserted) == (4, 2, 2)
    assert contents(table) == {1: "new", 2: "a"}


def test_only_touched_partitions_are_rewritten(table):
    merge.merge(table, batch([(1, "a", 0, 1), (2, "b", 1, 1), (3, "c", 2, 1)]), properties={}, **KEY)
    files_before = {t.file.file_path for t in table.refresh().scan().plan_files()}
    result = merge.merge(table, batch([(2, "b2", 1, 9), (4, "d", 1, 9)]), properties={"k": "v"}, **KEY)
    assert (result.inserted, result.updated, result.unchanged) == (1, 1, 0)
    assert contents(table) == {1: "a", 2: "b2", 3: "c", 4: "d"}
    files_after = {t.file.file_path for t in table.refresh().scan().plan_files()}
    assert len(files_before - files_after) == 1  # only day 1's file was replaced
    assert table.refresh().properties["k"] == "v"
    assert table.current_snapshot().summary["k"] == "v"  # one commit carries data and properties


def test_replaying_an_older_batch_never_regresses_rows(table):
    older = batch([(1, "created", 0, 1), (2, "created", 0, 1)])
    merge.merge(table, older, properties={}, **KEY)
    merge.merge(table, batch([(1, "shipped", 0, 60)]), properties={}, **KEY)
    snapshot = table.refresh().current_snapshot().snapshot_id
    replay = merge.merge(table, older, properties={}, **KEY)
    assert (replay.inserted, replay.updated, replay.unchanged) == (0, 0, 2)
    assert replay.snapshot_id is None and table.refresh().current_snapshot().snapshot_id == snapshot
    assert contents(table) == {1: "shipped", 2: "created"}


def test_an_added_column_evolves_the_table(table):
    merge.merge(table, batch([(1, "a", 0, 1)]), properties={}, **KEY)
    wider = batch([(2, "b", 0, 2)]).append_column("channel", pa.array(["web"]))
    result = merge.merge(table, wider, properties={}, **KEY)
    assert result.columns_added == ["channel"]
    data = table.refresh().scan().to_arrow().sort_by("id")
    assert data["channel"].to_pylist() == [None, "web"]


def test_a_type_change_is_refused_and_writes_nothing(table):
    merge.merge(table, batch([(1, "a", 0, 1)]), properties={}, **KEY)
    snapshot = table.refresh().current_snapshot().snapshot_id
    changed = batch([(2, "b", 0, 2)])
    changed = changed.set_column(1, "status", pa.array([3], pa.int64()))
    with pytest.raises(schema.SchemaDriftError, match=r"staging\.t: column 'status' changed type from string to int64"):
        merge.merge(table, changed, properties={}, **KEY)
    assert table.refresh().current_snapshot().snapshot_id == snapshot


def test_a_null_primary_key_is_refused(table):
    bad = batch([(1, "a", 0, 1)]).set_column(0, "id", pa.array([None], pa.int64()))
    with pytest.raises(merge.MergeError, match=r"staging\.t: 1 row\(s\) with a null primary key column 'id'"):
        merge.merge(table, bad, properties={}, **KEY)


def test_affected_partition_filters_cover_month_boundaries():
    rows = batch([(1, "a", 29, 0), (2, "b", 30, 0), (3, "c", 31, 0)])
    monthly = merge.affected(rows, Partition(column="created_at", transform="month"))
    assert "2026-09-01" in str(monthly) and "2026-11-01" in str(monthly)
    assert str(merge.affected(rows, None)) == "AlwaysTrue()"

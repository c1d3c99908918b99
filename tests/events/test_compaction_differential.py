"""The compaction SQL on Spark (the Glue transform, local pyspark) and on DuckDB gives identical rows for the
same raw files, duplicates, late events, malformed lines and a damaged gzip file included."""

from __future__ import annotations

import gzip
import os
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from glue_jobs.compact_events import transform
from lakeward.compaction.compact import compact
from lakeward.compaction.read_lines import read_lines
from lakeward.demo import events_world
from lakeward.sources.file_store import Root
from tests.events.conftest import LINES_VIEW, SQL, whole_lines

START = datetime(2026, 11, 20, 22, tzinfo=UTC)
PATTERN = "dt=%Y-%m-%d/hour=%H/*.json.gz"


@pytest.fixture(scope="module")
def spark():
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ["PYSPARK_PYTHON"] = sys.executable  # workers import lakeward from this environment
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("lakeward-compaction-test")
               .config("spark.driver.host", "127.0.0.1").config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    yield session
    session.stop()


@pytest.fixture(scope="module")
def raw_files(tmp_path_factory):
    """Four hours across midnight with heavy faults, plus one cut gzip file and one with a bad byte."""
    root = tmp_path_factory.mktemp("events")
    activity = events_world.Activity(
        users=list(range(1, 40)), products=list(range(1, 15)),
        signups=[(50, START + timedelta(minutes=20), "email"), (51, START + timedelta(hours=2, minutes=5), None)],
        orders=[(900 + i, 3 + i, START + timedelta(minutes=29 * i + 13), 19.99 + 7 * i, "USD", [2, 5 + i % 3])
                for i in range(7)])
    truth = events_world.generate(root, activity, seed=3, scale=0.5, start=START, end=START + timedelta(hours=4),
                                  faults=events_world.Faults(duplicate=0.15, late=0.2, malformed=0.05))
    folder = root / "events" / "dt=2026-11-21" / "hour=02"
    lines = b"".join(b'{"event_id":"e-cut-%04d","event_type":"login","occurred_at":"2026-11-21T02:%02d:01.000Z"}\n'
                     % (n, n % 60) for n in range(300))
    packed = gzip.compress(lines, 9)
    (folder / "part-damaged-0000.json.gz").write_bytes(packed[: len(packed) * 6 // 10])
    (folder / "part-badbyte-0000.json.gz").write_bytes(gzip.compress(
        b'{"event_id":"e-utf-1","event_type":"login","occurred_at":"2026-11-21T02:00:01.000Z"}\n'
        b'{"event_id":"e-\xff","event_type":"login"}\n'))
    return root, truth


def _normal(row: dict) -> str:
    """A comparable form: instants in UTC (Spark hands back naive local times), hours as int."""
    out = dict(row)
    if out["occurred_at"] is not None:
        out["occurred_at"] = out["occurred_at"].astimezone(UTC)
    out["event_hour"] = None if out["event_hour"] is None else int(out["event_hour"])
    return repr(sorted(out.items()))


def test_spark_and_duckdb_give_identical_rows(spark, raw_files):
    root_path, truth = raw_files
    root = Root(str(root_path))
    files = root.list("events", PATTERN)
    duck = compact(read_lines(root, files), SQL, LINES_VIEW)
    fates = transform(spark, str(root_path), [f.path for f in files], SQL)
    spark_rows = [r.asDict() for r in fates.collect()]
    assert sorted(duck.column_names) == sorted(spark_rows[0])
    duck_rows = sorted(_normal(r) for r in duck.to_pylist())
    assert duck_rows == sorted(_normal(r) for r in spark_rows)

    by_status: dict[str, int] = {}
    for row in duck.to_pylist():
        by_status[row["status"]] = by_status.get(row["status"], 0) + 1
    readable = whole_lines(root_path / "events" / "dt=2026-11-21" / "hour=02" / "part-damaged-0000.json.gz")
    assert 0 < len(readable) < 300
    assert duck.num_rows == truth.lines + len(readable) + 1 + 2  # +1: the cut tail, +2: the bad-byte file
    loaded_extra = {r["event_id"] for r in duck.to_pylist() if r["status"] == "loaded"} - set(truth.events)
    assert loaded_extra == {*readable, "e-utf-1"}
    assert by_status["quarantined"] == truth.malformed + 2  # the cut tail and the undecodable line
    assert by_status["duplicate"] == truth.duplicates
    purchase = next(r for r in duck.to_pylist() if r["event_type"] == "purchase" and r["order_id"] == 900)
    assert purchase["amount"] == Decimal("19.99") and purchase["currency"] == "USD"

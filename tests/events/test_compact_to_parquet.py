"""The bench's path (the compaction SQL written to Parquet by DuckDB in one pass) keeps every line's fate:
its counts match the generator's truth and its file holds each true event exactly once, typed, and each
malformed line with its error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb

from lakeward.compaction.compact import compact, lines_view, to_parquet
from lakeward.compaction.read_lines import read_lines
from lakeward.demo import events_world
from lakeward.sources.file_store import Root
from tests.events.conftest import SQL

START = datetime(2026, 11, 20, 22, tzinfo=UTC)


def test_parquet_fates_match_the_truth(tmp_path):
    activity = events_world.Activity(
        users=list(range(1, 30)), products=list(range(1, 12)), signups=[(40, START + timedelta(minutes=9), "email")],
        orders=[(700 + i, 2 + i, START + timedelta(minutes=17 * i + 3), 5.5 + i, "EUR", [3, 4]) for i in range(5)])
    truth = events_world.generate(tmp_path / "src", activity, seed=11, scale=0.5, start=START,
                                  end=START + timedelta(hours=3),
                                  faults=events_world.Faults(duplicate=0.2, late=0.2, malformed=0.05))
    root = Root(str(tmp_path / "src"))
    lines = read_lines(root, root.list("events", "dt=%Y-%m-%d/hour=%H/*.json.gz"))
    assert truth.duplicates > 0 and truth.malformed > 0

    out = tmp_path / "compacted.parquet"
    counts = to_parquet(lines, SQL, lines_view("events", "app_events"), out)

    assert counts == {"loaded": len(truth.events), "duplicate": truth.duplicates, "quarantined": truth.malformed}
    assert sum(counts.values()) == lines.num_rows == truth.lines
    written = duckdb.sql(f"SELECT event_id, event_type, amount FROM '{out}' WHERE status = 'loaded'").fetchall()
    errors = duckdb.sql(f"SELECT count(*) FROM '{out}' WHERE status = 'quarantined' AND error IS NOT NULL "
                        "AND raw_line IS NOT NULL").fetchall()[0][0]
    assert errors == truth.malformed
    assert sorted(eid for eid, _, _ in written) == sorted(truth.events)
    purchases = {eid: float(amount) for eid, kind, amount in written if kind == "purchase"}
    assert purchases and all(purchases[eid] == float(truth.events[eid]["properties"]["amount"]) for eid in purchases)
    # The same rows as the in-memory path the stage step uses.
    fates = compact(lines, SQL, lines_view("events", "app_events")).to_pylist()
    assert sorted(r["event_id"] for r in fates if r["status"] == "loaded") == sorted(truth.events)

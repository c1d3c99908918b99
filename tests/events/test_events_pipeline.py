"""App events end to end: generated from the marketplace in PostgreSQL, compacted by the real runner into
Iceberg, checked against the generator's truth and against SQL run directly on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from lakeward import runner
from lakeward.demo import events_world
from lakeward.lake import engine
from lakeward.lake.catalog import load_table, open_catalog
from tests.conftest import warehouse_fingerprint

DAY_START = datetime(2026, 9, 29, tzinfo=UTC)
DAY_END = DAY_START + timedelta(days=1)
NOON = DAY_START + timedelta(hours=12)
LAST = DAY_END + timedelta(hours=8)  # past the latest arrival: 6 h late plus a duplicate an hour after


@pytest.fixture
def day_of_events(marketplace_db, events_root):
    """One day of app events retelling the marketplace's 29 September."""
    with psycopg.connect(marketplace_db) as conn:
        activity = events_world.read_activity(conn, DAY_START, DAY_END)
    truth = events_world.generate(events_root, activity, seed=5, scale=0.5, start=DAY_START, end=DAY_END,
                                  faults=events_world.Faults(duplicate=0.05, late=0.08, malformed=0.01))
    assert truth.duplicates and truth.malformed and len(activity.orders) > 3
    return truth


def _rows(home, query: str) -> list[tuple]:
    catalog = open_catalog(home)
    tables = {"staging.events__app_events", "staging.events__app_events_quarantine", "audit.event_compaction",
              "audit.runs"}
    return engine.connect(catalog, tables).execute(query).fetchall()


def test_compacted_events_match_truth_and_postgres(day_of_events, events_defn, home, marketplace_db):
    truth = day_of_events
    first = runner.run(events_defn, home, end=NOON, triggered_by="test")
    assert first.ok, first.failed()
    loaded = {r[0] for r in _rows(home, "SELECT event_id FROM staging.events__app_events")}
    assert loaded == set(truth.loaded_by(NOON))
    second = runner.run(events_defn, home, end=LAST, triggered_by="test")
    assert second.ok, second.failed()
    assert second.results["extract:events.app_events"].outcome.details["files_already_processed"] > 0

    rows = _rows(home, """SELECT event_id, event_type, occurred_at, user_id, order_id, amount, currency,
                                 utm_campaign, event_date, event_hour FROM staging.events__app_events""")
    by_id = {r[0]: r for r in rows}
    assert len(rows) == len(by_id) == len(truth.events)
    assert set(by_id) == set(truth.events)
    for event_id, event in truth.events.items():
        row = by_id[event_id]
        occurred = datetime.fromisoformat(event["occurred_at"])
        assert (row[1], row[2], row[3]) == (event["event_type"], occurred, event["user_id"])
        assert (row[8], row[9]) == (occurred.date(), occurred.hour)  # its own partition, however late

    late = [e for e, arrival in truth.arrival.items()
            if arrival > datetime.fromisoformat(truth.events[e]["occurred_at"]).replace(minute=0, second=0,
                                                                                          microsecond=0)]
    assert late and all(e in by_id for e in late)

    with psycopg.connect(marketplace_db) as conn:  # purchases are the day's orders, as PostgreSQL has them
        orders = conn.execute("SELECT id, user_id, total_amount, currency FROM orders WHERE created_at >= %s "
                              "AND created_at < %s", (DAY_START, DAY_END)).fetchall()
        users = {u for (u,) in conn.execute("SELECT id FROM users")}
    purchases = {(r[4], r[3], r[5], r[6]) for r in rows if r[1] == "purchase"}
    assert purchases == {(o, u, Decimal(t), c) for o, u, t, c in orders}
    assert {r[3] for r in rows if r[3] is not None} <= users

    audit = _rows(home, """SELECT sum(lines_read), sum(rows_loaded), sum(duplicates_collapsed),
                                  sum(lines_quarantined), sum(already_loaded), bool_and(reconciled)
                           FROM audit.event_compaction""")[0]
    lines, loaded_rows, collapsed, quarantined, already, reconciled = audit
    assert lines == truth.lines and quarantined == truth.malformed and reconciled
    assert lines == loaded_rows + collapsed + quarantined
    assert loaded_rows - already == len(truth.events) and collapsed + already == truth.duplicates
    assert _rows(home, "SELECT count(*) FROM staging.events__app_events_quarantine")[0][0] == truth.malformed
    details = [json.loads(d) for (d,) in _rows(
        home, "SELECT details FROM audit.runs WHERE step = 'stage:events.app_events'")]
    assert sum(d["lines_read"] for d in details) == truth.lines


def test_rerunning_any_window_changes_nothing(day_of_events, events_defn, home):
    windows = [(None, NOON), (None, DAY_END), (None, LAST)]
    for start, end in windows:
        assert runner.run(events_defn, home, start=start, end=end, triggered_by="test").ok
    before = warehouse_fingerprint(home)
    table = load_table(open_catalog(home), "staging.events__app_events")
    assert before["staging.events__app_events"][0] == len(day_of_events.events)
    snapshot = table.current_snapshot().snapshot_id
    first_start = datetime(2000, 1, 1, tzinfo=UTC)
    for start, end, reextract in [(first_start, NOON, False), (NOON - timedelta(hours=6), DAY_END, True),
                                  (DAY_START + timedelta(hours=3), DAY_START + timedelta(hours=9), True)]:
        assert runner.run(events_defn, home, start=start, end=end, reextract=reextract, triggered_by="test").ok
        assert warehouse_fingerprint(home) == before
    assert load_table(open_catalog(home), "staging.events__app_events").current_snapshot().snapshot_id == snapshot

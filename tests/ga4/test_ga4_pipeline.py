"""GA4 export files -> staging.ga4__events through the real runner: a day is loaded from its intraday table,
then from its daily table while both exist, then again as late events arrive; its final counts equal the
generator's truth, and rerunning any window changes nothing."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from lakeward import flatten, runner, sql
from lakeward.definition import DefinitionError
from lakeward.demo import ga4_export
from lakeward.demo.campaigns import CAMPAIGNS
from lakeward.demo.ga4_world import HOUR, Ga4World, app_users
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from tests.conftest import warehouse_fingerprint, write_definition

DAY_D = datetime(2026, 10, 2, tzinfo=UTC)
STAGING = "staging.ga4__events"


def _advance(world: Ga4World, users, clock: datetime, until: datetime) -> datetime:
    while clock < until:
        world.hour(users, clock)
        clock += HOUR
        world.export(clock)
    return clock


def _staged_counts(home, day) -> Counter:
    rows = engine.query(open_catalog(home), f"SELECT event_name, count(*) AS n FROM {STAGING} "
                                            f"WHERE event_date = DATE '{day:%Y-%m-%d}' GROUP BY event_name")
    return Counter(dict(zip(rows.column("event_name").to_pylist(), rows.column("n").to_pylist(), strict=True)))


def _run(defn, home, end: datetime, start: datetime | None = None) -> runner.RunResult:
    result = runner.run(defn, home, start=start, end=end, now=end, triggered_by="test")
    assert result.ok, [r.error for r in result.failed()]
    return result


def test_intraday_then_daily_then_late_events_match_truth_and_reruns_change_nothing(
        marketplace_db, home, ga4_root, ga4_defn):
    world = Ga4World(ga4_root, seed=5, scale=0.1)
    users = app_users(marketplace_db, DAY_D)
    clock = _advance(world, users, DAY_D - timedelta(days=1), DAY_D + timedelta(hours=12))
    d, tables = DAY_D.date(), ga4_root / ga4_export.DATASET
    windows, late_seen = [], []
    # D at noon (intraday only); D+1 07:00 (daily and intraday both exist); then late events on D+2, D+3, D+4.
    for end in (DAY_D + timedelta(hours=12), DAY_D + timedelta(days=1, hours=7), DAY_D + timedelta(days=2, hours=7),
                DAY_D + timedelta(days=3, hours=7), DAY_D + timedelta(days=4, hours=7)):
        clock = _advance(world, users, clock, end)
        if end.hour == 12:
            assert (tables / "events_intraday_20261002").is_dir() and not (tables / "events_20261002").exists()
        if end.day == 3:
            assert (tables / "events_intraday_20261002").is_dir() and (tables / "events_20261002").is_dir()
        result = _run(ga4_defn, home, end)
        windows.append(result.results["extract:ga4.events"].outcome.window)
        expected = world.counts(d, as_of=end)
        assert _staged_counts(home, d) == expected
        late_seen.append(sum(expected.values()))
    assert late_seen == sorted(late_seen) and len(set(late_seen[1:])) > 1, "late events must reach the daily table"
    truth = world.counts(d)
    assert _staged_counts(home, d) == truth and sum(truth.values()) == late_seen[-1]
    assert _staged_counts(home, d - timedelta(days=1)) == world.counts(d - timedelta(days=1))
    assert _staged_counts(home, d + timedelta(days=1)) == world.counts(d + timedelta(days=1), as_of=end)

    before = warehouse_fingerprint(home)
    for window in [windows[-1], *windows]:  # the latest window again, then every earlier one
        _run(ga4_defn, home, window.end, start=window.start)
        assert warehouse_fingerprint(home) == before, f"rerun of {window} changed the warehouse"


def test_staging_types_sessions_campaigns_and_app_users(marketplace_db, home, ga4_root, ga4_defn):
    world = Ga4World(ga4_root, seed=9, scale=0.1)
    _advance(world, app_users(marketplace_db, DAY_D), DAY_D, DAY_D + timedelta(hours=20))
    _run(ga4_defn, home, DAY_D + timedelta(hours=20))
    catalog = open_catalog(home)
    rows = engine.query(catalog, f"SELECT * FROM {STAGING}").to_pylist()
    assert len(rows) == sum(world.counts(DAY_D.date(), DAY_D + timedelta(hours=20)).values()) > 0
    assert len({r["event_key"] for r in rows}) == len(rows)
    for row in rows:
        record = json.loads(row["record"])
        assert (record["event_name"], record["event_timestamp"]) == (row["event_name"], row["event_timestamp"])
        params = {p["key"]: p["value"] for p in record["event_params"]}
        assert row["event_params__ga_session_id"] == params["ga_session_id"]["int_value"]
        assert row["session_key"] == f"{row['user_pseudo_id']}.{params['ga_session_id']['int_value']}"
        assert row["event_params__page_location"] == (params.get("page_location") or {}).get("string_value")
        assert row["event_time"] == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=row["event_timestamp"])
    campaigns = {c.utm_campaign for c in CAMPAIGNS} | {"(organic)", "(direct)"}
    assert {r["session__campaign"] for r in rows} <= campaigns
    assert any(r["session__campaign"] in {c.utm_campaign for c in CAMPAIGNS} for r in rows)
    purchases = [r for r in rows if r["event_name"] == "purchase"]
    assert all(r["ecommerce__transaction_id"] == r["event_params__transaction_id"] for r in purchases)
    app_ids = {r["app_user_id"] for r in rows if r["app_user_id"] is not None}
    assert app_ids, "logged-in sessions carry the app user id"
    with psycopg.connect(marketplace_db) as conn:
        known = {r[0] for r in conn.execute("SELECT id FROM users WHERE id = ANY(%s)", (sorted(app_ids),))}
    assert known == app_ids


def test_a_row_outside_its_files_day_fails_the_batch_by_file(marketplace_db, home, ga4_root, ga4_defn):
    world = Ga4World(ga4_root, seed=3, scale=0.1)
    _advance(world, app_users(marketplace_db, DAY_D), DAY_D, DAY_D + timedelta(hours=3))
    rows = [r for events in world.pending.values() for r in (e.row for e in events)]
    rows[0] = rows[0] | {"event_date": "20261005"}
    ga4_export.write_table(ga4_root, DAY_D.date(), intraday=True, rows=rows)
    result = runner.run(ga4_defn, home, end=DAY_D + timedelta(hours=3), now=DAY_D + timedelta(hours=3))
    error = result.results["stage:ga4.events"].error
    assert "events_intraday_20261002/000000000000.parquet" in error and "2026-10-05" in error
    assert open_catalog(home).list_tables("staging") == []


def _with_flatten(folder, column: str, key: str, kind: str):
    def add_key(raw: dict) -> None:
        raw.pop("marts", None)
        raw["sources"]["ga4"]["objects"]["events"]["flatten"].setdefault(column, {})[key] = kind

    return write_definition(folder, add_key, sources=("ga4",))


def test_a_flattened_key_added_to_the_definition_becomes_a_column(tmp_path):
    spec = _with_flatten(tmp_path, "event_params", "entrances", "int64").sources["ga4"].objects["events"]
    query = flatten.add_columns(sql.read(Path(spec.staging_sql)), spec.flatten)
    assert "event_params__entrances" in query.named_selects


def test_flatten_of_a_column_not_declared_json_names_the_key(tmp_path):
    with pytest.raises(DefinitionError, match=r"pipeline\.yaml:\d+: sources\.ga4\.objects\.events\.flatten: .*"
                                              r"'event_name' must be a column declared in `columns` with type json"):
        _with_flatten(tmp_path, "event_name", "x", "string")


def test_a_window_without_files_changes_nothing(marketplace_db, home, ga4_root, ga4_defn):
    world = Ga4World(ga4_root, seed=4, scale=0.1)
    _advance(world, app_users(marketplace_db, DAY_D), DAY_D, DAY_D + timedelta(hours=4))
    _run(ga4_defn, home, DAY_D + timedelta(hours=4))
    before = warehouse_fingerprint(home)
    assert before[STAGING][0] == sum(world.counts(DAY_D.date(), DAY_D + timedelta(hours=4)).values()) > 0
    result = _run(ga4_defn, home, DAY_D + timedelta(days=11), start=DAY_D + timedelta(days=10))
    assert result.results["stage:ga4.events"].outcome.rows_in == 0
    assert warehouse_fingerprint(home) == before

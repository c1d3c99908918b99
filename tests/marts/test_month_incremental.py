"""A simulated month of the demo company: every partitioned mart, built run after run from changed partitions,
equals its full rebuild, with late app and GA4 events, refunds weeks after their charge and hard deletes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg

from lakeward import materialize, runner
from lakeward.demo.company import Company, PostgresSystem
from lakeward.demo.events_world import ROOT_VARIABLE as EVENTS_ROOT
from lakeward.demo.events_world import EventsSystem, write_hours
from lakeward.demo.ga4_world import ROOT_VARIABLE as GA4_ROOT
from lakeward.demo.ga4_world import Ga4System
from lakeward.demo.stripe_world import SECRET_VARIABLE as STRIPE_SECRET
from lakeward.demo.stripe_world import StripeSystem
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from lakeward.recovery.reconcile import reconcile
from tests.conftest import write_definition

START = datetime(2026, 9, 1, tzinfo=UTC)
HISTORY_DAYS, STEP_DAYS, STEPS = 24, 3, 2  # 24 days of history, then two 3-day steps: 30 days
SOURCES = ("postgres", "stripe", "ga4", "events")
EVENTS = {"app_events": "SELECT event_id, occurred_at FROM staging.events__app_events",
          "ga4": "SELECT event_key, event_time FROM staging.ga4__events"}


def month_definition(folder):
    def edit(raw: dict) -> None:
        raw["marts"] = {n: m for n, m in raw["marts"].items() if m.get("materialization") == "partitions"}
    return write_definition(folder, edit, sources=SOURCES)


def late_refund(dsn: str, at: datetime) -> tuple[int, datetime]:
    """A refund of a Stripe payment taken at least three weeks before `at`, issued at `at`."""
    with psycopg.connect(dsn) as conn:
        return conn.execute("""
            INSERT INTO refunds (id, payment_id, order_id, amount, currency, reason, status, created_at, updated_at)
            SELECT (SELECT max(id) + 1 FROM refunds), p.id, p.order_id, 1.00, p.currency, 'damaged',
                   'succeeded', %(at)s, %(at)s
            FROM payments p WHERE p.status = 'succeeded' AND p.provider = 'stripe' AND p.amount > 1
              AND p.created_at < %(at)s - interval '21 days'
              AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.payment_id = p.id)
            ORDER BY p.id LIMIT 1
            RETURNING id, (SELECT created_at FROM payments WHERE id = payment_id)""", {"at": at}).fetchone()


def offline_sync(root, arrival: datetime, occurred: datetime) -> str:
    """A phone that was offline for a week sends its queued event: it arrives now, dated days ago, from a user
    seen nowhere else (so the 30-day active users of every later day grow by one, beyond other late data)."""
    event = {"event_id": "offline-sync-0001", "event_type": "app_open",
             "occurred_at": f"{occurred:%Y-%m-%dT%H:%M:%S}.000Z",
             "user_id": 9_000_001, "anonymous_id": None, "session_id": "offline-session-0001", "page_url": None,
             "properties": {}, "device": {"platform": "ios"}}
    write_hours(root, {arrival: [json.dumps(event).encode()]}, tag="offline")
    return event["event_id"]


def hard_delete(dsn: str) -> list[tuple[str, int]]:
    """An erasure on the source: the oldest succeeded refund and a payment of an order paid twice go."""
    with psycopg.connect(dsn) as conn:
        refund = conn.execute("SELECT min(id) FROM refunds WHERE status = 'succeeded'").fetchone()[0]
        conn.execute("DELETE FROM refunds WHERE id = %s", (refund,))
        payment = conn.execute("""SELECT min(p.id) FROM payments p WHERE p.status = 'failed'
                                  AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.payment_id = p.id)""").fetchone()[0]
        conn.execute("DELETE FROM payments WHERE id = %s", (payment,))
    return [("refunds", refund), ("payments", payment)]


def test_a_month_of_partition_rebuilds_equals_a_full_rebuild(pg_dsn, tmp_path, monkeypatch, home):
    for variable in (EVENTS_ROOT, GA4_ROOT, STRIPE_SECRET):  # restored after the test; the systems set them
        monkeypatch.setenv(variable, "")
    monkeypatch.setenv(EVENTS_ROOT, str(tmp_path / "events"))
    defn = month_definition(tmp_path)
    partitioned = sorted(defn.marts)
    assert {"daily_revenue", "stripe_revenue", "revenue_reconciliation", "funnel", "customer_activity",
            "fct_orders", "fct_refunds"} <= set(partitioned)
    company = Company(seed=5, scale=0.03, home=home)
    systems = [PostgresSystem(), StripeSystem(), Ga4System(), EventsSystem()]
    modes: dict[str, list[str]] = {m: [] for m in partitioned}
    rebuilt: dict[str, set[str]] = {m: set() for m in partitioned}
    live = START + timedelta(days=HISTORY_DAYS)
    try:
        for system in systems:
            system.start(company)
            company.systems[system.name] = system
        for system in systems:
            system.generate_history(company, START, live)
        first = runner.run(defn, home, end=live, now=live, triggered_by="test")
        assert first.ok, [r.error for r in first.failed()]
        seen = {source: loaded(home, text) for source, text in EVENTS.items()}
        late: dict[str, int] = {source: 0 for source in EVENTS}
        previous_end = live
        for step in range(STEPS):
            step_start = live + timedelta(days=STEP_DAYS * step)
            for hour in range(24 * STEP_DAYS):
                at = step_start + timedelta(hours=hour)
                if step == 0 and hour == 5:  # before the hour runs, so Stripe mirrors it too
                    refund_id, charged = late_refund(pg_dsn, at + timedelta(minutes=30))
                for system in systems:
                    system.simulate_hour(company, at)
                if step == 1 and hour == 2:
                    offline = offline_sync(tmp_path / "events", at, live - timedelta(days=5, hours=-9))
            end = step_start + timedelta(days=STEP_DAYS)
            if step == 1:  # hard deletes reach staging through the daily reconciliation, then the marts
                deleted = hard_delete(pg_dsn)
                report = reconcile(defn, home, sources={"postgres"}, now=end)
                assert {d["kind"] for o in report.objects for d in o.differences} >= {"deleted_in_source"}
                assert set(report.marts_rebuilt) >= {"mart:daily_revenue", "mart:fct_refunds"}
            result = runner.run(defn, home, end=end, now=end, triggered_by="test")
            assert result.ok, [r.error for r in result.failed()]
            for m in partitioned:
                details = result.results[f"mart:{m}"].outcome.details
                modes[m].append(details["mode"])
                rebuilt[m] |= set(details.get("partitions") or ())
            for source, text in EVENTS.items():  # loaded now, but it happened before the previous run's end
                now_loaded = loaded(home, text)
                late[source] += sum(1 for k, t in now_loaded.items() if k not in seen[source] and t < previous_end)
                seen[source] = now_loaded
            previous_end = end
    finally:
        for system in systems:
            system.stop()
    assert charged < live - timedelta(days=20)  # the late refund came weeks after its charge
    assert all(late.values()), late
    assert offline in seen["app_events"] and seen["app_events"][offline] < live  # a week late
    for m in partitioned:  # each mart was rebuilt by partitions at least once, never needing the whole table
        assert "partitions" in modes[m] and "full" not in modes[m], (m, modes[m])
    catalog = open_catalog(home)
    incremental = {m: mart_rows(catalog, defn, m) for m in partitioned}
    for m in partitioned:
        assert materialize.build(defn, catalog, m, run_id="full-check", full=True).mode == "full"
    for m in partitioned:
        full = mart_rows(catalog, defn, m)
        assert full, m
        assert incremental[m] == full, m
    refunds = {r["refund_id"] for r in incremental["fct_refunds"]}
    assert refund_id in refunds and deleted[0][1] not in refunds
    days = HISTORY_DAYS + STEP_DAYS * STEPS
    assert all(len(rebuilt[m]) < days for m in ("daily_revenue", "fct_orders", "stripe_revenue", "funnel")), rebuilt


def mart_rows(catalog, defn, mart: str) -> list[dict]:
    """Every row of the mart, in key order."""
    rows = catalog.load_table(f"marts.{mart}").scan().to_arrow().to_pylist()
    return sorted(rows, key=lambda r: tuple(str(r[k]) for k in defn.marts[mart].key))


def loaded(home, text: str) -> dict:
    """Event key -> event time of every staged event."""
    keys, times = engine.query(open_catalog(home), text).to_pydict().values()
    return dict(zip(keys, times, strict=True))

"""The demo's app-event System: history then live hours next to the marketplace, loaded hour by hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from lakeward import runner
from lakeward.demo import marketplace
from lakeward.demo.company import Company
from lakeward.demo.events_world import EventsSystem
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog

LIVE = datetime(2026, 10, 1, tzinfo=UTC)


def test_history_and_live_hours_load_as_generated(marketplace_db, events_root, events_defn, home):
    company = Company(seed=11, scale=0.1, home=home)
    system = EventsSystem()
    system.start(company)
    history = system.generate_history(company, LIVE - timedelta(days=2), LIVE)
    assert history["events"] > 0 and history["lines"] >= history["events"]
    for hour in range(3):
        at = LIVE + timedelta(hours=hour)
        with psycopg.connect(marketplace_db) as conn:
            marketplace.simulate_hour(conn, seed=11, scale=0.1, hour_start=at)
        system.simulate_hour(company, at)
        result = runner.run(events_defn, home, end=at + timedelta(hours=1), triggered_by="test")
        assert result.ok, result.failed()
        con = engine.connect(open_catalog(home), ["staging.events__app_events"])
        loaded = {r[0] for r in con.execute("SELECT event_id FROM staging.events__app_events").fetchall()}
        assert loaded == set(system.truth.loaded_by(at + timedelta(hours=1)))
    with psycopg.connect(marketplace_db) as conn:  # every live hour's orders were purchased in the app
        orders = {o: t for o, t in conn.execute("SELECT id, created_at FROM orders")}
    live_orders = {o for o, t in orders.items() if t >= LIVE}
    purchases = {e["properties"]["order_id"] for e in system.truth.events.values() if e["event_type"] == "purchase"}
    assert live_orders and live_orders <= purchases
    staged = {o: t for o, t in con.execute(
        "SELECT order_id, occurred_at FROM staging.events__app_events WHERE event_type = 'purchase'").fetchall()}
    # at the moment PostgreSQL has, to the millisecond the app logs
    assert staged and all(orders[o].replace(microsecond=orders[o].microsecond // 1000 * 1000) == t
                          for o, t in staged.items())

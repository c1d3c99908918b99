"""The funnel mart from GA4 export files and app-event files, against both generators' own events."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import psycopg

from lakeward import runner
from lakeward.demo import events_world, ga4_world
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from tests.conftest import write_definition

DAY = datetime(2026, 9, 29, tzinfo=UTC)
AS_OF = DAY + timedelta(days=3, hours=23)  # inside GA4's 72-hour late window, so its events are still known
GA4_STEPS = {"view_item": "product_view", "add_to_cart": "add_to_cart", "begin_checkout": "checkout_started",
             "purchase": "purchase"}
APP_STEPS = {"product_view", "add_to_cart", "checkout_started", "purchase"}


def funnel_rows(sessions: dict[tuple, dict]) -> Counter:
    """(day, source, channel, device) -> (sessions, viewed, carted, checked out, purchased)."""
    out: dict[tuple, list[int]] = defaultdict(lambda: [0] * 5)
    for (source, _), s in sessions.items():
        first = min(s["events"])
        media = [m for _, m, _ in sorted(s["events"]) if m is not None]
        key = (first[0].date(), source, media[0] if media else "(none)", first[2] or "unknown")
        row = out[key]
        row[0] += 1
        for i, step in enumerate(("product_view", "add_to_cart", "checkout_started", "purchase"), 1):
            row[i] += step in s["steps"]
    return {k: tuple(v) for k, v in out.items()}


def test_funnel_equals_both_generators(marketplace_db, tmp_path, monkeypatch, home):
    events_root, ga4_root = tmp_path / "events", tmp_path / "ga4"
    events_root.mkdir()
    ga4_root.mkdir()
    monkeypatch.setenv(events_world.ROOT_VARIABLE, str(events_root))
    monkeypatch.setenv(ga4_world.ROOT_VARIABLE, str(ga4_root))
    with psycopg.connect(marketplace_db) as conn:
        activity = events_world.read_activity(conn, DAY, DAY + timedelta(days=1))
    truth = events_world.generate(events_root, activity, seed=5, scale=0.3, start=DAY, end=DAY + timedelta(days=1))
    web = ga4_world.Ga4World(ga4_root, seed=5, scale=0.1)
    users = ga4_world.app_users(marketplace_db, DAY)
    for hour in range(24):
        web.hour(users, DAY + timedelta(hours=hour))
    web.export(AS_OF)
    defn = write_definition(tmp_path, sources=("events", "ga4"))
    assert "funnel" in defn.marts and "fct_orders" not in defn.marts
    result = runner.run(defn, home, end=AS_OF, now=AS_OF, triggered_by="test")
    assert result.ok, [r.error for r in result.failed()]

    sessions: dict[tuple, dict] = defaultdict(lambda: {"events": [], "steps": set()})
    for event in truth.events.values():
        s = sessions[("app_events", event["session_id"])]
        s["events"].append((datetime.fromisoformat(event["occurred_at"]),
                            event["properties"].get("utm_medium"), event["device"]["platform"]))
        if event["event_type"] in APP_STEPS:
            s["steps"].add(event["event_type"])
    for day_events in web.pending.values():
        for event in (e for e in day_events if e.arrival <= AS_OF):
            row = event.row
            params = {p["key"]: p["value"] for p in row["event_params"]}
            s = sessions[("ga4", f"{row['user_pseudo_id']}.{params['ga_session_id']['int_value']}")]
            s["events"].append((datetime.fromtimestamp(row["event_timestamp"] / 1e6, UTC),
                                row["session_traffic_source_last_click"]["manual_campaign"]["medium"],
                                row["device"]["category"]))
            if row["event_name"] in GA4_STEPS:
                s["steps"].add(GA4_STEPS[row["event_name"]])
    expected = funnel_rows(sessions)
    got = engine.query(open_catalog(home), """SELECT session_date, source, channel, device, sessions,
        product_view_sessions, add_to_cart_sessions, checkout_sessions, purchase_sessions, conversion_rate
        FROM marts.funnel""").to_pylist()
    assert {tuple(r.values())[:4]: tuple(r.values())[4:9] for r in got} == expected
    assert {k[1] for k in expected} == {"ga4", "app_events"}
    for source in ("ga4", "app_events"):
        assert sum(v[4] for k, v in expected.items() if k[1] == source) > 0, f"no {source} purchase to count"
    assert all(abs(r["conversion_rate"] - r["purchase_sessions"] / r["sessions"]) < 1e-12 for r in got)

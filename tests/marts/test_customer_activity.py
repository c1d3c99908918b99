"""customer_activity against the app-event and GA4 generators' own events, counted here in Python."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from tests.marts.campaign_world import campaign_world  # noqa: F401  (fixture)
from tests.salesforce.conftest import salesforce  # noqa: F401  (fixture)


def events(world) -> list[tuple]:
    """(source, UTC day, app user id or None, session id) of every event either generator made known."""
    out = [("app_events", datetime.fromisoformat(e["occurred_at"]).astimezone(UTC).date(), e["user_id"],
            e["session_id"]) for e in world.app_events]
    for row in world.ga4_rows:
        params = {p["key"]: p["value"] for p in row["event_params"]}
        out.append(("ga4", datetime.fromtimestamp(row["event_timestamp"] / 1e6, UTC).date(),
                    int(row["user_id"]) if row["user_id"] is not None else None,
                    f"ga4:{row['user_pseudo_id']}.{params['ga_session_id']['int_value']}"))
    return out


def test_activity_equals_both_generators(campaign_world):  # noqa: F811
    by_day: dict[tuple, list] = defaultdict(list)
    for source, day, user, session in events(campaign_world):
        by_day[(day, source)].append((user, session))
        by_day[(day, "all")].append((user, session))
    expected = {}
    for (day, source), rows in by_day.items():
        users = {u for u, _ in rows if u is not None}
        month = {u for (d, s), rs in by_day.items() if s == source and day - timedelta(days=29) <= d <= day
                 for u, _ in rs if u is not None}
        identified = sum(u is not None for u, _ in rows)
        expected[(day, source)] = (len(users), len(month), len({s for _, s in rows}), len(rows),
                                   identified / len(users) if users else None)
    got = engine.query(open_catalog(campaign_world.home), """SELECT activity_date, source, daily_active_users,
        monthly_active_users, sessions, events, events_per_active_user FROM marts.customer_activity""").to_pylist()
    got_rows = {tuple(r.values())[:2]: tuple(r.values())[2:] for r in got}
    assert got_rows.keys() == expected.keys()
    for key, want in expected.items():
        have = got_rows[key]
        assert have[:4] == want[:4], key
        assert (have[4] is None) == (want[4] is None) and (want[4] is None or abs(have[4] - want[4]) < 1e-9), key
    assert any(v[0] > 0 and v[1] > v[0] for k, v in expected.items() if k[1] == "all"), "MAU never exceeds DAU"

"""marketing_attribution against the marketplace database, the app-event generator and the Salesforce org.

Orders and payments are read with PostgreSQL SQL, touches from the generator's events, won deals from the
org's records; credit is assigned here in Python by the rules in docs/metrics.md, never by the mart SQL.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import psycopg

from lakeward.demo.campaigns import CAMPAIGNS
from lakeward.headline import headline
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from tests.marts.campaign_world import AS_OF, DELETED_CAMPAIGN, campaign_world  # noqa: F401  (fixture)
from tests.salesforce.conftest import salesforce  # noqa: F401  (fixture)

LOOKBACK = timedelta(days=30)  # the constant documented in sql/marts/marketing_attribution.sql
MODELS = ("first_touch", "last_touch", "linear")
PAID = """SELECT o.id, o.user_id, o.created_at, upper(o.currency), round(sum(p.amount) * 100)::bigint
          FROM orders o JOIN payments p ON p.order_id = o.id AND p.status = 'succeeded'
          GROUP BY o.id ORDER BY o.id"""


def touches_by_user(events: list[dict], ga4_rows: list[dict]) -> dict[int, list[tuple]]:
    """user -> [(first campaign time, session id, utm campaign, utm medium)], one per app or GA4 session
    with a campaign."""
    sessions: dict[str, dict] = defaultdict(lambda: {"user": None, "touch": None})
    for e in events:
        s = sessions[e["session_id"]]
        if e["user_id"] is not None:
            s["user"] = max(s["user"] or 0, e["user_id"])
        at = datetime.fromisoformat(e["occurred_at"])
        if e["properties"].get("utm_campaign") and (s["touch"] is None or at < s["touch"][0]):
            s["touch"] = (at, e["session_id"], e["properties"]["utm_campaign"], e["properties"].get("utm_medium"))
    for row in ga4_rows:
        manual = row["session_traffic_source_last_click"]["manual_campaign"]
        if manual["campaign_id"] is None:
            continue
        params = {p["key"]: p["value"] for p in row["event_params"]}
        key = f"ga4:{row['user_pseudo_id']}.{params['ga_session_id']['int_value']}"
        s = sessions[key]
        if row["user_id"] is not None:
            s["user"] = max(s["user"] or 0, int(row["user_id"]))
        at = datetime.fromtimestamp(row["event_timestamp"] / 1e6, UTC)
        if s["touch"] is None or at < s["touch"][0]:
            s["touch"] = (at, key, manual["campaign_name"], manual["medium"])
    out: dict[int, list[tuple]] = defaultdict(list)
    for s in sessions.values():
        if s["user"] is not None and s["touch"] is not None:
            out[s["user"]].append(s["touch"])
    return out


def expected(dsn: str, world) -> dict[tuple, list[int]]:
    touches = touches_by_user(world.app_events, world.ga4_rows)
    out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])

    def credit(model, kind, campaign, channel, currency, amount):
        out[(model, kind, campaign, channel, currency)][0] += amount
        out[(model, kind, campaign, channel, currency)][1] += 1

    with psycopg.connect(dsn) as conn:
        paid = conn.execute(PAID).fetchall()
    for _, user, created, currency, amount in paid:
        mine = sorted(t for t in touches.get(user, []) if created - LOOKBACK <= t[0] <= created)
        if not mine:
            for model in MODELS:
                credit(model, "order", "(none)", "(none)", currency, amount)
            continue
        credit("first_touch", "order", mine[0][2], mine[0][3], currency, amount)
        credit("last_touch", "order", mine[-1][2], mine[-1][3], currency, amount)
        n = len(mine)
        for i, (_, _, campaign, channel) in enumerate(mine, 1):
            credit("linear", "order", campaign, channel, currency, amount * i // n - amount * (i - 1) // n)
    campaigns = {c.salesforce_id: c for c in CAMPAIGNS if c != DELETED_CAMPAIGN}
    for opp in world.salesforce.org.rows("Opportunity"):
        if opp.get("IsWon") and not opp.get("IsDeleted"):
            c = campaigns.get(opp.get("CampaignId"))
            for model in MODELS:
                credit(model, "opportunity", c.utm_campaign if c else "(none)", c.utm_medium if c else "(none)",
                       opp["CurrencyIsoCode"].upper(), int(opp["Amount"] * 100))
    return {k: tuple(v) for k, v in out.items()}


def test_attribution_credits_orders_and_won_deals(marketplace_db, campaign_world):  # noqa: F811
    truth = expected(marketplace_db, campaign_world)
    got = engine.query(open_catalog(campaign_world.home), """SELECT model, conversion_type, campaign_key, channel,
        currency, credited_minor, credited_touches FROM marts.marketing_attribution""").to_pylist()
    assert {tuple(r.values())[:5]: tuple(r.values())[5:] for r in got} == truth
    totals = {m: sum(v[0] for k, v in truth.items() if k[0] == m) for m in MODELS}
    assert len(set(totals.values())) == 1, totals  # every model hands out all the revenue, to the cent
    assert any(k[1] == "order" and k[2] != "(none)" for k in truth), "no order had a campaign touch"
    assert any(k[1] == "opportunity" for k in truth), "no won opportunity to credit"
    first, linear = ({k[2:]: v[0] for k, v in truth.items() if k[0] == m and k[1] == "order"}
                     for m in ("first_touch", "linear"))
    assert first != linear, "no order with several touches: linear is not exercised"
    per_campaign: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (model, kind, campaign, _, currency), (amount, _) in truth.items():
        if model == "linear" and kind == "order" and campaign != "(none)":
            per_campaign[currency][campaign] += amount
    top = {cur: max(c.items(), key=lambda kv: kv[1]) for cur, c in per_campaign.items()}
    catalog = open_catalog(campaign_world.home)
    kpis = {k.mart: k.values for k in headline(campaign_world.definition, catalog, AS_OF.date())}
    got_top = kpis["marketing_attribution"]
    assert got_top.keys() == top.keys()
    for currency, (campaign, amount) in top.items():  # a tie may name either campaign, never a lower one
        assert per_campaign[currency][got_top[currency]] == amount, (currency, got_top[currency], campaign)

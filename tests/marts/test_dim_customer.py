"""dim_customer and customer_360 from PostgreSQL, Stripe, Salesforce, app events and GA4, against the systems'
own records.

Expected rows come from the marketplace database, the Stripe account's true customers and subscriptions, the
Salesforce org's true records and the event generators' events, matched in Python by the rules in
docs/metrics.md, never from the mart SQL. One Account is deleted and one is added for a company the app does not
know, so partial matches are exercised.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from lakeward.demo import events_world, ga4_world, salesforce_world
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from tests.conftest import write_definition
from tests.marts.test_funnel import AS_OF, DAY
from tests.salesforce.conftest import salesforce  # noqa: F401  (fixture)
from tests.stripe.conftest import OCT1, run, start_account

ORPHAN = "001Dn0000ORPHAN0AAA"


@pytest.fixture
def systems(marketplace_db, monkeypatch, tmp_path, home, salesforce):  # noqa: F811
    """The five sources loaded at AS_OF; yields (Stripe account, Salesforce, app events, GA4 rows, customers)."""
    account = start_account(marketplace_db, monkeypatch)
    try:
        customers = salesforce_world.customers(marketplace_db, OCT1)
        salesforce.world.generate(customers, OCT1 - timedelta(hours=30), OCT1)
        org = salesforce.org
        org.change("Account", salesforce_world.salesforce_account_id(customers[0][0]), OCT1 - timedelta(minutes=30),
                   IsDeleted=True)
        deal = next(o for o in org.rows("Opportunity") if not o["IsClosed"] and not o.get("IsDeleted"))
        org.change("Opportunity", deal["Id"], OCT1 - timedelta(minutes=10), StageName="Closed Won", IsClosed=True,
                   IsWon=True, Probability=100)  # a deal closes: the day's generation may not win one
        org.put("Account", salesforce.world.new_record("Account", OCT1 - timedelta(minutes=20)) | {
            "Id": ORPHAN, "Name": "Wholesale Prospect Ltd", "Type": "Prospect", "CurrencyIsoCode": "USD"})
        for name, variable in (("events", events_world.ROOT_VARIABLE), ("ga4", ga4_world.ROOT_VARIABLE)):
            (tmp_path / name).mkdir()
            monkeypatch.setenv(variable, str(tmp_path / name))
        with psycopg.connect(marketplace_db) as conn:
            activity = events_world.read_activity(conn, DAY, DAY + timedelta(days=1))
        app = events_world.generate(tmp_path / "events", activity, seed=5, scale=0.3, start=DAY,
                                    end=DAY + timedelta(days=1))
        web = ga4_world.Ga4World(tmp_path / "ga4", seed=5, scale=0.1)
        users = ga4_world.app_users(marketplace_db, DAY)
        for hour in range(24):
            web.hour(users, DAY + timedelta(hours=hour))
        web.export(AS_OF)

        def edit(raw: dict) -> None:
            raw["sources"]["stripe"]["initial_start"] = "2026-08-01T00:00:00Z"
            raw["sources"]["stripe"]["retry"] = {"attempts": 8, "base_delay": 0.05, "max_delay": 1}
            raw["sources"]["salesforce"]["retry"] = {"attempts": 8, "base_delay": 0.005, "max_delay": 0.05}

        defn = write_definition(tmp_path, edit, sources=("postgres", "stripe", "salesforce", "events", "ga4"))
        assert {"dim_customer", "customer_360"} <= set(defn.marts)
        result = run(defn, home, AS_OF)
        assert result.ok, [r.error for r in result.failed()]
        ga4_rows = [e.row for rows in web.pending.values() for e in rows if e.arrival <= AS_OF]
        yield account, salesforce, list(app.events.values()), ga4_rows, customers
    finally:
        account.api.stop()


def expected_customers(dsn: str, account, org) -> dict[str, tuple]:
    with psycopg.connect(dsn) as conn:
        users = {uid: channel for uid, channel in conn.execute("SELECT id, signup_channel FROM users").fetchall()}
    stripe = {c["id"]: int(c["metadata"]["app_user_id"]) if c["metadata"].get("app_user_id") else None
              for c in account.world.current("customers").values()}
    user_of_stripe = {cid: uid for cid, uid in stripe.items() if uid is not None}
    contacts: dict[str, tuple] = {}
    for c in org.rows("Contact"):
        if not c.get("IsDeleted") and c.get("AccountId"):
            contacts[c["AccountId"]] = min(contacts.get(c["AccountId"], (c["CreatedDate"], c["Id"])),
                                           (c["CreatedDate"], c["Id"]))
    rows: dict[str, list] = {f"app:{uid}": [uid, None, None, None, channel, True] for uid, channel in users.items()}
    for cid, uid in stripe.items():
        key = f"app:{uid}" if uid in users else f"stripe:{cid}"
        rows.setdefault(key, [None, None, None, None, None, False])[1] = cid
    for a in org.rows("Account"):
        if a.get("IsDeleted"):
            continue
        uid = a.get("App_User_Id__c") or user_of_stripe.get(a.get("Stripe_Customer_Id__c"))
        key = f"app:{int(uid)}" if uid is not None and int(uid) in users else f"salesforce:{a['Id']}"
        row = rows.setdefault(key, [None, None, None, None, None, False])
        row[2], row[3] = a["Id"], contacts.get(a["Id"], (None, None))[1]
    return {k: (v[0], v[1], v[2], v[3], v[4], v[5], v[1] is not None, v[2] is not None) for k, v in rows.items()}


def test_dim_customer_matches_all_three_systems(marketplace_db, systems, home):
    account, sf, _, _, customers = systems
    truth = expected_customers(marketplace_db, account, sf.org)
    got = engine.query(open_catalog(home), """SELECT customer_key, app_user_id, stripe_customer_id,
        salesforce_account_id, salesforce_contact_id, signup_channel, in_app, in_stripe, in_salesforce
        FROM marts.dim_customer""").to_pylist()
    assert len(got) == len({r["customer_key"] for r in got})
    assert {r["customer_key"]: tuple(r.values())[1:] for r in got} == truth
    assert truth[f"salesforce:{ORPHAN}"][2] == ORPHAN
    assert truth[f"app:{customers[0][0]}"][1] is not None and truth[f"app:{customers[0][0]}"][2] is None
    assert sum(v[7] for v in truth.values()) > 5 and sum(not v[6] for v in truth.values()) > 5


def test_customer_360_joins_every_system(marketplace_db, systems, home):
    account, sf, app_events, ga4_rows, _ = systems
    ids = expected_customers(marketplace_db, account, sf.org)
    with psycopg.connect(marketplace_db) as conn:
        orders = {u: (n, first, last) for u, n, first, last in conn.execute(
            "SELECT user_id, count(*), min(created_at), max(created_at) FROM orders GROUP BY user_id")}
    live_subs: dict[str, int] = defaultdict(int)
    for s in account.world.current("subscriptions").values():
        live_subs[s["customer"]] += s["status"] in ("active", "past_due")
    opps: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for o in sf.org.rows("Opportunity"):
        if not o.get("IsDeleted"):
            opps[o["AccountId"]][0] += bool(o["IsWon"])
            opps[o["AccountId"]][1] += not o["IsClosed"]
    seen: dict[int, datetime] = {}
    for user, at in [(e["user_id"], datetime.fromisoformat(e["occurred_at"])) for e in app_events] + [
            (int(r["user_id"]) if r["user_id"] else None, datetime.fromtimestamp(r["event_timestamp"] / 1e6, UTC))
            for r in ga4_rows]:
        if user is not None:
            seen[user] = max(seen.get(user, at), at)
    expected = {key: (*orders.get(v[0], (0, None, None)), live_subs.get(v[1], 0), *opps.get(v[2], [0, 0]),
                      seen.get(v[0])) for key, v in ids.items()}
    got = engine.query(open_catalog(home), """SELECT customer_key, order_count, first_order_at, last_order_at,
        active_subscriptions, won_opportunities, open_opportunities, last_seen_at FROM marts.customer_360""")
    assert {r["customer_key"]: tuple(r.values())[1:] for r in got.to_pylist()} == expected
    for column in (1, 3, 4, 5, 6):
        assert any(v[column] for v in expected.values()), f"column {column} is never exercised"

"""Stripe revenue, reconciliation and MRR marts against the Stripe account's own ground truth.

The account (lakeward/demo/stripe_world.py) is served over real HTTP; expected numbers are computed here in
Python from the account's true objects and the marketplace database, never from the mart SQL.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from tests.conftest import copy_quality_rules, write_definition
from tests.stripe.conftest import OCT1, run, start_account

DAYS = 1


@pytest.fixture
def books(marketplace_db, monkeypatch, tmp_path, home):
    """The marketplace and its Stripe account loaded, then a day more of both."""
    account = start_account(marketplace_db, monkeypatch)

    def edit(raw: dict) -> None:
        raw["sources"]["stripe"]["initial_start"] = "2026-08-01T00:00:00Z"
        raw["sources"]["stripe"]["retry"] = {"attempts": 8, "base_delay": 0.05, "max_delay": 1}

    defn = copy_quality_rules(write_definition(tmp_path, edit, sources=("postgres", "stripe")))
    try:
        assert run(defn, home, OCT1).ok
        for day in range(DAYS):
            start = OCT1 + timedelta(days=day)
            account.advance(start, start + timedelta(days=1))
            result = run(defn, home, start + timedelta(days=1))
            assert result.ok, [r.error for r in result.failed()]
        yield account, open_catalog(home)
    finally:
        account.api.stop()


def day(ts: int):
    return datetime.fromtimestamp(ts, UTC).date()


def expected_revenue(account) -> dict[tuple, tuple]:
    world = account.world
    charges, refunds, disputes = (world.current(r) for r in ("charges", "refunds", "disputes"))
    customers = world.current("customers")
    with psycopg.connect(account.dsn) as conn:
        channel = dict(conn.execute("SELECT id, coalesce(signup_channel, 'unknown') FROM users").fetchall())
    out: dict[tuple, list[int]] = defaultdict(lambda: [0] * 6)
    for txn in world.current("balance_transactions").values():
        category = txn["reporting_category"]
        if category not in ("charge", "refund", "dispute"):
            continue
        charge_id = {"charge": txn["source"], "refund": refunds.get(txn["source"], {}).get("charge"),
                     "dispute": disputes.get(txn["source"], {}).get("charge")}[category]
        charge = charges[charge_id]
        line = "subscription" if charge["invoice"] else "marketplace" if charge["metadata"].get("order_id") else "other"
        user = customers[charge["customer"]]["metadata"].get("app_user_id")
        key = (day(txn["created"]), txn["currency"].upper(), charge["livemode"], line,
               channel.get(int(user), "unknown") if user else "unknown")
        row = out[key]
        row[0] += category == "charge"
        row[1 + ("charge", "refund", "dispute").index(category)] += abs(txn["amount"])
        row[4] += txn["fee"]
        row[5] += txn["net"]
    return {k: tuple(v) for k, v in out.items()}


def expected_reconciliation(account) -> dict[tuple, tuple]:
    """(day, currency) -> (marketplace gross, Stripe gross, marketplace refunds, Stripe refunds), minor units."""
    out: dict[tuple, list[int]] = defaultdict(lambda: [0] * 4)
    with psycopg.connect(account.dsn) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        for d, currency, minor in conn.execute("""SELECT created_at::date, currency, round(amount * 100) FROM payments
                                                  WHERE provider = 'stripe' AND status = 'succeeded'"""):
            out[(d, currency)][0] += int(minor)
        for d, currency, minor in conn.execute("""SELECT r.created_at::date, r.currency, round(r.amount * 100)
                FROM refunds r JOIN payments p ON p.id = r.payment_id
                WHERE p.provider = 'stripe' AND r.status = 'succeeded'"""):
            out[(d, currency)][2] += int(minor)
    charges = account.world.current("charges")
    for charge in charges.values():
        if charge["status"] == "succeeded" and charge["metadata"].get("order_id"):
            out[(day(charge["created"]), charge["currency"].upper())][1] += charge["amount"]
    for refund in account.world.current("refunds").values():
        if refund["status"] == "succeeded" and charges[refund["charge"]]["metadata"].get("order_id"):
            out[(day(refund["created"]), refund["currency"].upper())][3] += refund["amount"]
    return {k: tuple(v) for k, v in out.items()}


def test_stripe_marts_equal_the_accounts_books(books):
    """One loaded account checks the three Stripe marts: loading it takes most of the test's time."""
    account, catalog = books
    got = engine.query(catalog, """SELECT revenue_date, currency, livemode, product_line, channel, charges,
        gross_minor, refunds_minor, disputes_minor, fees_minor, net_minor FROM marts.stripe_revenue""").to_pylist()
    got = {tuple(r.values())[:5]: tuple(r.values())[5:] for r in got}
    expected = expected_revenue(account)
    assert {k[3] for k in expected} == {"marketplace", "subscription"}
    assert sum(v[3] for v in expected.values()) > 0, "no dispute in the period"
    assert sum(v[2] for v in expected.values()) > 0, "no refund in the period"
    assert got == expected
    net = defaultdict(int)
    for (d, currency, *_), values in got.items():
        net[(d, currency.lower())] += values[-1]
    assert dict(net) == account.world.net_revenue()

    rows = engine.query(catalog, """SELECT revenue_date, currency, marketplace_gross_minor, stripe_gross_minor,
        marketplace_refunds_minor, stripe_refunds_minor, reconciled FROM marts.revenue_reconciliation""").to_pylist()
    truth = expected_reconciliation(account)
    assert {(r["revenue_date"], r["currency"]): tuple(r.values())[2:6] for r in rows} == truth
    assert all(r["reconciled"] == (truth[(r["revenue_date"], r["currency"])][0::2]
                                   == truth[(r["revenue_date"], r["currency"])][1::2]) for r in rows)
    assert all(v[0] == v[1] for v in truth.values()), "every marketplace Stripe payment is a Stripe charge"

    check_subscription_mrr(account, catalog)


def check_subscription_mrr(account, catalog) -> None:
    expected = {}
    for sid, sub in account.world.current("subscriptions").items():
        arr = sum(i["price"]["unit_amount"] * i["quantity"] * (12 if i["price"]["recurring"]["interval"] == "month"
                                                                 else 1) for i in sub["items"]["data"])
        expected[sid] = (sub["currency"].upper(), sub["status"], sub["status"] in ("active", "past_due"), arr,
                         int(arr / 12 + 0.5))
    got = engine.query(catalog, """SELECT subscription_id, currency, status, is_active, arr_minor, mrr_minor
                                    FROM marts.subscription_mrr""").to_pylist()
    assert {r["subscription_id"]: tuple(r.values())[1:] for r in got} == expected
    assert len(expected) >= 5 and len({v[0] for v in expected.values()}) >= 2

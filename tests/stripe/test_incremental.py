"""Initial load then daily incremental runs against the emulator: staging equals the account's true state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg

from lakeward.definition import STRIPE_OBJECTS
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from tests.stripe.conftest import OCT1, mismatches, run, staging


def net_revenue_in_staging(home) -> dict:
    con = engine.connect(open_catalog(home), ["staging.stripe__balance_transactions"])
    return {(day, currency): int(net) for day, currency, net in con.execute("""
        SELECT CAST(created AS DATE), currency, sum(net) FROM staging.stripe__balance_transactions
        WHERE reporting_category IN ('charge', 'refund', 'dispute') GROUP BY ALL""").fetchall()}


def test_initial_load_then_daily_runs_match_the_account(account, stripe_defn, home):
    result = run(stripe_defn, home, OCT1)
    assert result.ok, [r.error for r in result.failed()]
    for obj in STRIPE_OBJECTS:
        assert mismatches(home, account.world, obj) == [], obj

    # A Stripe refund 20 days after its charge: the marketplace refunds a September 11 payment on October 1.
    with psycopg.connect(account.dsn) as conn:
        sep11 = datetime(2026, 9, 11, tzinfo=UTC)
        pid, oid, amount, currency, created = conn.execute("""
            SELECT p.id, p.order_id, p.amount, p.currency, p.created_at FROM payments p
            WHERE p.provider = 'stripe' AND p.status = 'succeeded' AND p.created_at BETWEEN %s AND %s
              AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.payment_id = p.id)
            ORDER BY p.id LIMIT 1""", (sep11, sep11 + timedelta(hours=20))).fetchone()
        refunded_at = created + timedelta(days=20)
        conn.execute("""INSERT INTO refunds VALUES ((SELECT max(id) + 1 FROM refunds), %s, %s, %s, %s,
                        'damaged', 'succeeded', %s, %s)""", (pid, oid, amount, currency, refunded_at, refunded_at))
    charge_id = f"ch_BC{pid:012d}"
    assert staging(home, "charges")[charge_id]["refunded"] is False

    day = OCT1
    while day <= refunded_at:  # daily runs, as a backfill by day would
        account.advance(day, day + timedelta(days=1))
        result = run(stripe_defn, home, day + timedelta(days=1))
        assert result.ok, [r.error for r in result.failed()]
        day += timedelta(days=1)
    for obj in STRIPE_OBJECTS:
        assert mismatches(home, account.world, obj) == [], obj

    charge = staging(home, "charges")[charge_id]
    assert (charge["refunded"], charge["amount_refunded"]) == (True, int(amount * 100))
    assert charge["version_at"] == refunded_at.replace(microsecond=0)
    assert charge["created"] == created.replace(microsecond=0)
    # Net revenue by day and currency from staging equals the account's own books.
    assert net_revenue_in_staging(home) == account.world.net_revenue()
    assert sum(account.world.net_revenue().values()) > 0
    # The subscriptions renewed in October: the incremental runs saw invoices and period changes.
    invoices = staging(home, "invoices")
    assert any(i["billing_reason"] == "subscription_cycle" for i in invoices.values())
    assert Decimal(amount) > 0

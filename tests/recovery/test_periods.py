"""Closing a month and reproducing its finance numbers after a month of later changes and late data.

The definition adds a second finance mart over a source table that is still empty when the month closes
(chargebacks): its staging table is never built, so the period records it as empty, and a chargeback for
the closed month that arrives later must not change what reproduce computes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from typer.testing import CliRunner

from lakeward.cli import app
from lakeward.demo import marketplace
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from lakeward.periods import PeriodError, close_period, reproduce, tag_name
from lakeward.runner import run
from tests.conftest import NIGHT
from tests.recovery.conftest import T0, fresh_database, small_definition, use

NOV = datetime(2026, 11, 1, tzinfo=UTC)
cli = CliRunner()
SEPT = "SELECT sum(gross_amount) AS g, sum(refund_amount) AS r FROM marts.daily_revenue " \
       "WHERE revenue_date < DATE '2026-10-01'"
NEVER_BUILT = "staging.postgres__chargebacks"
CHARGEBACKS_SQL = """
SELECT p.currency, COUNT(c.id) AS chargebacks, CAST(COALESCE(SUM(c.amount), 0) AS DECIMAL(18, 2)) AS charged_back,
       CAST(SUM(p.amount) AS DECIMAL(18, 2)) AS paid
FROM staging.postgres__payments AS p
LEFT JOIN staging.postgres__chargebacks AS c ON c.payment_id = p.id
WHERE p.status = 'succeeded' AND CAST(p.created_at AS DATE) < DATE '2026-10-01'
GROUP BY p.currency
"""


def with_chargebacks(folder, dsn: str):
    """The small definition plus an object with no rows yet and a finance mart that reads it."""
    with psycopg.connect(dsn) as conn:
        conn.execute("""CREATE TABLE IF NOT EXISTS chargebacks (id bigint PRIMARY KEY, payment_id bigint NOT NULL,
                        amount numeric(18, 2) NOT NULL, currency text NOT NULL, created_at timestamptz NOT NULL,
                        updated_at timestamptz NOT NULL)""")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "chargebacks.sql").write_text(CHARGEBACKS_SQL)

    def edit(raw):
        raw["sources"]["postgres"]["objects"]["chargebacks"] = {"primary_key": ["id"], "cursor": "updated_at"}
        raw["marts"]["september_chargebacks"] = {"sql": str(folder / "chargebacks.sql"), "key": ["currency"],
                                                 "grain": "one row per currency", "finance": True}
    return small_definition(folder, edit)


def chargeback_late(dsn: str) -> None:
    """A September payment charged back, recorded in November: late data for the closed month."""
    with psycopg.connect(dsn) as conn:
        conn.execute("""INSERT INTO chargebacks SELECT 1, id, amount, currency, created_at, %s FROM payments
                        WHERE status = 'succeeded' AND created_at < '2026-10-01' ORDER BY id LIMIT 1""",
                     (NOV - timedelta(minutes=30),))


def later_month(dsn: str) -> None:
    """October's business, plus late data for the closed September: a payment found late, a corrected amount."""
    with psycopg.connect(dsn) as conn:
        marketplace.generate_history(conn, seed=9, scale=0.03, start=T0, end=NOV - timedelta(hours=3))
        for hour in range(2):
            marketplace.simulate_hour(conn, seed=9, scale=0.03, hour_start=NOV - timedelta(hours=3 - hour))
        late = datetime(2026, 10, 31, 22, tzinfo=UTC)
        conn.execute("""
            INSERT INTO payments (id, order_id, amount, currency, status, provider, created_at, updated_at)
            SELECT (SELECT max(id) + 1 FROM payments), id, 123.45, currency, 'succeeded', 'late-import',
                   '2026-09-15 12:00+00', %s
            FROM orders WHERE created_at < '2026-09-15' ORDER BY id LIMIT 1""", (late,))
        conn.execute("""UPDATE payments SET amount = amount + 1, updated_at = %s
                        WHERE id = (SELECT min(id) FROM payments WHERE status = 'succeeded')""", (late,))


def test_reproduce_after_a_month_of_changes_and_late_data(pg_server, tmp_path, monkeypatch):
    dsn = fresh_database(pg_server, "r_periods")
    home = use(monkeypatch, tmp_path / "home", dsn)
    defn = with_chargebacks(tmp_path, dsn)
    assert run(defn, home, end=T0, now=NIGHT).ok
    assert open_catalog(home).load_table(NEVER_BUILT).current_snapshot() is None  # no rows: never built
    with pytest.raises(PeriodError, match="has not ended yet"):
        close_period(defn, home, "2026-10", closed_by="test", now=NIGHT)
    closed = cli.invoke(app, ["close-period", "2026-09", "--definition", str(defn.path)])
    assert closed.exit_code == 0, closed.stderr
    assert "staging.postgres__payments" in closed.stdout and "marts.daily_revenue" in closed.stdout
    assert f"recorded {NEVER_BUILT} as empty" in " ".join(closed.stdout.split())
    as_closed = engine.query(open_catalog(home), SEPT).to_pylist()
    charged_back = "SELECT sum(chargebacks) AS n FROM marts.september_chargebacks"
    assert engine.query(open_catalog(home), charged_back).to_pylist() == [{"n": 0}]

    later_month(dsn)
    chargeback_late(dsn)
    assert run(defn, home, end=NOV, now=NIGHT).ok
    now = engine.query(open_catalog(home), SEPT).to_pylist()
    assert now[0]["g"] == as_closed[0]["g"] + Decimal("124.45")  # the late data really changed September
    assert engine.query(open_catalog(home), charged_back).to_pylist() == [{"n": 1}]  # and its chargebacks

    catalog = open_catalog(home)
    for identifier in ("staging.postgres__payments", "marts.daily_revenue"):
        table = catalog.load_table(identifier)
        table.maintenance.expire_snapshots().older_than(datetime.now(UTC)).commit()
        assert tag_name("2026-09") in catalog.load_table(identifier).refs()  # the tag outlived expiry

    out = cli.invoke(app, ["reproduce", "--period", "2026-09", "--definition", str(defn.path)])
    assert out.exit_code == 0, out.stdout + out.stderr
    assert "IDENTICAL daily_revenue" in " ".join(out.stdout.split())
    assert "IDENTICAL september_chargebacks" in " ".join(out.stdout.split())
    results = {r.mart: r for r in reproduce(defn, home, "2026-09")}
    assert set(results) == {"daily_revenue", "september_chargebacks"}
    assert all(r.identical for r in results.values()) and results["daily_revenue"].tagged[0] > 20


def test_reproduce_fails_when_the_tagged_report_does_not_match(pg_server, tmp_path, monkeypatch):
    dsn = fresh_database(pg_server, "r_periods_bad")
    home = use(monkeypatch, tmp_path / "home", dsn)
    defn = small_definition(tmp_path)
    assert run(defn, home, end=T0, now=NIGHT).ok
    close_period(defn, home, "2026-09", closed_by="test")
    later_month(dsn)
    assert run(defn, home, end=NOV, now=NIGHT).ok
    mart = open_catalog(home).load_table("marts.daily_revenue")
    tag = tag_name("2026-09")  # someone re-points the report's tag at a later build
    mart.manage_snapshots().remove_tag(tag).create_tag(mart.current_snapshot().snapshot_id, tag).commit()
    out = cli.invoke(app, ["reproduce", "--period", "2026-09", "--definition", str(defn.path)])
    assert out.exit_code == 1 and "DIFFERENT" in out.stdout
    again = cli.invoke(app, ["close-period", "2026-09", "--definition", str(defn.path)])
    assert again.exit_code == 2 and "already closed" in again.stderr

"""Incremental PostgreSQL replication end to end: real PostgreSQL, real Iceberg files, nothing mocked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from lakeward import watermark
from lakeward.demo import marketplace
from lakeward.lake import engine
from lakeward.lake.catalog import load_table, open_catalog
from lakeward.runner import run
from tests.conftest import NIGHT, warehouse_fingerprint, write_definition

T0 = datetime(2026, 10, 1, tzinfo=UTC)

# Written for this test against the source tables, in PostgreSQL's dialect, independently of the mart SQL.
SOURCE_REVENUE = """
WITH pay AS (
    SELECT (p.created_at AT TIME ZONE 'UTC')::date AS day, p.currency,
           sum(p.amount) AS gross, count(DISTINCT p.order_id) AS orders, count(DISTINCT o.user_id) AS buyers
    FROM payments p JOIN orders o ON o.id = p.order_id
    WHERE p.status = 'succeeded' GROUP BY 1, 2),
ref AS (
    SELECT (created_at AT TIME ZONE 'UTC')::date AS day, currency, sum(amount) AS refunded
    FROM refunds WHERE status = 'succeeded' GROUP BY 1, 2)
SELECT coalesce(pay.day, ref.day), coalesce(pay.currency, ref.currency),
       coalesce(gross, 0), coalesce(refunded, 0), coalesce(gross, 0) - coalesce(refunded, 0),
       coalesce(orders, 0), coalesce(buyers, 0)
FROM pay FULL JOIN ref ON pay.day = ref.day AND pay.currency = ref.currency
ORDER BY 1, 2
"""


def mart_rows(home) -> list[tuple]:
    table = engine.query(open_catalog(home), """
        SELECT revenue_date, currency, gross_amount, refund_amount, net_amount, orders, buyers
        FROM marts.daily_revenue ORDER BY revenue_date, currency""")
    return [tuple(r.values()) for r in table.to_pylist()]


def source_rows(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return [tuple(r) for r in conn.execute(SOURCE_REVENUE).fetchall()]


def simulate(dsn: str, start: datetime, hours: int) -> None:
    with psycopg.connect(dsn) as conn:
        for hour in range(hours):
            marketplace.simulate_hour(conn, seed=11, scale=0.1, hour_start=start + timedelta(hours=hour))


def test_mart_equals_sql_on_the_source_to_the_cent(definition, marketplace_db, home):
    assert run(definition, home, end=T0, now=NIGHT).ok
    for hour in range(4):
        simulate(marketplace_db, T0 + timedelta(hours=hour), 1)
        assert run(definition, home, end=T0 + timedelta(hours=hour + 1), now=NIGHT).ok
    expected = source_rows(marketplace_db)
    got = mart_rows(home)
    assert len(expected) > 20
    assert got == expected
    assert all(isinstance(r[2], Decimal) and r[2].as_tuple().exponent == -2 for r in got)


def test_running_the_same_window_twice_changes_nothing(definition, marketplace_db, home):
    first = run(definition, home, end=T0, now=NIGHT)
    assert first.ok
    before = warehouse_fingerprint(home)
    assert before["staging.postgres__orders"][0] > 0 and before["marts.daily_revenue"][0] > 0

    window = first.results["extract:postgres.orders"].outcome.window
    replay = run(definition, home, start=window.start, end=window.end, now=NIGHT)
    assert replay.results["extract:postgres.orders"].outcome.details["reused_landing"] is True
    assert warehouse_fingerprint(home) == before

    again = run(definition, home, start=window.start, end=window.end, reextract=True, now=NIGHT)
    assert again.results["extract:postgres.orders"].outcome.details["reused_landing"] is False
    assert again.results["stage:postgres.orders"].outcome.rows_out == 0  # nothing inserted or updated
    assert warehouse_fingerprint(home) == before

    scheduled = run(definition, home, end=T0, now=NIGHT)  # watermark - lookback .. the same end
    assert scheduled.ok
    assert warehouse_fingerprint(home) == before


def test_updates_in_the_lookback_and_late_commits_reach_staging(definition, marketplace_db, home):
    assert run(definition, home, end=T0, now=NIGHT).ok
    catalog = open_catalog(home)
    assert watermark.read(load_table(catalog, "staging.postgres__orders")) == T0
    with psycopg.connect(marketplace_db) as conn:
        order_id = conn.execute("SELECT id FROM orders WHERE status = 'paid' ORDER BY id LIMIT 1").fetchone()[0]
        # Committed after the run, stamped before its end: a long transaction, or a lagging replica.
        conn.execute("UPDATE orders SET status = 'shipped', updated_at = %s WHERE id = %s",
                     (T0 - timedelta(minutes=30), order_id))
        conn.execute("""
            INSERT INTO orders (id, public_id, user_id, status, currency, subtotal, shipping, total_amount,
                                created_at, updated_at)
            SELECT max(o.id) + 1, '00000000-0000-4000-8000-000000000001', min(u.id), 'pending', 'USD',
                   10.00, 0.00, 10.00, %(ts)s, %(ts)s
            FROM orders o, users u""", {"ts": T0 - timedelta(hours=1)})
        new_id = conn.execute("SELECT max(id) FROM orders").fetchone()[0]
    result = run(definition, home, end=T0 + timedelta(hours=1), now=NIGHT)
    assert result.ok
    stage = result.results["stage:postgres.orders"].outcome
    assert stage.window.start == T0 - definition.sources["postgres"].objects["orders"].lookback
    assert stage.details["inserted"] == 1 and stage.details["updated"] >= 1
    rows = engine.query(catalog, f"SELECT id, status FROM staging.postgres__orders WHERE id IN ({order_id}, {new_id})")
    statuses = dict(zip(rows["id"].to_pylist(), rows["status"].to_pylist(), strict=True))
    assert statuses == {order_id: "shipped", new_id: "pending"}
    assert watermark.read(load_table(catalog, "staging.postgres__orders")) == T0 + timedelta(hours=1)


def test_rows_sharing_one_cursor_value_across_chunk_boundaries(tmp_path, pg_dsn, home):
    stamp = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE ledger (id bigint PRIMARY KEY, note text, updated_at timestamptz NOT NULL)")
        conn.execute("INSERT INTO ledger SELECT g, 'n' || g, %s FROM generate_series(1, 500) g", (stamp,))
        conn.execute("INSERT INTO ledger SELECT g, 'late', %s FROM generate_series(501, 520) g",
                     (stamp + timedelta(seconds=1),))

    def edit(raw):
        source = raw["sources"]["postgres"]
        source["limits"] = {"chunk_rows": 64, "concurrency": 1}
        source["objects"] = {"ledger": {"primary_key": ["id"], "cursor": "updated_at"}}
        raw["marts"] = {}

    defn = write_definition(tmp_path, edit)
    result = run(defn, home, end=T0, now=NIGHT)
    assert result.ok
    extract = result.results["extract:postgres.ledger"].outcome
    assert extract.rows_out == 520 and extract.details["chunks"] == 9  # 8 full chunks and the remainder
    rows = engine.query(
        open_catalog(home), "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM staging.postgres__ledger")
    assert rows.to_pylist() == [{"n": 520, "ids": 520}]


def test_business_hours_limit_chunk_size(definition):
    source = definition.sources["postgres"]
    monday_noon = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
    saturday_noon = datetime(2026, 10, 3, 12, 0, tzinfo=UTC)
    assert source.limits_at(monday_noon).chunk_rows == 20_000 and source.limits_at(monday_noon).concurrency == 1
    assert source.limits_at(saturday_noon) == source.limits
    assert source.limits_at(NIGHT) == source.limits


def test_business_hours_applied_to_the_extraction(tmp_path, marketplace_db, home):
    def edit(raw):
        raw["sources"]["postgres"]["business_hours"][0]["limits"] = {"chunk_rows": 50, "concurrency": 1}

    defn = write_definition(tmp_path, edit)
    monday_noon = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
    result = run(defn, home, end=T0, now=monday_noon)
    assert result.ok
    details = result.results["extract:postgres.orders"].outcome.details
    rows = result.results["extract:postgres.orders"].outcome.rows_out
    assert details["chunk_rows"] == 50 and details["concurrency"] == 1
    assert details["chunks"] == rows // 50 + 1


@pytest.mark.parametrize("fault", ["type change", "statement timeout"])
def test_watermark_moves_only_after_the_staging_commit(definition, marketplace_db, home, fault):
    assert run(definition, home, end=T0, now=NIGHT).ok
    catalog = open_catalog(home)
    orders = load_table(catalog, "staging.postgres__orders")
    snapshot, mark = orders.current_snapshot().snapshot_id, watermark.read(orders)
    mart_snapshot = load_table(catalog, "marts.daily_revenue").current_snapshot().snapshot_id
    simulate(marketplace_db, T0, 1)
    blocker = psycopg.connect(marketplace_db)
    if fault == "type change":
        with psycopg.connect(marketplace_db) as conn:
            conn.execute("ALTER TABLE orders ALTER COLUMN shipping TYPE text")
            conn.execute("UPDATE orders SET updated_at = %s WHERE id = (SELECT min(id) FROM orders)",
                         (T0 + timedelta(minutes=5),))
        expected = "column 'shipping' changed type from decimal(12,2) to string"  # the schema contract's words
    else:
        defn_timeout = definition.model_copy(update={"sources": {"postgres": definition.sources["postgres"].model_copy(
            update={"statement_timeout": timedelta(seconds=1)})}})
        definition = defn_timeout
        blocker.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")  # held until rollback
        expected = "canceling statement due to statement timeout"
    try:
        result = run(definition, home, end=T0 + timedelta(hours=1), now=NIGHT)
    finally:
        blocker.rollback()
        blocker.close()
    failed = [r for r in result.results.values() if r.status == "failed"]
    assert [r.step.id for r in failed] in (["quality:staging.postgres__orders"], ["extract:postgres.orders"])
    assert expected in failed[0].error and "orders" in failed[0].error
    assert result.results["mart:daily_revenue"].status == "skipped"
    orders = load_table(catalog, "staging.postgres__orders")
    assert orders.current_snapshot().snapshot_id == snapshot
    assert watermark.read(orders) == mark
    assert load_table(catalog, "marts.daily_revenue").current_snapshot().snapshot_id == mart_snapshot
    # Other objects moved on.
    assert watermark.read(load_table(catalog, "staging.postgres__payments")) == T0 + timedelta(hours=1)
    audit = engine.query(catalog, "SELECT step, status, error FROM audit.runs WHERE status <> 'succeeded'")
    assert {(r["step"], r["status"]) for r in audit.to_pylist()} >= {
        (failed[0].step.id, "failed"), ("mart:daily_revenue", "skipped")}

"""Partition rebuilds equal full rebuilds after hours of new sales, late refunds, late commits and deletes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from pyiceberg.expressions import EqualTo

from lakeward import materialize
from lakeward.demo import marketplace
from lakeward.lake.catalog import load_table, open_catalog
from lakeward.runner import run
from tests.conftest import NIGHT, warehouse_fingerprint, write_definition
from tests.marts import source_truth

T0 = datetime(2026, 10, 1, tzinfo=UTC)
PARTITIONED = ("fct_orders", "fct_refunds")


def late_refund(dsn: str, stamped: datetime) -> int:
    """A refund committed after the run that covered its timestamp (a long transaction on the source)."""
    with psycopg.connect(dsn) as conn:
        return conn.execute("""
            INSERT INTO refunds (id, payment_id, order_id, amount, currency, reason, status, created_at, updated_at)
            SELECT (SELECT max(id) + 1 FROM refunds), p.id, p.order_id, 0.01, p.currency, 'changed_mind',
                   'succeeded', %(ts)s, %(ts)s
            FROM payments p WHERE p.status = 'succeeded' AND p.created_at < '2026-09-10' ORDER BY p.id LIMIT 1
            RETURNING id""", {"ts": stamped}).fetchone()[0]


def delete_everywhere(dsn: str, catalog, table: str, row_id: int) -> None:
    """An erasure: the row goes from the source and is purged from staging (extraction never sees deletes)."""
    with psycopg.connect(dsn) as conn:
        conn.execute(f"DELETE FROM {table} WHERE id = %s", (row_id,))
    load_table(catalog, f"staging.postgres__{table}").delete(EqualTo("id", row_id))


def test_partition_rebuilds_equal_a_full_rebuild(definition, marketplace_db, home):
    with psycopg.connect(marketplace_db) as conn:
        item_id = conn.execute("SELECT min(id) FROM order_items").fetchone()[0]
        # A partial refund followed days later by a second one: deleting the first changes what the second
        # says was refunded before it, in another day's partition.
        refund_id, created = conn.execute("""
            SELECT r.id, r.created_at FROM refunds r JOIN payments p ON p.id = r.payment_id
            WHERE r.status = 'succeeded' AND r.amount < p.amount - 0.01 AND r.created_at < '2026-09-25'
            ORDER BY r.id LIMIT 1""").fetchone()
        conn.execute("""INSERT INTO refunds SELECT (SELECT max(id) + 1 FROM refunds), payment_id, order_id, 0.01,
                        currency, 'damaged', 'succeeded', %(ts)s, %(ts)s FROM refunds WHERE id = %(id)s""",
                     {"ts": created + timedelta(days=3), "id": refund_id})
    first = run(definition, home, end=T0, now=NIGHT)
    assert first.ok
    assert {first.results[f"mart:{m}"].outcome.details["mode"] for m in PARTITIONED} == {"full"}
    catalog = open_catalog(home)
    rebuilt: dict[str, set[str]] = {m: set() for m in PARTITIONED}
    for hour in range(4):
        end = T0 + timedelta(hours=hour + 1)
        with psycopg.connect(marketplace_db) as conn:
            marketplace.simulate_hour(conn, seed=11, scale=0.1, hour_start=end - timedelta(hours=1))
        if hour == 2:
            late_refund(marketplace_db, end - timedelta(minutes=90))  # inside the 2h lookback of the next run
        if hour == 3:
            delete_everywhere(marketplace_db, catalog, "order_items", item_id)
            delete_everywhere(marketplace_db, catalog, "refunds", refund_id)
        result = run(definition, home, end=end, now=NIGHT)
        assert result.ok, [r.error for r in result.failed()]
        for m in PARTITIONED:
            details = result.results[f"mart:{m}"].outcome.details
            assert details["mode"] == "partitions", details
            rebuilt[m] |= set(details["partitions"])
    incremental = warehouse_fingerprint(home)
    for m in PARTITIONED:
        days = len(set(load_table(catalog, f"marts.{m}").scan(selected_fields=(
            "order_date" if m == "fct_orders" else "refund_date",)).to_arrow().column(0).to_pylist()))
        assert 0 < len(rebuilt[m]) < days  # only some partitions were rebuilt
    assert "2026-09-01" in rebuilt["fct_orders"]  # the deleted line's order lives in the first partition
    assert str((created + timedelta(days=3)).date()) in rebuilt["fct_refunds"]  # the later refund's day

    for m in PARTITIONED:
        built = materialize.build(definition, catalog, m, run_id="full-check", full=True)
        assert built.mode == "full"
    full = warehouse_fingerprint(home)
    assert {m: incremental[f"marts.{m}"] for m in PARTITIONED} == {m: full[f"marts.{m}"] for m in PARTITIONED}

    # And both equal the source, deletes included.
    orders = source_truth.rows(marketplace_db, source_truth.ORDERS)
    got = source_truth_rows(catalog, source_truth.ORDER_COLUMNS, "marts.fct_orders", "order_id")
    assert got == orders
    refunds = source_truth.rows(marketplace_db, source_truth.REFUNDS)
    assert refund_id not in {r[0] for r in refunds}
    assert source_truth_rows(catalog, source_truth.REFUND_COLUMNS, "marts.fct_refunds", "refund_id") == refunds


def source_truth_rows(catalog, columns: str, table: str, order: str) -> list[tuple]:
    from lakeward.lake import engine
    return [tuple(r.values()) for r in engine.query(catalog, f"SELECT {columns} FROM {table} ORDER BY {order}")
            .to_pylist()]


def test_a_changed_input_without_a_declared_mapping_rebuilds_everything(tmp_path, marketplace_db, home):
    defn = write_definition(tmp_path, lambda raw: raw["marts"]["fct_orders"]["changes"].pop(
        "staging.postgres__payments"))
    assert run(defn, home, end=T0, now=NIGHT).ok
    with psycopg.connect(marketplace_db) as conn:
        marketplace.simulate_hour(conn, seed=11, scale=0.1, hour_start=T0)
    details = run(defn, home, end=T0 + timedelta(hours=1), now=NIGHT).results["mart:fct_orders"].outcome.details
    assert details["mode"] == "full"
    assert details["reason"] == "staging.postgres__payments changed and the mart declares no partitions it touches"
    again = run(defn, home, end=T0 + timedelta(hours=1), now=NIGHT).results["mart:fct_orders"].outcome.details
    assert again["mode"] == "unchanged"

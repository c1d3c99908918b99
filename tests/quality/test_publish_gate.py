"""Write-audit-publish: a blocked batch publishes nothing, stops what reads it, stays inspectable, reruns clean."""

from __future__ import annotations

import psycopg

from lakeward import watermark
from lakeward.lake import engine, landing
from lakeward.lake.catalog import load_table, open_catalog
from lakeward.runner import run
from tests.conftest import NIGHT
from tests.quality import scenario
from tests.quality.scenario import day_end, simulate_day
from tests.test_postgres_incremental import mart_rows, source_rows

ORDERS, MART = "staging.postgres__orders", "marts.daily_revenue"
OBJECTS = ("users", "orders", "payments", "refunds")


def _execute(dsn: str, *statements: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _snapshots(home) -> dict[str, int]:
    catalog = open_catalog(home)
    return {t: load_table(catalog, t).current_snapshot().snapshot_id
            for t in (ORDERS, MART, "staging.postgres__payments")}


def test_a_blocked_staging_batch_skips_the_marts_and_publishes_nothing(tmp_path, pg_dsn, home):
    defn = scenario.write(tmp_path, raw=scenario.pipeline(OBJECTS, marts=True))
    scenario.fill_history(pg_dsn)
    assert run(defn, home, end=scenario.D0, now=NIGHT).ok
    before = _snapshots(home)
    mark = watermark.read(load_table(open_catalog(home), ORDERS))

    simulate_day(pg_dsn, 0)
    _execute(pg_dsn, "ALTER TABLE orders DROP CONSTRAINT orders_pkey CASCADE, DROP CONSTRAINT orders_public_id_key",
             "INSERT INTO orders SELECT * FROM orders ORDER BY updated_at DESC LIMIT 2")
    result = run(defn, home, end=day_end(0), now=NIGHT)

    gate = result.results[f"quality:{ORDERS}"]
    assert gate.status == "failed" and "2 duplicate key(s) on (id)" in gate.error
    for sid in ("stage:postgres.orders", "mart:daily_revenue", "quality:marts.daily_revenue"):
        assert result.results[sid].status == "skipped"
        assert result.results[sid].error.startswith(f"skipped: upstream quality:{ORDERS} failed: QualityGateError")
    assert result.results["stage:postgres.payments"].status == "succeeded"  # only what depends on orders stops
    after = _snapshots(home)
    assert after[ORDERS] == before[ORDERS] and after[MART] == before[MART]
    assert after["staging.postgres__payments"] != before["staging.postgres__payments"]
    assert watermark.read(load_table(open_catalog(home), ORDERS)) == mark
    recorded = engine.query(open_catalog(home), f"""
        SELECT step, status, error FROM audit.runs WHERE run_id = '{result.run_id}' AND step LIKE '%daily_revenue'""")
    assert set(recorded["status"].to_pylist()) == {"skipped"}
    assert all(f"quality:{ORDERS}" in e for e in recorded["error"].to_pylist())

    # The refused batch is still in landing, named by the failed result, for anyone to inspect.
    failed = engine.query(open_catalog(home), f"""
        SELECT batch_id FROM audit.quality_results
        WHERE run_id = '{result.run_id}' AND table_name = '{ORDERS}' AND status = 'fail'""")
    window = result.results["extract:postgres.orders"].outcome.window
    kept = landing.committed(home.landing, "postgres", "orders", window)
    assert kept is not None and failed["batch_id"].to_pylist() == [kept.batch_id]
    assert landing.read_batch(home.landing, kept).num_rows == kept.row_count

    # After the fix a rerun reads the source again and publishes; the mart matches SQL run on the source.
    _execute(pg_dsn, "DELETE FROM orders a USING orders b WHERE a.id = b.id AND a.ctid > b.ctid",
             "ALTER TABLE orders ADD PRIMARY KEY (id), ADD UNIQUE (public_id)")
    again = run(defn, home, end=day_end(0), now=NIGHT, reextract=True)
    assert again.ok, [(r.step.id, r.error) for r in again.failed()]
    assert watermark.read(load_table(open_catalog(home), ORDERS)) == day_end(0)
    assert _snapshots(home)[MART] != before[MART]
    assert mart_rows(home) == source_rows(pg_dsn)


def test_a_mart_that_fails_its_gate_is_put_back_as_it_was(tmp_path, pg_dsn, home):
    # A rule that holds for the history and breaks as soon as the first live day is in the mart.
    rules = {MART: [{"kind": "sql", "name": "no_live_days", "expect": f"revenue_date < DATE '{scenario.D0:%Y-%m-%d}'"}]}
    defn = scenario.write(tmp_path, rules=rules, raw=scenario.pipeline(("orders", "payments", "refunds"), marts=True))
    scenario.fill_history(pg_dsn)
    assert run(defn, home, end=scenario.D0, now=NIGHT).ok
    published = _mart_snapshot(home)
    rows = mart_rows(home)

    simulate_day(pg_dsn, 0)
    result = run(defn, home, end=day_end(0), now=NIGHT)
    gate = result.results[f"quality:{MART}"]
    assert gate.status == "failed" and f"{MART}: " in gate.error and "break 'no_live_days'" in gate.error
    assert _mart_snapshot(home) == published
    assert mart_rows(home) == rows


def _mart_snapshot(home) -> int:
    return load_table(open_catalog(home), MART).current_snapshot().snapshot_id

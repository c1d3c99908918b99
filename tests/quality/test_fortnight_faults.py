"""Fourteen clean days fire no rule; then each injected fault is caught by its own rule, with the numbers.

Real PostgreSQL (the seeded marketplace), real Iceberg files, the real runner. Expected numbers come from
SQL run on the source database, never from the code under test.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg

from lakeward.lake.catalog import load_table, open_catalog
from lakeward.runner import run
from tests.conftest import NIGHT
from tests.quality import scenario
from tests.quality.scenario import day_end, fired, simulate_day

ORDERS = "staging.postgres__orders"


def _source(dsn: str, text: str, params: dict | None = None) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(text, params)
        return cur.fetchall() if cur.description else []


def _window(dsn: str, table: str, start, end, extra: str = "count(*)") -> tuple:
    return _source(dsn, f"SELECT {extra} FROM {table} WHERE updated_at >= %(s)s AND updated_at < %(e)s",
                   {"s": start, "e": end})[0]


def _by_rule(rows: list[dict]) -> dict[tuple[str, str], dict]:
    return {(r["table_name"], r["rule"]): r for r in rows}


def test_clean_fortnight_then_each_fault_caught_by_its_rule(tmp_path, pg_dsn, home):
    defn = scenario.write(tmp_path)
    scenario.fill_history(pg_dsn)
    assert run(defn, home, end=scenario.D0, now=NIGHT).ok

    # Fourteen clean days with weekday/weekend seasonality: nothing fires, while the checks are live.
    evaluated = 0
    for day in range(14):
        simulate_day(pg_dsn, day)
        result = run(defn, home, end=day_end(day), now=NIGHT)
        assert result.ok, [(r.step.id, r.error) for r in result.failed()]
        assert fired(home, result.run_id) == [], f"day {day}"
        evaluated += sum(r["status"] == "pass" and r["kind"] == "row_count"
                         for r in scenario.results(home, result.run_id))
    assert evaluated >= 2 * 6  # row counts were judged against last week on days 8-13, not just learned

    day = 14
    window_start = day_end(day - 1) - timedelta(hours=2)  # the watermark less the lookback

    def run_day(**kw):
        return run(defn, home, end=day_end(day), now=NIGHT, **kw)

    def only(rows: list[dict], kinds: set[str]) -> dict[tuple[str, str], dict]:
        assert {r["kind"] for r in rows} <= kinds, [r["message"] for r in rows]
        return _by_rule(rows)

    def rerun_clean():
        again = run_day(reextract=True)
        assert again.ok, [(r.step.id, r.error) for r in again.failed()]
        assert fired(home, again.run_id) == []

    # 1. A null spike in one column.
    simulate_day(pg_dsn, day)
    _source(pg_dsn, "UPDATE users SET full_name = NULL WHERE updated_at >= %(s)s AND id %% 10 < 7",
            {"s": window_start})
    nulls, rows = _window(pg_dsn, "users", window_start, day_end(day), "count(*) FILTER (WHERE full_name IS NULL), "
                          "count(*)")
    result = run_day()
    hit = only(fired(home, result.run_id), {"not_null"})[("staging.postgres__users", "not_null:full_name")]
    assert hit["status"] == "fail"
    assert f"null rate of 'full_name' jumped to {nulls / rows:.1%} ({nulls} of {rows} rows)" in hit["message"]
    assert "staging.postgres__users" in hit["message"] and hit["observed"] > hit["upper"]
    assert result.results["stage:postgres.users"].status == "skipped"
    _source(pg_dsn, "UPDATE users SET full_name = 'Restored Name' WHERE full_name IS NULL AND updated_at >= %(s)s",
            {"s": window_start})
    rerun_clean()

    # 2. Duplicate primary keys (the source lost its constraint).
    day += 1
    window_start = day_end(day - 1) - timedelta(hours=2)
    simulate_day(pg_dsn, day)
    _source(pg_dsn, "ALTER TABLE orders DROP CONSTRAINT orders_pkey CASCADE, DROP CONSTRAINT orders_public_id_key")
    _source(pg_dsn, "INSERT INTO orders SELECT * FROM orders WHERE updated_at >= %(s)s ORDER BY id LIMIT 3",
            {"s": window_start})
    rows = _window(pg_dsn, "orders", window_start, day_end(day))[0]
    result = run_day()
    hit = only(fired(home, result.run_id), {"unique"})[(ORDERS, "unique:id")]
    assert hit["message"] == f"{ORDERS}: 3 duplicate key(s) on (id) in {rows} rows"
    _source(pg_dsn, "DELETE FROM orders a USING orders b WHERE a.id = b.id AND a.ctid > b.ctid")
    _source(pg_dsn, "ALTER TABLE orders ADD PRIMARY KEY (id), ADD UNIQUE (public_id)")
    rerun_clean()

    # 3. A source that stops updating: a day with no activity at all.
    day += 1
    newest = _source(pg_dsn, "SELECT max(updated_at) FROM orders")[0][0]
    result = run_day()
    assert result.ok  # staleness warns; nothing is wrong with what was loaded
    hits = only(fired(home, result.run_id), {"freshness", "row_count"})
    hit = hits[(ORDERS, "freshness:updated_at")]
    age = (day_end(day) - newest) / timedelta(hours=1)
    assert hit["status"] == "warn"
    assert hit["message"] == (f"{ORDERS}: newest updated_at is {newest:%Y-%m-%d %H:%M} UTC, {age:.1f}h before the "
                              f"run's end {day_end(day):%Y-%m-%d %H:%M} UTC; the SLA is 6h")

    # 4. A 60% volume drop.
    day += 1
    window_start = day_end(day - 1) - timedelta(hours=2)
    simulate_day(pg_dsn, day, scale=scenario.SCALE * 0.4)
    rows = _window(pg_dsn, "orders", window_start, day_end(day))[0]
    result = run_day()
    assert result.ok
    hit = only(fired(home, result.run_id), {"row_count"})[(ORDERS, "row_count")]
    assert hit["status"] == "warn" and hit["observed"] == rows < hit["lower"]
    assert hit["message"].startswith(f"{ORDERS}: {rows} rows in this batch; expected {hit['lower']:.0f} to ")

    # 5. Orphan foreign keys: three orders of users that do not exist, one more inside the grace period.
    day += 1
    window_start = day_end(day - 1) - timedelta(hours=2)
    simulate_day(pg_dsn, day)
    _source(pg_dsn, "ALTER TABLE orders DROP CONSTRAINT orders_user_id_fkey")
    _source(pg_dsn, """
        INSERT INTO orders SELECT id + 1000000, md5(id::text)::uuid, user_id + 900000, status, currency, subtotal,
                                  shipping, total_amount, created_at, updated_at
        FROM orders WHERE created_at >= %(s)s ORDER BY id LIMIT 3""", {"s": window_start})
    late = day_end(day) - timedelta(minutes=30)
    _source(pg_dsn, """
        INSERT INTO orders SELECT id + 2000000, md5((id + 2000000)::text)::uuid, user_id + 900000, status, currency,
                                  subtotal, shipping, total_amount, %(t)s, %(t)s
        FROM orders WHERE created_at >= %(s)s ORDER BY id LIMIT 1""", {"s": window_start, "t": late})
    rows = _window(pg_dsn, "orders", window_start, day_end(day))[0]
    result = run_day()
    hit = only(fired(home, result.run_id), {"references"})[(ORDERS, "references:user_id")]
    assert hit["message"] == (f"{ORDERS}: 3 of {rows} rows have a user_id not in staging.postgres__users.id "
                              f"({3 / rows:.1%}, tolerance 0.0%); 1 more within the 1h grace period")
    _source(pg_dsn, "DELETE FROM orders WHERE id > 1000000")
    rerun_clean()

    # 6. A dropped column.
    day += 1
    simulate_day(pg_dsn, day)
    _source(pg_dsn, "ALTER TABLE orders DROP COLUMN shipping")
    result = run_day()
    hits = only(fired(home, result.run_id), {"schema", "not_null", "sql"})
    assert hits[(ORDERS, "schema")]["message"] == (
        f"{ORDERS}: column 'shipping' is missing from the batch (the contract has it as decimal(12,2))")
    assert "'shipping', which is not in the batch" in hits[(ORDERS, "total_is_subtotal_plus_shipping")]["message"]
    _source(pg_dsn, "ALTER TABLE orders ADD COLUMN shipping numeric(12,2)")
    _source(pg_dsn, "UPDATE orders SET shipping = total_amount - subtotal")
    rerun_clean()

    # 7. A type change.
    day += 1
    simulate_day(pg_dsn, day)
    published = load_table(open_catalog(home), ORDERS).current_snapshot().snapshot_id
    _source(pg_dsn, "ALTER TABLE orders ALTER COLUMN shipping TYPE text")
    result = run_day()
    hits = only(fired(home, result.run_id), {"schema", "sql"})
    assert hits[(ORDERS, "schema")]["message"] == (
        f"{ORDERS}: column 'shipping' changed type from decimal(12,2) to string")
    assert result.results["stage:postgres.orders"].status == "skipped"
    assert load_table(open_catalog(home), ORDERS).current_snapshot().snapshot_id == published
    _source(pg_dsn, "ALTER TABLE orders ALTER COLUMN shipping TYPE numeric(12,2) USING shipping::numeric")
    rerun_clean()

"""Reconciliation against a real PostgreSQL: a hard delete the incremental load cannot see is found,
recorded with its row, removed from staging, and the finance mart follows."""

from __future__ import annotations

import json

import psycopg
from typer.testing import CliRunner

from lakeward.cli import app
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from lakeward.runner import run
from tests.conftest import NIGHT
from tests.recovery.conftest import T0, alerts_of, fresh_database, small_definition, use
from tests.test_postgres_incremental import mart_rows, source_rows

cli = CliRunner()


def test_a_hard_delete_is_found_applied_and_reaches_the_mart(pg_server, tmp_path, monkeypatch):
    dsn = fresh_database(pg_server, "r_reconcile")
    home = use(monkeypatch, tmp_path / "home", dsn)
    defn = small_definition(tmp_path)
    assert run(defn, home, end=T0, now=NIGHT).ok
    clean = cli.invoke(app, ["reconcile", "--definition", str(defn.path)])
    assert clean.exit_code == 0, clean.stdout + clean.stderr
    assert "MATCH postgres.payments" in clean.stdout and "MISMATCH" not in clean.stdout

    with psycopg.connect(dsn) as conn:
        victim, amount, day = conn.execute("""
            SELECT p.id, p.amount, (p.created_at AT TIME ZONE 'UTC')::date FROM payments p
            WHERE p.status = 'succeeded' AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.payment_id = p.id)
            ORDER BY p.id LIMIT 1""").fetchone()
        conn.execute("DELETE FROM payments WHERE id = %s", (victim,))
    before = {(r[0], r[1]): r[2] for r in mart_rows(home)}
    assert run(defn, home, end=T0, now=NIGHT).ok  # the incremental load cannot see a delete
    assert engine.query(open_catalog(home), f"SELECT count(*) AS n FROM staging.postgres__payments "
                                            f"WHERE id = {victim}").to_pylist() == [{"n": 1}]

    found = cli.invoke(app, ["reconcile", "--definition", str(defn.path)])
    assert found.exit_code == 1
    assert "MISMATCH postgres.payments" in found.stdout and "1 deleted_in_source" in found.stdout
    rows = engine.query(open_catalog(home), "SELECT * FROM audit.reconciliations WHERE kind <> 'day'").to_pylist()
    assert len(rows) == 1
    assert json.loads(rows[0]["row_key"]) == {"id": victim} and rows[0]["kind"] == "deleted_in_source"
    assert rows[0]["warehouse_value"] == str(amount) and rows[0]["applied"] is True
    [alert] = [a for a in alerts_of(home) if a["kind"] == "reconcile_mismatch"]
    assert "postgres.payments" in alert["message"]

    assert engine.query(open_catalog(home), f"SELECT count(*) AS n FROM staging.postgres__payments "
                                            f"WHERE id = {victim}").to_pylist() == [{"n": 0}]
    after = mart_rows(home)
    currency = next(r[1] for r in after if r[0] == day and before[(r[0], r[1])] != r[2])
    assert before[(day, currency)] - dict(((r[0], r[1]), r[2]) for r in after)[(day, currency)] == amount
    assert after == source_rows(dsn)  # the mart agrees with SQL run on the source again

    again = cli.invoke(app, ["reconcile", "--definition", str(defn.path)])
    assert again.exit_code == 0, again.stdout

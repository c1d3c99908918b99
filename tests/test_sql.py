"""Every SQL file is Athena (Trino) SQL that also runs on DuckDB over the local warehouse."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from lakeward import sql
from lakeward.lake import engine, landing
from lakeward.lake.catalog import open_catalog
from lakeward.runner import run
from tests.conftest import NIGHT, REPO

SQL_FILES = sorted((REPO / "sql").rglob("*.sql"))
# SQL reading other sources runs in the tests that start those sources (tests/marts, tests/events, tests/ga4).
POSTGRES_SQL = [p for p in SQL_FILES if all(
    t.split(".")[1].startswith("postgres__") or t.startswith("marts.") for t in sql.tables_read(sql.read(p)))]


def test_there_is_sql_to_check():
    assert {p.parent.name for p in SQL_FILES} == {"staging", "marts"}


@pytest.mark.parametrize("path", POSTGRES_SQL, ids=lambda p: str(p.relative_to(REPO)))
def test_sql_parses_as_trino_and_runs_on_duckdb(path: Path, definition, marketplace_db, home):
    result = run(definition, home, end=datetime(2026, 10, 1, tzinfo=UTC), now=NIGHT)
    assert result.ok
    tree = sql.read(path)  # raises on anything Trino would not parse
    con = engine.connect(open_catalog(home))
    con.execute("CREATE SCHEMA landing")
    for step, outcome in ((s, r.outcome) for s, r in result.results.items() if s.startswith("extract:")):
        name = step.removeprefix("extract:").replace(".", "__")
        manifest = landing.committed(home.landing, *step.removeprefix("extract:").split("."), outcome.window)
        con.register(f"_{name}", landing.read_batch(home.landing, manifest))
        con.execute(f"CREATE VIEW landing.{name} AS SELECT * FROM _{name}")
    rows = con.sql(sql.to_duckdb(tree)).fetchall()
    assert rows, f"{path.name} returned no rows on a loaded warehouse"


def test_staging_users_hashes_email_like_athena(definition, marketplace_db, home):
    assert run(definition, home, end=datetime(2026, 10, 1, tzinfo=UTC), now=NIGHT).ok
    staged = engine.query(open_catalog(home), "SELECT * FROM staging.postgres__users ORDER BY id")
    assert "email" not in staged.column_names
    with psycopg.connect(marketplace_db) as conn:
        emails = [r[0] for r in conn.execute("SELECT email FROM users ORDER BY id").fetchall()]
    # Athena's to_hex is upper-case hex of the digest bytes.
    expected = [hashlib.sha256(e.strip().lower().encode()).hexdigest().upper() for e in emails]
    assert staged["email_sha256"].to_pylist() == expected


def test_tables_read_ignores_cte_names():
    tree = sql.parse("WITH a AS (SELECT * FROM staging.x) SELECT * FROM a JOIN marts.y ON true")
    assert sql.tables_read(tree) == {"staging.x", "marts.y"}


def test_only_one_select_per_file():
    with pytest.raises(sql.SqlError, match="expected exactly one SELECT statement, found 2"):
        sql.parse("SELECT 1; SELECT 2", "two.sql")
    with pytest.raises(sql.SqlError, match="expected a SELECT, found DELETE"):
        sql.parse("DELETE FROM staging.x", "delete.sql")

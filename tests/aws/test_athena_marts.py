"""A mart publishes on Athena as ONE MERGE INTO (one Iceberg commit): after it the mart holds exactly the new
SELECT's rows: changed rows updated, vanished keys deleted, new keys inserted, NULL keys matched, never an
empty moment. Athena itself is not available offline, so the statement's semantics are checked on DuckDB
(sqlglot's transpilation of the same Trino text); the expected rows are written out by hand."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from lakeward import sql
from lakeward.aws.athena_marts import MartStatementError, merge_statement, statements
from lakeward.lake import engine
from lakeward.load_definition import load_definition
from tests.conftest import REPO

FRESH = """WITH src AS (SELECT * FROM (VALUES (1, 'a', 1.0), (2, 'a', 20.0), (4, 'b', 4.0), (NULL, 'n', 9.0))
                        AS v (k1, k2, v))
SELECT k1, k2, v FROM src"""
EXPECTED = {(1, "a", 1.0), (2, "a", 20.0), (4, "b", 4.0), (None, "n", 9.0)}


def publish(con, text: str) -> set[tuple]:
    con.execute(sqlglot.parse_one(text, read="trino").sql("duckdb"))
    return set(con.execute("SELECT k1, k2, v FROM marts.m").fetchall())


@pytest.fixture
def con():
    con = engine.duck()
    con.execute("CREATE SCHEMA marts; CREATE TABLE marts.m (k1 INTEGER, k2 VARCHAR, v DOUBLE)")
    return con


def test_one_merge_replaces_the_mart_with_exactly_the_new_rows(con):
    # kept as is, updated, deleted (its key is gone), and a NULL key that must not be doubled
    con.execute("INSERT INTO marts.m VALUES (1, 'a', 1.0), (2, 'a', 2.0), (3, 'a', 3.0), (NULL, 'n', 9.0)")
    text = merge_statement("marts.m", sql.parse(FRESH), ["k1", "k2"])
    assert len(sqlglot.parse(text, read="trino")) == 1
    assert publish(con, text) == EXPECTED
    assert publish(con, text) == EXPECTED  # a rerun changes nothing
    assert con.execute("SELECT count(*) FROM marts.m").fetchone()[0] == len(EXPECTED)


def test_the_first_build_fills_an_empty_mart(con):
    assert publish(con, merge_statement("marts.m", sql.parse(FRESH), ["k1", "k2"])) == EXPECTED


def test_every_declared_mart_publishes_with_one_merge_into_itself():
    defn = load_definition(REPO / "pipeline.yaml")
    for mart in defn.marts:
        (text,) = statements(defn, mart)
        tree = sqlglot.parse_one(text, read="trino")
        assert isinstance(tree, exp.Merge), mart
        assert tree.this.sql("trino") == f'"marts"."{mart}" AS t'


def test_a_select_star_mart_is_refused_with_its_file_named():
    with pytest.raises(MartStatementError, match="sql/marts/x.sql: .* name every output column"):
        merge_statement("marts.x", sql.parse("SELECT * FROM staging.a"), ["id"], origin="sql/marts/x.sql")

"""Every mart is Athena (Trino) SQL, and none uses a function whose DuckDB translation changes its meaning.

The pinned results below are the Trino semantics (documented behaviour, worked out by hand) next to what
DuckDB gives for sqlglot's translation. Where they differ the marts must avoid the construct; the last
test walks every mart's syntax tree to prove they do. Each mart also runs on DuckDB in its own test.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from lakeward import sql
from lakeward.lake import engine
from tests.conftest import REPO

MARTS = sorted((REPO / "sql" / "marts").glob("*.sql"))


def duck(trino: str) -> tuple:
    con = engine.duck()
    return con.execute(sql.to_duckdb(trino)).fetchone()


@pytest.mark.parametrize("path", MARTS, ids=lambda p: p.name)
def test_every_mart_parses_strictly_as_trino(path):
    sqlglot.parse_one(path.read_text(), read="trino", error_level=sqlglot.ErrorLevel.RAISE)
    assert isinstance(sql.read(path), exp.Query)


def test_every_mart_is_declared():
    from lakeward.load_definition import load_definition
    declared = {REPO / m.sql for m in load_definition(REPO / "pipeline.yaml").marts.values()}
    assert set(MARTS) <= declared


# --- pitfalls: where DuckDB's answer differs from Athena's -------------------------------------------------
def test_date_diff_over_timestamps_counts_boundaries_on_duckdb():
    # Trino: 23:00 to 01:00 the next day is 0 whole days; DuckDB counts the midnight it crosses.
    assert duck("SELECT date_diff('day', TIMESTAMP '2026-01-01 23:00:00', TIMESTAMP '2026-01-02 01:00:00')") == (1,)
    # On DATEs both count calendar days, which is what fct_refunds.lag_days means.
    assert duck("""SELECT date_diff('day', CAST(TIMESTAMP '2026-01-01 23:00:00' AS DATE),
                                   CAST(TIMESTAMP '2026-01-02 01:00:00' AS DATE))""") == (1,)


def test_date_diff_in_months_counts_boundaries_on_duckdb():
    # Trino: 31 Jan to 1 Feb is 0 whole months; the cohort marts use year*12 + month differences instead.
    assert duck("SELECT date_diff('month', DATE '2026-01-31', DATE '2026-02-01')") == (1,)
    assert duck("""SELECT (year(DATE '2026-02-01') - year(DATE '2026-01-31')) * 12
                          + month(DATE '2026-02-01') - month(DATE '2026-01-31')""") == (1,)


def test_at_time_zone_on_a_plain_timestamp_shifts_the_other_way():
    # Trino reads the plain timestamp as UTC (session zone) and shows it in Berlin: 2026-01-02 00:30 +01:00,
    # the instant 23:30 UTC. DuckDB takes it as Berlin wall time: the instant 22:30 UTC.
    (instant,) = duck("SELECT TIMESTAMP '2026-01-01 23:30:00' AT TIME ZONE 'Europe/Berlin'")
    assert (instant.hour, instant.minute) == (22, 30)


def test_format_datetime_does_not_exist_on_duckdb_but_date_format_translates():
    with pytest.raises(duckdb.Error, match="format_datetime"):
        duck("SELECT format_datetime(TIMESTAMP '2026-01-01 10:00:00', 'yyyy-MM')")
    assert duck("SELECT date_format(DATE '2026-11-22', '%Y-%m')") == ("2026-11",)


def test_count_if_over_only_nulls_is_null_on_duckdb():
    # Trino's count_if counts true values: 0 here. The marts count with count(CASE WHEN ... THEN 1 END).
    assert duck("SELECT count_if(x = 1) FROM (VALUES CAST(NULL AS INTEGER)) AS t (x)") == (None,)
    assert duck("SELECT count(CASE WHEN x = 1 THEN 1 END) FROM (VALUES CAST(NULL AS INTEGER)) AS t (x)") == (0,)


def test_calendar_functions_keep_trino_meaning():
    # 2026-11-22 is a Sunday: ISO weekday 7 on Trino; 2027-01-01 belongs to ISO week 53 of 2026.
    assert duck("""SELECT day_of_week(DATE '2026-11-22'), week_of_year(DATE '2027-01-01'),
                          year_of_week(DATE '2027-01-01'), CAST(date_trunc('week', DATE '2026-11-22') AS DATE)""") \
        == (7, 53, 2026, date(2026, 11, 16))
    # date_add keeps the month end, as Trino does.
    assert duck("SELECT CAST(date_add('month', 1, DATE '2026-01-31') AS DATE)") == (date(2026, 2, 28),)


@pytest.mark.parametrize("path", MARTS, ids=lambda p: p.name)
def test_marts_avoid_every_construct_that_changes_meaning(path):
    tree = sql.read(path)
    assert not list(tree.find_all(exp.AtTimeZone)), "AT TIME ZONE"
    assert not list(tree.find_all(exp.CountIf)), "count_if"
    assert not [f for f in tree.find_all(exp.Anonymous) if f.name.lower() == "format_datetime"], "format_datetime"
    for diff in tree.find_all(exp.DateDiff):
        unit = (diff.unit.name if diff.unit else "day").lower()
        assert unit == "day", f"date_diff in {unit}"
        for arg in (diff.this, diff.expression):
            assert isinstance(arg, exp.Cast) and arg.to.this == exp.DataType.Type.DATE, "date_diff over timestamps"

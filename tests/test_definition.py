"""A bad definition gets one clear error naming the file, the key and the problem."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from lakeward import dag
from lakeward.definition import DefinitionError
from lakeward.load_definition import load_definition
from lakeward.runner import run
from tests.conftest import NIGHT, write_definition


def test_repository_definition_is_valid():
    defn = load_definition("pipeline.yaml")
    steps = dag.build(defn)
    assert steps["mart:daily_revenue"].upstream == {
        "stage:postgres.orders", "stage:postgres.payments", "stage:postgres.refunds"}


def test_unknown_source_kind(tmp_path):
    def edit(raw):
        raw["sources"]["postgres"]["kind"] = "mysql"

    with pytest.raises(DefinitionError) as err:
        write_definition(tmp_path, edit)
    assert err.value.file.endswith("pipeline.yaml")
    assert err.value.key == "sources.postgres"
    assert "unknown source kind 'mysql'" in err.value.problem and "postgres" in err.value.problem
    assert err.value.line is not None and str(err.value).startswith(f"{tmp_path / 'pipeline.yaml'}:")


def test_unknown_key_is_named_with_its_line(tmp_path):
    def edit(raw):
        raw["sources"]["postgres"]["objects"]["orders"]["primary_kee"] = ["id"]

    with pytest.raises(DefinitionError) as err:
        write_definition(tmp_path, edit)
    assert err.value.key == "sources.postgres.objects.orders.primary_kee"
    lines = (tmp_path / "pipeline.yaml").read_text().splitlines()
    assert "primary_kee" in lines[err.value.line - 1]


def test_bad_identifier_and_duration(tmp_path):
    def edit(raw):
        raw["sources"]["postgres"]["objects"]["orders"]["cursor"] = "updated_at; drop table x"

    with pytest.raises(DefinitionError, match=r"sources\.postgres\.objects\.orders\.cursor: .*pattern"):
        write_definition(tmp_path, edit)

    def edit_lookback(raw):
        raw["sources"]["postgres"]["objects"]["orders"]["lookback"] = "two hours"

    with pytest.raises(DefinitionError, match=r"orders\.lookback"):
        write_definition(tmp_path, edit_lookback)


def test_mart_reading_an_undeclared_table(tmp_path):
    sql = tmp_path / "bad.sql"
    sql.write_text("SELECT o.id AS id FROM staging.postgres__orders o JOIN staging.stripe__charges c ON c.id = o.id")

    def edit(raw):
        raw["marts"]["bad"] = {"sql": str(sql), "key": ["id"], "grain": "one row per order"}

    with pytest.raises(DefinitionError) as err:
        write_definition(tmp_path, edit)
    assert err.value.key == "marts.bad.sql"
    assert "staging.stripe__charges" in err.value.problem and "does not declare" in err.value.problem


def test_marts_in_a_cycle(tmp_path):
    (tmp_path / "a.sql").write_text("SELECT id FROM marts.b")
    (tmp_path / "b.sql").write_text("WITH x AS (SELECT id FROM marts.a) SELECT id FROM x")

    def edit(raw):
        raw["marts"]["a"] = {"sql": str(tmp_path / "a.sql"), "key": ["id"], "grain": "id"}
        raw["marts"]["b"] = {"sql": str(tmp_path / "b.sql"), "key": ["id"], "grain": "id"}

    with pytest.raises(DefinitionError) as err:
        write_definition(tmp_path, edit)
    assert "cycle" in err.value.problem
    assert "a -> b -> a" in err.value.problem or "b -> a -> b" in err.value.problem


def test_mart_sql_that_does_not_parse(tmp_path):
    (tmp_path / "broken.sql").write_text("SELECT FROM WHERE")

    def edit(raw):
        raw["marts"]["broken"] = {"sql": str(tmp_path / "broken.sql"), "key": ["id"], "grain": "id"}

    with pytest.raises(DefinitionError, match=r"marts\.broken\.sql: .*broken\.sql: not valid Athena/Trino SQL"):
        write_definition(tmp_path, edit)


def test_primary_key_column_missing_from_the_table(tmp_path, marketplace_db, home):
    def edit(raw):
        raw["sources"]["postgres"]["objects"]["orders"]["primary_key"] = ["order_id"]

    defn = write_definition(tmp_path, edit)
    result = run(defn, home, end=datetime(2026, 10, 1, tzinfo=UTC), now=NIGHT)
    failed = result.results["extract:postgres.orders"]
    assert failed.status == "failed"
    assert "sources.postgres.objects.orders.primary_key" in failed.error
    assert "column 'order_id' is not in table public.orders" in failed.error
    assert str(tmp_path / "pipeline.yaml") in failed.error
    # Its downstream did not run; other objects were not held back.
    assert result.results["stage:postgres.orders"].status == "skipped"
    assert result.results["mart:daily_revenue"].status == "skipped"
    assert result.results["stage:postgres.users"].status == "succeeded"
    with psycopg.connect(marketplace_db) as conn:  # the source was only read
        assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] > 0

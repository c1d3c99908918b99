"""The command line on a loaded warehouse: query formats, the information schema, status, errors."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from lakeward.cli import app
from lakeward.runner import run
from tests.conftest import NIGHT

cli = CliRunner()


@pytest.fixture
def loaded(definition, marketplace_db, home):
    assert run(definition, home, end=datetime(2026, 10, 1, tzinfo=UTC), now=NIGHT).ok
    return definition


def test_query_formats(loaded):
    sql = "select currency, count(*) as days from marts.daily_revenue group by currency order by currency"
    as_json = json.loads(cli.invoke(app, ["query", sql, "--format", "json"]).stdout)
    as_csv = list(csv.DictReader(io.StringIO(cli.invoke(app, ["query", sql, "--format", "csv"]).stdout)))
    table = cli.invoke(app, ["query", sql], env={"COLUMNS": "200"}).stdout
    assert [r["currency"] for r in as_json] == ["EUR", "GBP", "USD"]
    assert [(r["currency"], int(r["days"])) for r in as_csv] == [(r["currency"], r["days"]) for r in as_json]
    assert "3 row(s)" in table and "USD" in table


def test_information_schema_lists_every_iceberg_table(loaded):
    out = cli.invoke(app, ["query", "select table_schema || '.' || table_name as t from information_schema.tables",
                           "-f", "json"])
    tables = {r["t"] for r in json.loads(out.stdout)}
    staged = {f"staging.postgres__{o}" for o in loaded.sources["postgres"].objects}
    marts = {f"marts.{m}" for m in loaded.marts}
    assert tables == staged | marts | {"audit.runs", "audit.quality_metrics", "audit.quality_results"}


def test_a_bad_query_names_the_problem(loaded):
    out = cli.invoke(app, ["query", "select nope from marts.daily_revenue"])
    assert out.exit_code == 1 and "nope" in out.stderr


def test_status_shows_watermark_and_freshness(loaded):
    out = cli.invoke(app, ["status", "--definition", str(loaded.path), "--format", "json"])
    assert out.exit_code == 0
    rows = {r["object"]: r for r in json.loads(out.stdout)}
    assert set(rows) == set(loaded.sources["postgres"].objects)
    assert rows["orders"]["watermark"] == "2026-10-01 00:00 UTC" and rows["orders"]["last_status"] == "succeeded"
    assert rows["orders"]["fresh"] is False  # the watermark trails today's clock by weeks, past its 1h cadence
    table = cli.invoke(app, ["status", "--definition", str(loaded.path)]).stdout
    assert "orders" in table and "6 row(s)" in table


def test_validate_and_an_invalid_definition(tmp_path):
    assert "OK" in cli.invoke(app, ["validate"]).stdout
    bad = tmp_path / "pipeline.yaml"
    bad.write_text("version: 1\nsources:\n  pg:\n    kind: oracle\n")
    out = cli.invoke(app, ["validate", "--definition", str(bad)])
    assert out.exit_code == 2
    assert f"{bad}:3: sources.pg: unknown source kind 'oracle'" in " ".join(out.stderr.split())


def test_run_rejects_an_unknown_source(home):
    out = cli.invoke(app, ["run", "--source", "oracle"])
    assert out.exit_code == 2 and "unknown source 'oracle'" in out.stderr


def test_run_reruns_a_window_from_the_command_line(loaded):
    args = ["run", "--definition", str(loaded.path), "--start", "2000-01-01T00:00:00Z", "--end", "2026-10-01T00:00:00Z"]
    replay = cli.invoke(app, args)
    assert replay.exit_code == 0, replay.stderr
    fresh = cli.invoke(app, [*args, "--reextract"])
    assert fresh.exit_code == 0, fresh.stderr
    out = cli.invoke(app, ["query", "select details from audit.runs where step = 'extract:postgres.orders' "
                                    "order by finished_at", "-f", "json"])
    reused = [json.loads(r["details"])["reused_landing"] for r in json.loads(out.stdout)]
    assert reused == [False, True, False]  # first load, replay of the landed batch, read again on request

"""`lakeward quality`: the newest result per rule (or one run's), filtered by table, as a table; exit 1 on a fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from lakeward import cli
from lakeward.cli import app
from lakeward.lake.catalog import open_catalog
from lakeward.quality import store

T = datetime(2026, 10, 20, 18, tzinfo=UTC)


def _result(run_id: str, table: str, rule: str, status: str, at: datetime) -> store.ResultRow:
    return store.ResultRow(run_id, table, "b", rule, rule.split(":")[0], None, "block", status, 1.0, None, 0.0,
                           f"{table}: {rule} is {status} in {run_id}", at, at)


def test_the_quality_command_shows_the_newest_results_and_fails_on_a_failure(home, monkeypatch):
    monkeypatch.setattr(cli.console, "width", 250)  # a wide page, whatever terminal the test worker has
    catalog = open_catalog(home)
    store.append(catalog, [], [
        _result("run-1", "staging.postgres__orders", "unique:id", "fail", T),
        _result("run-2", "staging.postgres__orders", "unique:id", "pass", T + timedelta(hours=1)),
        _result("run-2", "staging.postgres__users", "schema", "warn", T + timedelta(hours=1)),
    ])
    runner = CliRunner()
    newest = runner.invoke(app, ["quality"], env={"COLUMNS": "250"})
    assert newest.exit_code == 0, newest.output
    assert "unique:id is pass in run-2" in newest.output and "schema is warn in run-2" in newest.output
    assert "run-1" not in newest.output and "1 pass, 1 warn" in newest.output

    one_run = runner.invoke(app, ["quality", "--run", "run-1", "--table", "staging.postgres__orders"],
                            env={"COLUMNS": "250"})
    assert one_run.exit_code == 1
    assert "unique:id is fail in run-1" in one_run.output and "1 fail" in one_run.output

"""The `lakeward` command line: demo, run, status, query, validate."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

import pyarrow as pa
import typer
from rich.console import Console
from rich.table import Table

from lakeward import dag, runner
from lakeward.definition import Definition, DefinitionError
from lakeward.demo import embedded_postgres
from lakeward.home import Home
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from lakeward.load_definition import load_definition

app = typer.Typer(help="Lakeward: one governed Iceberg warehouse, the same pipeline on AWS and on a laptop.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
console = Console()
errors = Console(stderr=True, soft_wrap=True)  # one message, one line: easy to grep and to page
DefinitionOption = Annotated[str | None, typer.Option("--definition", "-d", help="Path to pipeline.yaml.")]


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _definition(path: str | None) -> Definition:
    try:
        return load_definition(path)
    except DefinitionError as err:
        errors.print(f"[bold red]Invalid definition[/] {err}", highlight=False)
        raise typer.Exit(2) from None


def _utc(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        errors.print(f"--{name}: '{value}' is not an ISO-8601 timestamp (e.g. 2026-11-01T00:00:00Z)")
        raise typer.Exit(2) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command()
def demo(
    hours: Annotated[int, typer.Option(help="Simulated hours of live changes after the initial load.")] = 6,
    days: Annotated[int, typer.Option(help="Days of history generated before the live hours.")] = 30,
    scale: Annotated[float, typer.Option(help="Data volume factor (1.0 is about 12k orders a month).")] = 1.0,
    seed: Annotated[int, typer.Option(help="Generator seed: the same seed gives the same company.")] = 7,
    definition: DefinitionOption = None,
) -> None:
    """Start the embedded sources, generate a company, run the pipeline over simulated hours."""
    from lakeward import report
    from lakeward.demo import run_demo

    defn, home = _definition(definition), Home.from_env()
    result = run_demo.run_demo(defn, home, hours=hours, days=days, scale=scale, seed=seed, console=console)
    report.print_summary(console, defn, home, result)
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def run(
    source: Annotated[
        list[str] | None, typer.Option(help="Only this source (repeatable) and the marts it feeds.")] = None,
    start: Annotated[
        str | None, typer.Option(help="Window start, ISO-8601 UTC (default: watermark - lookback).")] = None,
    end: Annotated[str | None, typer.Option(help="Window end, ISO-8601 UTC (default: now).")] = None,
    reextract: Annotated[bool, typer.Option(help="Read the source again even if this window already landed.")] = False,
    rebuild_marts: Annotated[bool, typer.Option(help="Rebuild partitioned marts whole, not by day.")] = False,
    definition: DefinitionOption = None,
) -> None:
    """Run the pipeline once: extract, land, stage, then the marts downstream, in dependency order."""
    from lakeward import report

    defn, home = _definition(definition), Home.from_env()
    unknown = set(source or []) - set(defn.sources)
    if unknown:
        errors.print(f"--source: unknown source {sorted(unknown)[0]!r} (declared: {', '.join(defn.sources)})")
        raise typer.Exit(2)
    embedded_postgres.ensure_local_source(home.postgres_data)
    chosen = set(source) if source else None
    with report.step_progress(console, len(dag.select(dag.build(defn), chosen))) as on_event:
        result = runner.run(defn, home, sources=chosen, start=_utc(start, "start"), end=_utc(end, "end"),
                            reextract=reextract, rebuild_marts=rebuild_marts, on_event=on_event)
    report.print_run(console, result)
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def status(
    format: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
    runs: Annotated[bool, typer.Option("--runs", help="Only the failed, crashed and stuck runs.")] = False,
    definition: DefinitionOption = None,
) -> None:
    """Per source object: last success, watermark and freshness; then the runs to recover and how."""
    from lakeward.recovery.lifecycle import settle
    from lakeward.status import object_status

    defn, home = _definition(definition), Home.from_env()
    settle(home, open_catalog(home))  # a dead run's journaled step records count in the objects' last success
    rows = [{
        "source": row.source, "object": row.object, "last_success": _ts(row.last_success),
        "watermark": _ts(row.watermark), "freshness": "-" if row.freshness is None else _age(row.freshness),
        "fresh": row.fresh, "last_status": row.last_status or "never run", "last_error": row.last_error or "",
    } for row in object_status(defn, open_catalog(home))]
    if runs:
        _print_rows(_runs_needing_attention(defn, home), ["run_id", "status", "started_at", "first_failure",
                                                         "command"], format)
        return
    _print_rows(rows, ["source", "object", "last_success", "watermark", "freshness", "fresh", "last_status",
                       "last_error"], format)
    if format is Format.table:
        for run in _runs_needing_attention(defn, home):
            console.print(f"[bold red]{run['status']}[/] run {run['run_id']} ({run['first_failure'][:120]}) "
                          f"-> recover with: [bold]{run['command']}[/]", highlight=False)


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="One SQL statement (Athena/Trino dialect).")],
    format: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
    dialect: Annotated[str, typer.Option(help="trino (Athena, default) or duckdb.")] = "trino",
) -> None:
    """Query the local warehouse: every Iceberg table is `namespace.table`."""
    try:
        result = engine.query(open_catalog(Home.from_env()), sql, dialect=dialect)
    except engine.QueryError as err:
        errors.print(f"[bold red]Query failed:[/] {err}", highlight=False)
        raise typer.Exit(1) from None
    _print_arrow(result, format)


@app.command()
def quality(
    table: Annotated[str | None, typer.Option(help="Only this table, e.g. staging.postgres__orders.")] = None,
    run: Annotated[str | None, typer.Option("--run", help="Results of this run id (default: the newest).")] = None,
) -> None:
    """Quality results: rule, status, observed value, bounds and message, per table."""
    from lakeward.quality.summary import latest, print_results

    rows = latest(open_catalog(Home.from_env()), table, run)
    print_results(console, rows, title=f"Quality results{f' of run {run}' if run else ''}")
    if any(r["status"] == "fail" for r in rows):
        raise typer.Exit(1)


@app.command()
def validate(definition: DefinitionOption = None) -> None:
    """Check the definition (schema, SQL files, table references, cycles) without running anything."""
    defn = _definition(definition)
    marts = ", ".join(defn.marts) or "none"
    console.print(f"[green]OK[/] {defn.path}: {len(defn.objects())} source objects, marts: {marts}")


def _print_arrow(result: pa.Table, fmt: Format) -> None:
    _print_rows(result.to_pylist(), result.column_names, fmt)


def _print_rows(rows: list[dict], columns: list[str], fmt: Format) -> None:
    if fmt is Format.json:
        sys.stdout.write(json.dumps(rows, default=str, indent=2) + "\n")
    elif fmt is Format.csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(buffer.getvalue())
    else:
        table = Table(*columns)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row.values()))
        console.print(table)
        console.print(f"{len(rows)} row(s)")


def _ts(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 1440}d {minutes % 1440 // 60}h" if minutes >= 1440 else f"{minutes // 60}h {minutes % 60}m"


def _runs_needing_attention(defn: Definition, home: Home) -> list[dict]:
    from lakeward.load_definition import definition_hash
    from lakeward.recovery.run_health import attention
    from lakeward.version import code_version

    meta = {"code_version": code_version(), "definition_hash": definition_hash(defn), "triggered_by": "cli:status"}
    return [{"run_id": h.run_id, "status": h.status, "started_at": _ts(h.started_at), "first_failure": h.first_failure,
             "command": h.command} for h in attention(defn, home, open_catalog(home), meta)]


from lakeward.recovery import commands as _recovery_commands  # noqa: E402 - registers on the app defined above

_recovery_commands.register(app)

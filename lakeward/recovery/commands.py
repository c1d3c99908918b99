"""The recovery and audit commands of the `lakeward` CLI: backfill, rerun, audit verify, scenario,
close-period, reproduce, reconcile. Each prints one clear line on failure and exits non-zero."""

from __future__ import annotations

import getpass
import re
from datetime import timedelta
from typing import Annotated

import typer

from lakeward.home import Home
from lakeward.lake.catalog import load_table, open_catalog

audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
scenario_app = typer.Typer(help="Fault scenarios: inject, run, report detected / contained / recovered.",
                           no_args_is_help=True)
_CHUNK = re.compile(r"^(\d+)\s*([hd])$")


def _cli():
    from lakeward import cli  # the shared helpers: definition loading, consoles, timestamp parsing

    return cli


def _chunk(value: str | None) -> timedelta | None:
    if value is None:
        return None
    match = _CHUNK.match(value.strip())
    if not match or int(match.group(1)) == 0:
        _cli().errors.print(f"--chunk: '{value}' is not a positive number of hours or days (e.g. 6h, 1d)")
        raise typer.Exit(2)
    return timedelta(**{"hours" if match.group(2) == "h" else "days": int(match.group(1))})


def backfill(
    source: Annotated[str, typer.Option(help="The source to backfill.")],
    object: Annotated[str | None, typer.Option("--object", help="Only this object of the source.")] = None,
    start: Annotated[str | None, typer.Option(help="Range start, ISO-8601 UTC (default: initial_start).")] = None,
    end: Annotated[str | None, typer.Option(help="Range end, ISO-8601 UTC (default: now).")] = None,
    chunk: Annotated[str | None, typer.Option(help="Window length, e.g. 1d or 6h (default: one window).")] = None,
    parallel: Annotated[int, typer.Option(min=1, max=16, help="Windows extracted at once.")] = 1,
    rebuild: Annotated[bool, typer.Option(help="Drop and reload the staging tables (after a type change).")] = False,
    definition: Annotated[str | None, typer.Option("--definition", "-d")] = None,
) -> None:
    """Load a past range through the normal path, window by window; rerun the same command to resume."""
    from lakeward.demo import embedded_postgres
    from lakeward.recovery.backfill import BackfillError
    from lakeward.recovery.backfill import backfill as run_backfill

    cli = _cli()
    defn, home = cli._definition(definition), Home.from_env()
    embedded_postgres.ensure_local_source(home.postgres_data)
    try:
        result = run_backfill(defn, home, source, obj=object, start=cli._utc(start, "start"),
                              end=cli._utc(end, "end"), chunk=_chunk(chunk), parallel=parallel, rebuild=rebuild,
                              on_window=lambda w, s: cli.console.print(f"{s:>6} {w.start:%Y-%m-%d %H:%M} .. "
                                                                       f"{w.end:%Y-%m-%d %H:%M}"))
    except BackfillError as err:
        cli.errors.print(f"[bold red]Backfill stopped:[/] {err}", highlight=False)
        raise typer.Exit(1) from None
    resumed = f", resumed after {result.done_before}" if result.done_before else ""
    cli.console.print(f"[green]backfill {result.backfill_id}[/]: {result.windows} window(s){resumed}, "
                      f"{result.rows} row(s) staged")


def rerun(
    run: Annotated[str, typer.Option("--run", help="The run id to recover (lakeward status lists them).")],
    step: Annotated[str | None, typer.Option(help="Only this step of it (and what is downstream).")] = None,
    reextract: Annotated[bool, typer.Option(help="Read the source again (after a bad batch was corrected).")
                         ] = False,
    definition: Annotated[str | None, typer.Option("--definition", "-d")] = None,
) -> None:
    """Rerun a failed or crashed run from its first failed step, over the same windows."""
    from lakeward import report
    from lakeward.demo import embedded_postgres
    from lakeward.recovery.rerun import RerunError
    from lakeward.recovery.rerun import rerun as run_rerun

    cli = _cli()
    defn, home = cli._definition(definition), Home.from_env()
    embedded_postgres.ensure_local_source(home.postgres_data)
    try:
        result = run_rerun(defn, home, run, step, reextract=reextract)
    except RerunError as err:
        cli.errors.print(f"[bold red]Cannot rerun:[/] {err}", highlight=False)
        raise typer.Exit(2) from None
    report.print_run(cli.console, result)
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the hash chain of audit.runs; fails naming the first record that was edited or removed."""
    from lakeward import audit, audit_chain

    cli = _cli()
    verdict = audit_chain.verify(load_table(open_catalog(Home.from_env()), audit.RUNS))
    if not verdict.ok:
        for problem in verdict.problems:
            cli.errors.print(f"[bold red]TAMPERED[/] audit.runs {problem}", highlight=False)
        raise typer.Exit(1)
    cli.console.print(f"[green]OK[/] audit.runs: {verdict.records} record(s), hash chain intact")


@scenario_app.command("list")
def scenario_list() -> None:
    """Every fault scenario: its name, the sources it needs and what goes wrong."""
    from lakeward.recovery import scenarios

    for s in scenarios.SCENARIOS.values():
        _cli().console.print(f"{s.name:<30} {'+'.join(s.sources):<11} {s.description}", highlight=False,
                             markup=False)


@scenario_app.command("run")
def scenario_run(name: Annotated[str, typer.Argument(help="A name from `lakeward scenario list`.")]) -> None:
    """Inject the fault into a sandbox copy of the local sources, run, recover, and report."""
    from lakeward.recovery import scenario_run as runner_module
    from lakeward.recovery import scenarios

    cli = _cli()
    if name not in scenarios.SCENARIOS:
        cli.errors.print(f"unknown scenario {name!r} (lakeward scenario list shows them)")
        raise typer.Exit(2)
    report = runner_module.run_named(name, Home.from_env())
    for line in report.lines():
        cli.console.print(line, highlight=False)
    if not report.passed:
        raise typer.Exit(1)


def close_period(
    period: Annotated[str, typer.Argument(help="The month to close, YYYY-MM.")],
    definition: Annotated[str | None, typer.Option("--definition", "-d")] = None,
) -> None:
    """Tag the finance marts and their upstream staging snapshots as the period's evidence."""
    from lakeward import periods

    cli = _cli()
    defn, home = cli._definition(definition), Home.from_env()
    try:
        closed = periods.close_period(defn, home, period, closed_by=f"cli:{getpass.getuser()}")
    except periods.PeriodError as err:
        cli.errors.print(f"[bold red]Cannot close:[/] {err}", highlight=False)
        raise typer.Exit(2) from None
    for table, snapshot in sorted(closed.tags.items()):
        if snapshot is None:
            cli.console.print(f"recorded {table} as empty in {closed.tag} (never built: no snapshot to tag)")
        else:
            cli.console.print(f"tagged {table} snapshot {snapshot} as {closed.tag}")


def reproduce(
    period: Annotated[str, typer.Option("--period", help="A closed month, YYYY-MM.")],
    definition: Annotated[str | None, typer.Option("--definition", "-d")] = None,
) -> None:
    """Recompute the period's finance marts from the tagged inputs and compare checksums with the tag."""
    from lakeward import periods

    cli = _cli()
    defn, home = cli._definition(definition), Home.from_env()
    try:
        results = periods.reproduce(defn, home, period)
    except periods.PeriodError as err:
        cli.errors.print(f"[bold red]Cannot reproduce:[/] {err}", highlight=False)
        raise typer.Exit(2) from None
    for r in results:
        mark = "[green]IDENTICAL[/]" if r.identical else "[bold red]DIFFERENT[/]"
        cli.console.print(f"{mark} {r.mart}: tagged {r.tagged}, recomputed {r.recomputed}", highlight=False)
    if not all(r.identical for r in results):
        raise typer.Exit(1)


def reconcile(
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    apply_deletes: Annotated[bool, typer.Option(help="Remove rows deleted at the source from staging.")] = True,
    definition: Annotated[str | None, typer.Option("--definition", "-d")] = None,
) -> None:
    """Full, throttled comparison of the finance objects with the warehouse, per day."""
    from lakeward.demo import embedded_postgres
    from lakeward.recovery import reconcile as rec

    cli = _cli()
    defn, home = cli._definition(definition), Home.from_env()
    embedded_postgres.ensure_local_source(home.postgres_data)
    report = rec.reconcile(defn, home, sources={source} if source else None, apply_deletes=apply_deletes)
    for line in report.lines():
        cli.console.print(line, highlight=False)
    if not report.matched:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(backfill)
    app.command()(rerun)
    app.command("close-period")(close_period)
    app.command()(reproduce)
    app.command()(reconcile)
    app.add_typer(audit_app, name="audit")
    app.add_typer(scenario_app, name="scenario")

"""What a person sees after a run: steps, rows and failures, and for the demo what the warehouse holds."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from lakeward.definition import Definition
from lakeward.headline import headline
from lakeward.home import Home
from lakeward.lake import engine
from lakeward.lake.catalog import all_tables, open_catalog
from lakeward.quality.summary import print_summary as quality_summary
from lakeward.runner import RunResult

if TYPE_CHECKING:
    from lakeward.demo.run_demo import DemoResult


@contextmanager
def step_progress(console: Console, steps: int) -> Iterator[Callable[[str, str, int], None]]:
    """A progress display for one run: finished steps overall, and rows read by each running extraction."""
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True)
    overall = progress.add_task("steps", total=steps)
    rows: dict[str, int] = {}
    lock = threading.Lock()  # events arrive from the runner's worker threads

    def on_event(step: str, status: str, n: int) -> None:
        with lock:
            if status == "rows":
                rows.setdefault(step, progress.add_task(step, total=None))
                progress.update(rows[step], advance=n, description=f"{step} rows")
            elif status in ("succeeded", "failed", "skipped"):
                progress.advance(overall)
                if step in rows:
                    progress.remove_task(rows.pop(step))

    with progress:
        yield on_event


def print_run(console: Console, result: RunResult) -> None:
    table = Table("step", "status", "window", "rows in", "rows out", "note", title=f"Run {result.run_id}")
    for sid, res in result.results.items():
        out = res.outcome
        window = f"{out.window.start:%Y-%m-%d %H:%M} → {out.window.end:%Y-%m-%d %H:%M}" if out and out.window else ""
        style = {"succeeded": "green", "failed": "bold red", "skipped": "yellow"}[res.status]
        table.add_row(sid, f"[{style}]{res.status}[/]", window, _n(out.rows_in if out else None),
                      _n(out.rows_out if out else None),
                      res.error or "; ".join(out.details.get("warnings", []) if out else []))  # quality warnings
    console.print(table)


def print_summary(console: Console, defn: Definition, home: Home, demo: DemoResult) -> None:
    statuses = Counter(r.status for run in demo.runs for r in run.results.values())
    console.print(
        f"\n{len(demo.runs)} pipeline runs: " + ", ".join(f"{n} steps {s}" for s, n in sorted(statuses.items()))
    )
    for run in demo.runs:
        for failed in run.failed():
            console.print(f"[bold red]FAILED[/] {run.run_id} {failed.step.id}: {failed.error}")
    catalog = open_catalog(home)
    quality_summary(console, catalog, [run.run_id for run in demo.runs])
    tables = Table("table", "rows", title="Warehouse")
    for identifier in all_tables(catalog):
        count = engine.query(catalog, f"SELECT count(*) AS n FROM {identifier}").column("n")[0].as_py()
        tables.add_row(identifier, _n(count))
    console.print(tables)
    if "daily_revenue" in defn.marts:
        latest = engine.query(catalog, """
            SELECT revenue_date, currency, gross_amount, refund_amount, net_amount, orders, buyers
            FROM marts.daily_revenue ORDER BY revenue_date DESC, currency LIMIT 9""")
        revenue = Table(*latest.column_names, title="marts.daily_revenue (latest days)")
        for row in latest.to_pylist():
            revenue.add_row(*(str(v) for v in row.values()))
        console.print(revenue)
    today = datetime.now(UTC).date()
    kpis = Table("KPI", "value", "mart", title=f"Headline KPIs (yesterday = {today - timedelta(days=1)})")
    for kpi in headline(defn, catalog, today):
        kpis.add_row(kpi.name, ", ".join(f"{k} {v}" for k, v in kpi.values.items()) or "no data", f"marts.{kpi.mart}")
    console.print(kpis)
    console.print(f"Lakehouse: {home.root}   Try: lakeward query \"select * from marts.daily_revenue\"")


def _n(value: int | None) -> str:
    return "" if value is None else f"{value:,}"

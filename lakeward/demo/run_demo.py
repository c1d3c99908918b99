"""`lakeward demo`: a whole company's pipeline on a laptop, from an empty folder to a reconciled mart.

It starts the embedded PostgreSQL, fills the marketplace with a month of history, loads it, then
simulates hours of live changes, running the pipeline after each, exactly as the hourly schedule would.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lakeward import runner
from lakeward.definition import Definition
from lakeward.demo import embedded_postgres, marketplace
from lakeward.home import Home


@dataclass
class DemoResult:
    runs: list[runner.RunResult] = field(default_factory=list)
    history_rows: dict[str, int] = field(default_factory=dict)
    simulated_changes: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.runs)


def reset(home: Home) -> None:
    """The demo starts from nothing: its lake, landing zone and catalog are its own to remove."""
    for path in (home.landing, home.warehouse):
        shutil.rmtree(path, ignore_errors=True)
    home.catalog_db.unlink(missing_ok=True)


def run_demo(defn: Definition, home: Home, *, hours: int, days: int, scale: float, seed: int,
             console: Console) -> DemoResult:
    reset(home)
    home.ensure()
    if not os.environ.get(embedded_postgres.DSN_VARIABLE):
        with console.status("Starting the embedded PostgreSQL"):
            server = embedded_postgres.server_dsn(home.postgres_data)
            os.environ[embedded_postgres.DSN_VARIABLE] = embedded_postgres.database_dsn(server, fresh=True)
    dsn = os.environ[embedded_postgres.DSN_VARIABLE]
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    live_from = now - timedelta(hours=hours)
    result = DemoResult()
    with console.status(f"Generating {days} days of marketplace history (scale {scale})"), psycopg.connect(dsn) as conn:
        marketplace.create_schema(conn)
        result.history_rows = marketplace.generate_history(
            conn, seed=seed, scale=scale, start=live_from - timedelta(days=days), end=live_from)
    console.print(f"Generated history: {_counts(result.history_rows)}")
    with _progress(console) as progress:
        task = progress.add_task("Initial load", total=hours + 1)
        result.runs.append(runner.run(defn, home, end=live_from, triggered_by="demo:initial-load"))
        progress.advance(task)
        for hour in range(hours):
            hour_start = live_from + timedelta(hours=hour)
            progress.update(task, description=f"Hour {hour_start:%Y-%m-%d %H:00} UTC")
            with psycopg.connect(dsn) as conn:
                changes = marketplace.simulate_hour(conn, seed=seed, scale=scale, hour_start=hour_start)
            for kind, n in changes.items():
                result.simulated_changes[kind] = result.simulated_changes.get(kind, 0) + n
            result.runs.append(runner.run(
                defn, home, end=hour_start + timedelta(hours=1), triggered_by="demo:hourly"))
            progress.advance(task)
    console.print(f"Simulated {hours} hour(s) of changes: {_counts(result.simulated_changes)}")
    return result


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {kind}" for kind, n in counts.items())


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=False,
    )

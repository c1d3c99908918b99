"""`lakeward demo`: a whole company's pipeline on a laptop, from an empty folder to a reconciled mart.

It starts every system of the synthetic company (the embedded PostgreSQL, the local API servers),
fills them with a month of history, loads it, then simulates hours of live changes, running the pipeline
after each, exactly as the hourly schedule would.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lakeward import runner
from lakeward.definition import Definition
from lakeward.demo.company import Company
from lakeward.demo.company import systems as company_systems
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
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    live_from = now - timedelta(hours=hours)
    result = DemoResult()
    company = Company(seed=seed, scale=scale, home=home)
    try:
        for system in company_systems():
            with console.status(f"Starting {system.name}"):
                system.start(company)
            company.systems[system.name] = system
        with console.status(f"Generating {days} days of history (scale {scale})"):
            for system in company.systems.values():
                _add(result.history_rows, system.generate_history(company, live_from - timedelta(days=days), live_from))
        console.print(f"Generated history: {_counts(result.history_rows)}")
        with _progress(console) as progress:
            task = progress.add_task("Initial load", total=hours + 1)
            result.runs.append(runner.run(defn, home, end=live_from, triggered_by="demo:initial-load"))
            progress.advance(task)
            for hour in range(hours):
                hour_start = live_from + timedelta(hours=hour)
                progress.update(task, description=f"Hour {hour_start:%Y-%m-%d %H:00} UTC")
                for system in company.systems.values():
                    _add(result.simulated_changes, system.simulate_hour(company, hour_start))
                result.runs.append(runner.run(
                    defn, home, end=hour_start + timedelta(hours=1), triggered_by="demo:hourly"))
                progress.advance(task)
        console.print(f"Simulated {hours} hour(s) of changes: {_counts(result.simulated_changes)}")
    finally:
        for system in company.systems.values():
            system.stop()
    return result


def _add(total: dict[str, int], counts: dict[str, int]) -> None:
    for kind, n in counts.items():
        total[kind] = total.get(kind, 0) + n


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {kind}" for kind, n in counts.items())


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=False,
    )

"""What people read: quality results as rich tables, for `lakeward quality` and the demo's report."""

from __future__ import annotations

from collections import Counter

from pyiceberg.catalog import Catalog
from rich.console import Console
from rich.table import Table

from lakeward.quality import store

STYLE = {"pass": "green", "learning": "cyan", "warn": "yellow", "fail": "bold red"}


def latest(catalog: Catalog, table: str | None = None, run_id: str | None = None) -> list[dict]:
    """The results of one run, or else the newest result of every table and rule."""
    rows = store.results(catalog, table, run_id)
    if run_id is None:
        newest: dict[tuple, dict] = {}
        for row in sorted(rows, key=lambda r: r["evaluated_at"]):
            newest[(row["table_name"], row["rule"])] = row
        rows = list(newest.values())
    return sorted(rows, key=lambda r: (r["table_name"], r["rule"]))


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def print_results(console: Console, rows: list[dict], title: str = "Quality") -> None:
    table = Table("table", "rule", "severity", "status", "observed", "bounds", "message", title=title)
    for r in rows:
        bounds = "" if r["lower"] is None and r["upper"] is None else f"{_number(r['lower'])}..{_number(r['upper'])}"
        table.add_row(r["table_name"], r["rule"], r["severity"], f"[{STYLE.get(r['status'], '')}]{r['status']}[/]",
                      _number(r["observed"]), bounds, r["message"])
    console.print(table)
    counts = Counter(r["status"] for r in rows)
    console.print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no quality results yet")


def print_summary(console: Console, catalog: Catalog, run_ids: list[str]) -> None:
    """Rules checked over the given runs by status, and every rule that fired."""
    rows = [r for run_id in run_ids for r in store.results(catalog, run_id=run_id)]
    counts = Counter(r["status"] for r in rows)
    console.print("Quality: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no rules evaluated"))
    fired = [r for r in rows if r["status"] in ("warn", "fail")]
    if fired:
        print_results(console, fired[-20:], title="Quality rules that fired")

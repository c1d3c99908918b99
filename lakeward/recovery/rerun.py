"""Rerun a failed or crashed run from its first failed step, over exactly the windows it had.

Steps that succeeded are not repeated; a stage step to redo brings its extract step along, which finds
the batch already committed in landing and replays it without reading the source again. Marts
downstream of anything redone are rebuilt. Every step is idempotent, so a rerun cannot make things worse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from pyiceberg.catalog import Catalog
from pyiceberg.expressions import EqualTo

from lakeward import audit, dag, runner
from lakeward.definition import Definition
from lakeward.home import Home
from lakeward.lake.catalog import load_table, open_catalog
from lakeward.lake.landing import Window
from lakeward.recovery import lifecycle


class RerunError(ValueError):
    """The run cannot be rerun as asked; says why."""


@dataclass(frozen=True)
class Plan:
    run_id: str
    steps: set[str]
    windows: dict[str, Window]
    start: datetime | None
    end: datetime


def plan(defn: Definition, catalog: Catalog, run_id: str, step: str | None = None) -> Plan:
    table = load_table(catalog, audit.RUNS)
    rows = table.scan(row_filter=EqualTo("run_id", run_id)).to_arrow().to_pylist() if table else []
    opened = [r for r in rows if r["kind"] == lifecycle.RUN_STEP and r["status"] == "running"]
    if not opened:
        raise RerunError(f"run {run_id} is not in audit.runs (lakeward status lists the runs to recover)")
    info = json.loads(opened[0]["details"])
    planned = set(info["plan"])
    done = {r["step"] for r in rows if r["kind"] != lifecycle.RUN_STEP and r["status"] == "succeeded"}
    graph = dag.build(defn)
    if step is not None:
        if step not in planned:
            raise RerunError(f"step {step!r} was not part of run {run_id} (its steps: {', '.join(sorted(planned))})")
        todo = {step}
    else:
        todo = planned - done
    closed = {r["status"] for r in rows if r["kind"] == lifecycle.RUN_STEP} - {"running"}
    if not todo and "succeeded" in closed:
        raise RerunError(f"run {run_id} succeeded: nothing to rerun")
    todo |= _downstream(graph, todo) & planned
    # A stage needs its batch: bring along the object's own steps before it (extract, its quality gate).
    todo |= {sid for s in list(todo) if graph[s].kind == "stage" for sid, other in graph.items()
             if other.source == graph[s].source and other.object == graph[s].object and other.kind != "stage"}
    windows = {r["step"]: Window(r["window_start"], r["window_end"]) for r in rows
               if r["kind"] == "extract" and r["status"] == "succeeded" and r["window_start"]}
    start = datetime.fromisoformat(info["start"]) if info.get("start") else None
    return Plan(run_id, todo, {s: w for s, w in windows.items() if s in todo}, start,
                datetime.fromisoformat(info["end"]))


def _downstream(graph: dict[str, dag.Step], steps: set[str]) -> set[str]:
    out, frontier = set(steps), set(steps)
    while frontier:
        frontier = {sid for sid, s in graph.items() if s.upstream & frontier} - out
        out |= frontier
    return out


def rerun(defn: Definition, home: Home, run_id: str, step: str | None = None, reextract: bool = False,
          now: datetime | None = None, on_event=lambda *a: None) -> runner.RunResult:
    """`reextract` reads the source again for the redone steps instead of replaying their landed batches."""
    catalog = open_catalog(home)
    lifecycle.settle(home, catalog)  # a crashed run's journaled steps count as done: they are not redone
    p = plan(defn, catalog, run_id, step)
    return runner.run(defn, home, start=p.start, end=p.end, now=now, only=p.steps, windows=p.windows,
                      reextract=reextract,
                      recovers=run_id, triggered_by=f"rerun:{run_id}", on_event=on_event)

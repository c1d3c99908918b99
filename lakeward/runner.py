"""The local orchestrator: runs the pipeline graph in dependency order with stdlib graphlib.

A step starts only when every upstream step of the same run succeeded; a failure skips everything
downstream of it, with the reason. Every step, whatever its fate, is recorded in `audit.runs`.
At most `concurrency` queries run against one source at once (its business-hours limits), however
many of its objects are being extracted.
"""

from __future__ import annotations

import dataclasses
import getpass
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from graphlib import TopologicalSorter

from lakeward import audit, dag, steps
from lakeward.definition import Definition
from lakeward.home import Home
from lakeward.lake.catalog import open_catalog
from lakeward.lake.landing import Window
from lakeward.load_definition import definition_hash
from lakeward.recovery import faults, lifecycle
from lakeward.version import code_version

WORKERS = 4


@dataclass
class StepResult:
    step: dag.Step
    status: str  # succeeded | failed | skipped
    outcome: steps.Outcome | None = None
    error: str | None = None


@dataclass
class RunResult:
    run_id: str
    results: dict[str, StepResult] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(r.status == "succeeded" for r in self.results.values())

    def failed(self) -> list[StepResult]:
        return [r for r in self.results.values() if r.status == "failed"]


def run(
    defn: Definition, home: Home, *, sources: set[str] | None = None, start: datetime | None = None,
    end: datetime | None = None, reextract: bool = False, rebuild_marts: bool = False,
    now: datetime | None = None,
    triggered_by: str | None = None, on_event: Callable[[str, str, int], None] = lambda *a: None,
    only: set[str] | None = None, windows: dict[str, Window] | None = None, recovers: str | None = None,
    permits: dict[str, threading.Semaphore] | None = None,
) -> RunResult:
    """Run the selected part of the graph over one window; `on_event(step, status, rows)` reports progress."""
    now = now or datetime.now(UTC)
    graph = dag.select(dag.build(defn), sources)
    if only is not None:  # a rerun or a backfill chunk: just these steps, upstreams outside them as published
        graph = {sid: dataclasses.replace(s, upstream=s.upstream & only) for sid, s in graph.items() if sid in only}
    catalog = open_catalog(home)
    ctx = steps.Context(
        defn, home, catalog, run_id=_new_run_id(now), now=now,
        end=end or now.replace(second=0, microsecond=0), start=start, reextract=reextract,
        rebuild_marts=rebuild_marts,
        on_rows=lambda sid, n: on_event(sid, "rows", n),
        permits=permits or {
            name: threading.Semaphore(src.limits_at(now).concurrency) for name, src in defn.sources.items()},
        windows=windows or {},
    )
    meta = {"code_version": code_version(), "definition_hash": definition_hash(defn),
            "triggered_by": triggered_by or f"cli:{getpass.getuser()}"}
    result = RunResult(ctx.run_id)
    lifecycle.begin(ctx, meta, sorted(graph), recovers)
    try:
        sorter = TopologicalSorter({sid: s.upstream for sid, s in graph.items()})
        sorter.prepare()
        running: dict[Future, str] = {}
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="lakeward") as pool:
            while sorter.is_active():
                for sid in sorter.get_ready():
                    step = graph[sid]
                    blocked = [u for u in step.upstream if result.results[u].status != "succeeded"]
                    if blocked:
                        first = result.results[sorted(blocked)[0]]  # the root cause travels downstream
                        reason = first.error if first.status == "skipped" and first.error else (
                            f"skipped: upstream {first.step.id} failed: {first.error}")
                        result.results[sid] = _finish(ctx, meta, step, "skipped", None, reason, now)
                        on_event(sid, "skipped", 0)
                        sorter.done(sid)
                        continue
                    running[pool.submit(_execute, ctx, meta, step, on_event)] = sid
                if not running:
                    continue
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    sid = running.pop(future)
                    result.results[sid] = future.result()
                    sorter.done(sid)
    finally:
        lifecycle.end(ctx, meta, result, now)
    return result


def _execute(ctx: steps.Context, meta: dict, step: dag.Step, on_event: Callable[[str, str, int], None]
             ) -> StepResult:
    started = datetime.now(UTC)
    on_event(step.id, "started", 0)
    try:
        faults.reached(f"{step.kind}.start")
        outcome = steps.RUNNERS[step.kind](ctx, step)
        faults.reached(f"{step.kind}.end")
    except Exception as err:  # noqa: BLE001 - any failure of a step is recorded and stops its downstream
        message = f"{type(err).__name__}: {err}"
        on_event(step.id, "failed", 0)
        return _finish(ctx, meta, step, "failed", None, message, started)
    on_event(step.id, "succeeded", outcome.rows_out or 0)
    return _finish(ctx, meta, step, "succeeded", outcome, None, started)


def _finish(ctx: steps.Context, meta: dict, step: dag.Step, status: str, outcome: steps.Outcome | None,
            error: str | None, started: datetime) -> StepResult:
    window = outcome.window if outcome else None
    lifecycle.record(ctx, audit.StepRecord(
        run_id=ctx.run_id, step=step.id, kind=step.kind, status=status, **meta,
        started_at=started, finished_at=datetime.now(UTC), source=step.source, object=step.object,
        table_name=step.table, window_start=window.start if window else None,
        window_end=window.end if window else None, batch_id=outcome.batch_id if outcome else None,
        rows_in=outcome.rows_in if outcome else None, rows_out=outcome.rows_out if outcome else None,
        snapshot_id=outcome.snapshot_id if outcome else None, watermark=outcome.watermark if outcome else None,
        error=error, details=steps.as_details(outcome) if outcome else None,
        **lifecycle.evidence(ctx, step, outcome),
    ))
    return StepResult(step, status, outcome, error)


def _new_run_id(now: datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"

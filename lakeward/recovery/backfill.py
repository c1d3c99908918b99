"""Backfill a range of a source through the normal extract -> stage path, one window at a time.

Progress is saved after each window under LAKEWARD_HOME/backfills/<id>.json, so the same command after an
interruption continues where it stopped; a window redone after a crash changes nothing (landing batches
are reused, merges are idempotent). The incremental watermark only moves forward over contiguous
coverage (watermark.advance), so a backfill of the past never pulls it back. With --parallel, windows
are extracted side by side under the source's shared permits (its business-hours limits), then merged
in order; the marts downstream are rebuilt once at the end.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lakeward import dag, runner
from lakeward.definition import Definition, staging_table
from lakeward.home import Home
from lakeward.lake.catalog import open_catalog
from lakeward.lake.landing import Window
from lakeward.recovery import faults, lifecycle


class BackfillError(RuntimeError):
    """A window of the backfill failed; the command to continue is in the message."""


@dataclass
class BackfillResult:
    backfill_id: str
    windows: int
    done_before: int  # windows already complete when this invocation started (a resume)
    run_ids: list[str] = field(default_factory=list)
    rows: int = 0


def windows(start: datetime, end: datetime, chunk: timedelta | None) -> list[Window]:
    if start >= end:
        raise BackfillError(f"--start {start.isoformat()} must be before --end {end.isoformat()}")
    if chunk is None:
        return [Window(start, end)]
    edges = [start]
    while edges[-1] + chunk < end:
        edges.append(edges[-1] + chunk)
    return [Window(lo, hi) for lo, hi in zip(edges, [*edges[1:], end], strict=True)]


def backfill_id(source: str, obj: str | None, start: datetime, end: datetime, chunk: timedelta | None) -> str:
    key = f"{source}/{obj or '*'}/{start.isoformat()}/{end.isoformat()}/{chunk}"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def command(source: str, obj: str | None, start: datetime, end: datetime, chunk: timedelta | None,
            rebuild: bool = False) -> str:
    parts = ["lakeward backfill", f"--source {source}"] + ([f"--object {obj}"] if obj else [])
    parts += [f"--start {start.astimezone(UTC).isoformat()}", f"--end {end.astimezone(UTC).isoformat()}"]
    if chunk:
        parts.append(f"--chunk {int(chunk.total_seconds() // 3600)}h")
    return " ".join(parts + (["--rebuild"] if rebuild else []))


def backfill(
    defn: Definition, home: Home, source: str, *, obj: str | None = None, start: datetime | None = None,
    end: datetime | None = None, chunk: timedelta | None = None, parallel: int = 1, rebuild: bool = False,
    now: datetime | None = None, on_window: Callable[[Window, str], None] = lambda w, status: None,
) -> BackfillResult:
    """Load [start, end) of a source (or one object) window by window; resumable and idempotent."""
    if source not in defn.sources:
        raise BackfillError(f"--source: unknown source {source!r} (declared: {', '.join(defn.sources)})")
    spec = defn.sources[source]
    if obj is not None and obj not in spec.objects:
        raise BackfillError(f"--object: {source} has no object {obj!r} (declared: {', '.join(spec.objects)})")
    now = now or datetime.now(UTC)
    start, end = start or spec.initial_start, end or now.replace(second=0, microsecond=0)
    objects = [obj] if obj else list(spec.objects)
    todo = windows(start, end, chunk)
    ident = backfill_id(source, obj, start, end, chunk)
    state_file = home.root / "backfills" / f"{ident}.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {"done": []}
    result = BackfillResult(ident, len(todo), len(state["done"]))
    resume = command(source, obj, start, end, chunk)
    lifecycle.acquire(home)
    try:
        if rebuild and not state["done"]:
            _drop_staging(home, source, objects)
        pending = [w for w in todo if w.start.isoformat() not in state["done"]]
        graph = dag.build(defn)
        extracts = {f"extract:{source}.{o}" for o in objects}
        loads = {sid for sid, s in graph.items() if s.source == source and s.object in objects}
        # One set of permits for every window: the business-hours limit holds however many run at once.
        permits = {source: threading.Semaphore(spec.limits_at(now).concurrency)}
        for group in [pending[i:i + parallel] for i in range(0, len(pending), parallel)]:
            if parallel > 1:
                with ThreadPoolExecutor(max_workers=parallel) as pool:
                    list(pool.map(lambda w: runner.run(
                        defn, home, sources={source}, end=w.end, now=now, only=extracts, permits=permits,
                        windows={s: w for s in extracts}, triggered_by=f"backfill:{ident}"), group))
            for window in group:
                run = runner.run(defn, home, sources={source}, end=window.end, now=now, only=loads,
                                 permits=permits, windows={s: window for s in extracts},
                                 triggered_by=f"backfill:{ident}")
                result.run_ids.append(run.run_id)
                if not run.ok:
                    failed = run.failed()[0]
                    on_window(window, "failed")
                    raise BackfillError(
                        f"backfill {ident}: window {window.start.isoformat()} .. {window.end.isoformat()} failed "
                        f"at {failed.step.id}: {failed.error}. Fix the cause, then continue with: {resume}")
                result.rows += sum(r.outcome.rows_in or 0 for r in run.results.values()
                                   if r.outcome and r.step.kind == "stage")
                faults.reached("backfill.chunk_done")
                state["done"].append(window.start.isoformat())
                _save(state_file, state)
                on_window(window, "done")
        marts = _marts_downstream(defn, source)
        if marts:
            run = runner.run(defn, home, sources={source}, end=end, now=now, only=marts,
                             triggered_by=f"backfill:{ident}")
            result.run_ids.append(run.run_id)
            if not run.ok:
                failed = run.failed()[0]
                raise BackfillError(f"backfill {ident}: every window is loaded but {failed.step.id} failed: "
                                    f"{failed.error}. Continue with: {resume}")
    finally:
        lifecycle.release()
    return result


def _marts_downstream(defn: Definition, source: str) -> set[str]:
    return {sid for sid, s in dag.select(dag.build(defn), {source}).items() if s.mart is not None}


def _drop_staging(home: Home, source: str, objects: list[str]) -> None:
    """--rebuild: the staging tables are reloaded from scratch (after an accepted type change)."""
    catalog = open_catalog(home)
    for name in objects:
        identifier = staging_table(source, name)
        if catalog.table_exists(identifier):
            catalog.drop_table(identifier)


def _save(path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(path)

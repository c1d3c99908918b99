"""The life of one run around its steps: lock, crash cleanup, opening and closing records, alerts.

A run opens with a `run` record (status `running`, its pid and plan) and closes with one saying how it
ended. A run that never closed died: the next run (or `lakeward status`) marks it `crashed`, fires an
alert with the exact recovery command, and the next run removes what it left half-written. Step records
are journaled as steps end and committed in one append per run (recovery/trail.py); a dead run's journal
is committed before it is marked crashed.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from pyiceberg.catalog import Catalog
from pyiceberg.expressions import EqualTo

from lakeward import audit
from lakeward.home import Home
from lakeward.lake.catalog import load_table
from lakeward.recovery import alerts, cleanup, faults, trail

RUN_STEP = "run"
CLEANUP_MARKER = "cleanup.pending"
_guard = threading.Lock()
_holders = 0
_handle = None
_trails: dict[str, trail.Trail] = {}  # run id -> the step records it has not committed yet


def acquire(home: Home) -> bool:
    """Take the home's run lock (re-entrant in one process); True for the outermost holder."""
    global _holders, _handle
    with _guard:
        if _holders == 0:
            home.ensure()
            _handle = (home.root / "run.lock").open("a+")
            try:
                fcntl.flock(_handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                _handle.close()
                _handle = None
                raise RuntimeError(f"another lakeward run holds {home.root / 'run.lock'}; wait for it to "
                                   "finish (lakeward status shows it)") from None
        _holders += 1
        return _holders == 1


def release() -> None:
    global _holders, _handle
    with _guard:
        _holders -= 1
        if _holders == 0 and _handle is not None:
            fcntl.flock(_handle, fcntl.LOCK_UN)
            _handle.close()
            _handle = None


@dataclass(frozen=True)
class OpenRun:
    run_id: str
    started_at: datetime
    pid: int | None
    host: str | None
    triggered_by: str

    @property
    def alive(self) -> bool:
        if self.host != socket.gethostname() or self.pid is None:
            return True  # another machine's run: only its own host can tell
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def unclosed(catalog: Catalog) -> list[OpenRun]:
    """Runs that opened and never closed: crashed, or still running."""
    table = load_table(catalog, audit.RUNS)
    if table is None:
        return []
    rows = table.scan(row_filter=EqualTo("kind", RUN_STEP)).to_arrow().to_pylist()
    closed = {r["run_id"] for r in rows if r["status"] != "running"}
    out = []
    for r in rows:
        if r["status"] == "running" and r["run_id"] not in closed:
            info = json.loads(r["details"] or "{}")
            out.append(OpenRun(r["run_id"], r["started_at"], info.get("pid"), info.get("host"), r["triggered_by"]))
    return out


def recovery_command(run_id: str) -> str:
    return f"lakeward rerun --run {run_id}"


def settle(home: Home, catalog: Catalog) -> list[OpenRun]:
    """Commit the step records dead runs journaled but never committed; returns the dead unclosed runs."""
    runs = unclosed(catalog)
    trail.recover(home, catalog, keep={r.run_id for r in runs if r.alive} | set(_trails))
    return [r for r in runs if not r.alive]


def mark_crashed(home: Home, catalog: Catalog, meta: dict) -> list[OpenRun]:
    """Close every dead unclosed run as `crashed`, its journaled steps first, and alert once for each."""
    dead = settle(home, catalog)
    if dead:  # the next run that holds the lock removes what they half-wrote
        (home.root / CLEANUP_MARKER).touch()
    for run in dead:
        now = datetime.now(UTC)
        audit.record(catalog, audit.StepRecord(
            run_id=run.run_id, step=RUN_STEP, kind=RUN_STEP, status="crashed", **meta, started_at=run.started_at,
            finished_at=now, error="the process died before the run closed (killed, out of memory or host lost)"))
        alerts.fire(home, alerts.Alert(
            "run_crashed", "error", f"run {run.run_id} died before it finished; its half-written output is "
            "removed by the next run and nothing it did not commit is visible", run_id=run.run_id,
            recovery=recovery_command(run.run_id)))
    return dead


def begin(ctx, meta: dict, plan: list[str], recovers: str | None) -> None:
    """Lock the home, finish off crashed runs, open this run's record."""
    if acquire(ctx.home):
        mark_crashed(ctx.home, ctx.catalog, meta)
        marker = ctx.home.root / CLEANUP_MARKER
        cleanup.clean(ctx.home, ctx.catalog, orphans=marker.exists())
        marker.unlink(missing_ok=True)
    details = {"pid": os.getpid(), "host": socket.gethostname(), "plan": plan, "recovers": recovers,
               "start": ctx.start.isoformat() if ctx.start else None, "end": ctx.end.isoformat()}
    audit.record(ctx.catalog, audit.StepRecord(
        run_id=ctx.run_id, step=RUN_STEP, kind=RUN_STEP, status="running", **meta, started_at=ctx.now,
        finished_at=datetime.now(UTC), window_start=ctx.start, window_end=ctx.end,
        details=json.dumps(details, sort_keys=True)))  # committed at once: it is how a crash is found
    _trails[ctx.run_id] = trail.Trail(ctx.home, ctx.catalog, ctx.run_id)
    faults.reached("run.start")


def record(ctx, step: audit.StepRecord) -> None:
    """A step's record: journaled now, committed to audit.runs with the run's others (see trail.py)."""
    _trails[ctx.run_id].add(step)


def end(ctx, meta: dict, result, started: datetime) -> None:
    """Alert on what went wrong, then close the run's record and the lock."""
    try:
        for fired in alerts.for_run(result, recovery_command(ctx.run_id)):
            alerts.fire(ctx.home, fired)
        _trails[ctx.run_id].flush()
        faults.reached("run.end")
        failed = result.failed()
        audit.record(ctx.catalog, audit.StepRecord(
            run_id=ctx.run_id, step=RUN_STEP, kind=RUN_STEP, status="succeeded" if result.ok else "failed",
            **meta, started_at=started, finished_at=datetime.now(UTC), window_start=ctx.start, window_end=ctx.end,
            error=f"{failed[0].step.id}: {failed[0].error}" if failed else None,
            rows_out=sum((r.outcome.rows_out or 0) for r in result.results.values() if r.outcome)))
    finally:
        _trails.pop(ctx.run_id, None)
        release()


def evidence(ctx, step, outcome) -> dict:
    """What an auditor needs besides counts: the cursor range read, landing checksums, quality results."""
    if outcome is None:
        return {}
    out: dict = {}
    if outcome.window is not None and step.source:
        spec = ctx.definition.sources[step.source].objects[step.object]
        out["source_cursor"] = json.dumps({"column": spec.cursor, "from": outcome.window.start.isoformat(),
                                           "to": outcome.window.end.isoformat(),
                                           "watermark": outcome.watermark.isoformat() if outcome.watermark else None})
    manifest = ctx.manifests.get(step.id) if step.kind == "extract" else None
    if manifest is not None:
        out["file_checksums"] = json.dumps([{"path": f"{manifest.batch_id}/{f['path']}", "sha256": f.get("sha256"),
                                             "rows": f.get("rows")} for f in manifest.files])
    if outcome.details.get("quality") is not None:
        out["quality"] = json.dumps(outcome.details["quality"], default=str, sort_keys=True)
    return out

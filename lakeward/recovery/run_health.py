"""Runs that need a person: failed, crashed or stuck, each with the exact command that recovers it.

A run stops needing attention once a rerun of it succeeds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pyiceberg.catalog import Catalog
from pyiceberg.expressions import EqualTo

from lakeward import audit
from lakeward.definition import Definition
from lakeward.home import Home
from lakeward.lake.catalog import load_table
from lakeward.recovery import lifecycle


@dataclass(frozen=True)
class RunHealth:
    run_id: str
    status: str  # failed | crashed | stuck
    started_at: datetime
    first_failure: str
    command: str


def attention(defn: Definition, home: Home, catalog: Catalog, meta: dict,
              now: datetime | None = None) -> list[RunHealth]:
    """Marks dead runs crashed (alerting once), then lists every run not yet recovered."""
    now = now or datetime.now(UTC)
    lifecycle.mark_crashed(home, catalog, meta)
    table = load_table(catalog, audit.RUNS)
    if table is None:
        return []
    rows = table.scan(row_filter=EqualTo("kind", lifecycle.RUN_STEP)).to_arrow().to_pylist()
    succeeded = {r["run_id"] for r in rows if r["status"] == "succeeded"}
    recovered = set()  # a run is recovered once a rerun of it succeeded
    for r in rows:
        target = json.loads(r["details"] or "{}").get("recovers") if r["status"] == "running" else None
        if target and r["run_id"] in succeeded:
            recovered.add(target)
    stuck_after = 2 * max((s.cadence for s in defn.sources.values()), default=timedelta(hours=1))
    out = []
    for r in rows:
        if r["run_id"] in recovered:
            continue
        if r["status"] in ("failed", "crashed"):
            out.append(RunHealth(r["run_id"], r["status"], r["started_at"], r["error"] or "",
                                 lifecycle.recovery_command(r["run_id"])))
    for run in lifecycle.unclosed(catalog):
        if run.alive and now - run.started_at > stuck_after:
            out.append(RunHealth(run.run_id, "stuck", run.started_at,
                                 f"running for {now - run.started_at} on {run.host} pid {run.pid}",
                                 f"kill {run.pid}   # then: {lifecycle.recovery_command(run.run_id)}"))
    return sorted(out, key=lambda h: h.started_at)

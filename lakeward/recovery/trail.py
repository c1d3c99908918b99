"""A run's step records: journaled on disk as each step ends, committed to `audit.runs` in one append.

One Iceberg commit per step record made every run slower as the trail grew (each commit rewrites the table
metadata), so a run buffers its step records and appends them at its end, or every FLUSH_EVERY records.
Until then each record is a line in `$LAKEWARD_HOME/audit-journal/<run_id>.jsonl`, written and fsynced
before the step counts as finished: a run that dies leaves its journal, and the next run (or `lakeward
status`, or `lakeward rerun`) commits what it holds before marking the run crashed. A journal whose
records were committed just before the process died is recognised and not committed twice.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path

from pyiceberg.catalog import Catalog
from pyiceberg.expressions import EqualTo

from lakeward import audit
from lakeward.home import Home
from lakeward.lake.catalog import load_table
from lakeward.recovery import faults

FOLDER = "audit-journal"
FLUSH_EVERY = 50  # bounds the records a process holds; the journal keeps them safe either way
_TIMES = {f.name for f in audit.RUNS_SCHEMA if str(f.type).startswith("timestamp")}


def journal_of(home: Home, run_id: str) -> Path:
    return home.root / FOLDER / f"{run_id}.jsonl"


class Trail:
    """The records of one run not yet in `audit.runs`; safe to add to from the run's worker threads."""

    def __init__(self, home: Home, catalog: Catalog, run_id: str) -> None:
        self.catalog = catalog
        self.path = journal_of(home, run_id)
        self._pending: list[audit.StepRecord] = []
        self._lock = threading.Lock()

    def add(self, step: audit.StepRecord) -> None:
        line = json.dumps({k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(step).items()})
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as fh:
                fh.write(line + "\n")
                fh.flush()
                os.fsync(fh.fileno())  # a host that dies keeps the line, not just a killed process
            self._pending.append(step)
            full = len(self._pending) >= FLUSH_EVERY
        if full:
            self.flush()

    def flush(self) -> None:
        """Commit the pending records in one append; the journal goes once they are in the table."""
        with self._lock:  # no record may be journaled between the commit and the journal's removal
            if not self._pending:
                return
            audit.append(self.catalog, self._pending)
            faults.reached("audit.mid_flush")
            self._pending = []
            self.path.unlink(missing_ok=True)


def _key(record: dict) -> tuple:
    return record["step"], record["status"], record["started_at"], record["finished_at"]


def read_journal(path: Path) -> list[audit.StepRecord]:
    """The journaled records; a line cut by the kill that ended the run is dropped (its step never finished)."""
    names = {f.name for f in fields(audit.StepRecord)}
    out = []
    for line in path.read_text().splitlines():
        try:
            raw = json.loads(line)
        except json.JSONDecodeError:
            continue
        out.append(audit.StepRecord(**{k: datetime.fromisoformat(v) if k in _TIMES and v else v
                                       for k, v in raw.items() if k in names}))
    return out


def recover(home: Home, catalog: Catalog, keep: set[str]) -> int:
    """Commit the journals left by dead runs (every run but those in `keep`), minus what the table already
    holds; returns how many records were committed."""
    folder = home.root / FOLDER
    committed = 0
    for path in sorted(folder.glob("*.jsonl")) if folder.exists() else []:
        run_id = path.stem
        if run_id in keep:
            continue
        table = load_table(catalog, audit.RUNS)
        there = {_key(r) for r in table.scan(row_filter=EqualTo("run_id", run_id)).to_arrow().to_pylist()
                 } if table is not None else set()
        missing = [r for r in read_journal(path) if _key(asdict(r)) not in there]
        audit.append(catalog, missing)
        committed += len(missing)
        path.unlink()
    return committed

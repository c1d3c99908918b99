"""`audit.runs`: one row per step of every run, so any number can be traced to the run that made it."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime

import pyarrow as pa
from pyiceberg.catalog import Catalog

from lakeward import audit_chain
from lakeward.lake.catalog import ensure_table

RUNS = "audit.runs"
RUNS_SCHEMA = pa.schema([
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("step", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("status", pa.string(), nullable=False),
    pa.field("source", pa.string()),
    pa.field("object", pa.string()),
    pa.field("table_name", pa.string()),
    pa.field("window_start", pa.timestamp("us", tz="UTC")),
    pa.field("window_end", pa.timestamp("us", tz="UTC")),
    pa.field("batch_id", pa.string()),
    pa.field("rows_in", pa.int64()),
    pa.field("rows_out", pa.int64()),
    pa.field("snapshot_id", pa.int64()),
    pa.field("watermark", pa.timestamp("us", tz="UTC")),
    pa.field("error", pa.string()),
    pa.field("details", pa.string()),
    pa.field("code_version", pa.string(), nullable=False),
    pa.field("definition_hash", pa.string(), nullable=False),
    pa.field("triggered_by", pa.string(), nullable=False),
    pa.field("started_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("finished_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("source_cursor", pa.string()),  # JSON: the cursor range the batch covered
    pa.field("file_checksums", pa.string()),  # JSON: landing files with their sha256
    pa.field("quality", pa.string()),  # JSON: quality results of the step
    pa.field("seq", pa.int64()),
    pa.field("prev_hash", pa.string()),
    pa.field("record_hash", pa.string()),
])
_lock = threading.Lock()  # steps finish on several threads; one table takes one commit at a time


@dataclass
class StepRecord:
    run_id: str
    step: str
    kind: str
    status: str  # succeeded | failed | skipped
    code_version: str
    definition_hash: str
    triggered_by: str
    started_at: datetime
    finished_at: datetime
    source: str | None = None
    object: str | None = None
    table_name: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    batch_id: str | None = None
    rows_in: int | None = None
    rows_out: int | None = None
    snapshot_id: int | None = None
    watermark: datetime | None = None
    error: str | None = None
    details: str | None = field(default=None, repr=False)
    source_cursor: str | None = None
    file_checksums: str | None = field(default=None, repr=False)
    quality: str | None = None


def record(catalog: Catalog, step: StepRecord) -> None:
    """Append one record chained to the one before it, in a commit of its own."""
    append(catalog, [step])


def append(catalog: Catalog, steps: list[StepRecord]) -> None:
    """Append records in one commit, each chained to the one before it; the chain head moves in that commit."""
    if not steps:
        return
    with _lock:
        table = ensure_table(catalog, RUNS, RUNS_SCHEMA)
        if set(RUNS_SCHEMA.names) - set(table.schema().column_names):  # a trail begun by an older version
            with table.update_schema() as update:
                update.union_by_name(RUNS_SCHEMA)
        linked: list[dict] = []
        for step in steps:
            linked.append(audit_chain.chain(table, asdict(step), linked[-1] if linked else None))
        with table.transaction() as tx:
            tx.append(pa.Table.from_pylist(linked, schema=RUNS_SCHEMA))
            tx.set_properties({audit_chain.HEAD_PROPERTY: audit_chain.head_value(linked[-1])})
        for one in linked:
            audit_chain.to_object_lock(one)

"""The `compact_events` stager: a batch's raw event files -> staging events, quarantine and reconciliation.

Loaded events merge into `staging.<source>__<object>` on event_id, rewriting only the event_date
partitions they touch, so a late event lands in its own day and hour and a replayed one changes nothing.
Quarantined lines replace the batch's earlier quarantine rows; each run appends one reconciliation row.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table
from pyiceberg.transforms import IdentityTransform

from lakeward import stagers, watermark
from lakeward.compaction.compact import EVENT_COLUMNS, compact, lines_view
from lakeward.compaction.read_lines import read_lines
from lakeward.dag import Step
from lakeward.definition import Partition, staging_table
from lakeward.lake import merge, quarantine, schema
from lakeward.lake.catalog import ensure_table, load_table
from lakeward.sources import file_manifest
from lakeward.sources.extract_files import open_root
from lakeward.sources.target import Target
from lakeward.steps import Context, Outcome

RECONCILIATION = "audit.event_compaction"
RECONCILIATION_SCHEMA = pa.schema([
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("batch_id", pa.string(), nullable=False),
    pa.field("table_name", pa.string(), nullable=False),
    pa.field("files", pa.int64(), nullable=False),
    pa.field("lines_read", pa.int64(), nullable=False),
    pa.field("rows_loaded", pa.int64(), nullable=False),
    pa.field("duplicates_collapsed", pa.int64(), nullable=False),
    pa.field("lines_quarantined", pa.int64(), nullable=False),
    pa.field("inserted", pa.int64(), nullable=False),
    pa.field("already_loaded", pa.int64(), nullable=False),
    pa.field("reconciled", pa.bool_(), nullable=False),
])
QUARANTINE_COLUMNS = ("file", "line_number", "raw_line", "error")
LINEAGE = {"file": "source_file", "line_number": "source_line"}
DAY = Partition(column="event_date", transform="identity")


@dataclass(frozen=True)
class Counts:
    files: int
    lines_read: int
    loaded: int
    duplicates: int
    quarantined: int

    @property
    def reconciled(self) -> bool:
        return self.lines_read == self.loaded + self.duplicates + self.quarantined


class ReconciliationError(RuntimeError):
    """Lines went missing between reading and loading; nothing of the batch is committed."""


_compacted: dict[tuple[str, str], tuple[Counts, pa.Table]] = {}  # the gate's work, handed to the stage step


def _compact(ctx: Context, step: Step) -> tuple[Counts, pa.Table]:
    """The batch's lines with their fates, checked to add up."""
    source = ctx.definition.sources[step.source]
    spec = source.objects[step.object]
    manifest = ctx.manifests[f"extract:{step.source}.{step.object}"]
    cached = _compacted.pop((ctx.run_id, manifest.batch_id), None)
    if cached:
        return cached
    target = Target(step.source, source, step.object, spec, str(ctx.definition.path))
    files = file_manifest.read_file_list(ctx.home.landing, manifest)
    lines = read_lines(open_root(target), files)
    fates = compact(lines, ctx.definition.root / spec.staging_sql, lines_view(step.source, step.object))
    status = fates.column("status")
    counts = Counts(len(files), lines.num_rows, *(pc.sum(pc.equal(status, s)).as_py() or 0
                                                   for s in ("loaded", "duplicate", "quarantined")))
    if not counts.reconciled or fates.num_rows != lines.num_rows:
        raise ReconciliationError(f"{staging_table(step.source, step.object)}: batch {manifest.batch_id}: {counts}")
    return counts, fates


def _events(fates: pa.Table) -> pa.Table:
    loaded = fates.filter(pc.equal(fates.column("status"), "loaded"))
    return loaded.select([*EVENT_COLUMNS, *LINEAGE]).rename_columns([*EVENT_COLUMNS, *LINEAGE.values()])


def candidate(ctx: Context, step: Step) -> pa.Table:
    """The events this batch would stage (the quality gate audits them before `stage` publishes them)."""
    counts, fates = _compact(ctx, step)
    manifest = ctx.manifests[f"extract:{step.source}.{step.object}"]
    _compacted.clear()  # one batch in flight per process is enough to save the second pass
    _compacted[(ctx.run_id, manifest.batch_id)] = (counts, fates)
    return _events(fates)


def stage(ctx: Context, step: Step) -> Outcome:
    source = ctx.definition.sources[step.source]
    spec = source.objects[step.object]
    manifest = ctx.manifests[f"extract:{step.source}.{step.object}"]
    counts, fates = _compact(ctx, step)
    status = fates.column("status")
    events = _events(fates)
    events = events.append_column(merge.BATCH_COLUMN, pa.array([manifest.batch_id] * events.num_rows, pa.string()))
    identifier = staging_table(step.source, step.object)
    table = load_table(ctx.catalog, identifier) or _create(ctx.catalog, identifier, events.schema, spec.primary_key)
    window = manifest.window_obj
    new_mark = watermark.advance(watermark.read(table), window, source.initial_start)
    props = {"lakeward.batch_id": manifest.batch_id, "lakeward.run_id": ctx.run_id}
    if new_mark:
        props[watermark.PROPERTY] = new_mark.isoformat()
    result = merge.merge(table, events, key=spec.primary_key, cursor=spec.cursor, partition=DAY, properties=props)
    _quarantine(ctx.catalog, f"{identifier}_quarantine", manifest.batch_id,
                fates.filter(pc.equal(status, "quarantined")))
    _reconcile(ctx, identifier, manifest.batch_id, counts, result)
    stagers.committed(ctx.home.landing, source.kind, manifest)
    return Outcome(
        rows_in=counts.lines_read, rows_out=result.inserted + result.updated, window=window,
        batch_id=manifest.batch_id, snapshot_id=result.snapshot_id, watermark=new_mark,
        details={"files": counts.files, "lines_read": counts.lines_read, "rows_loaded": counts.loaded,
                 "duplicates_collapsed": counts.duplicates, "lines_quarantined": counts.quarantined,
                 "inserted": result.inserted, "already_loaded": result.unchanged + result.updated,
                 "reconciled": counts.reconciled},
    )


def _create(catalog: Catalog, identifier: str, arrow: pa.Schema, key: list[str]) -> Table:
    """Events are partitioned by the day and hour they happened, however late they arrived."""
    table = schema.create(catalog, identifier, arrow, key, None)
    with table.update_spec() as spec:
        spec.add_field("event_date", IdentityTransform(), "event_date")
        spec.add_field("event_hour", IdentityTransform(), "event_hour")
    return table.refresh()


def _quarantine(catalog: Catalog, identifier: str, batch_id: str, rows: pa.Table) -> None:
    data = rows.select(list(QUARANTINE_COLUMNS))
    data = data.add_column(0, "batch_id", pa.array([batch_id] * data.num_rows, pa.string()))
    data = pa.Table.from_arrays(data.columns, schema=pa.schema(
        [pa.field("batch_id", pa.string(), nullable=False), pa.field("file", pa.string(), nullable=False),
         pa.field("line_number", pa.int64(), nullable=False), pa.field("raw_line", pa.string()),
         pa.field("error", pa.string(), nullable=False)]))
    quarantine.replace_batch(catalog, identifier, batch_id, data)  # a rerun replaces its rows, never adds


def _reconcile(ctx: Context, identifier: str, batch_id: str, counts: Counts, result: merge.MergeResult) -> None:
    row = {"run_id": ctx.run_id, "batch_id": batch_id, "table_name": identifier, "files": counts.files,
           "lines_read": counts.lines_read, "rows_loaded": counts.loaded, "duplicates_collapsed": counts.duplicates,
           "lines_quarantined": counts.quarantined, "inserted": result.inserted,
           "already_loaded": result.unchanged + result.updated, "reconciled": counts.reconciled}
    ensure_table(ctx.catalog, RECONCILIATION, RECONCILIATION_SCHEMA).append(
        pa.Table.from_pylist([row], schema=RECONCILIATION_SCHEMA))



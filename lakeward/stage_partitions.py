"""`stage_with: replace_partitions`: each landed file is the whole content of the day its path names.

The batch's rows go through the object's staging SQL, then replace exactly the days of the batch's files
(lake/replace.py), watermark included, in one commit. A day is only replaced by a batch extracted at or after
the one that wrote it, so replaying an old window (its landing batch is immutable) never brings back an older
export of a day: rerunning any window changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.table import Table

from lakeward import stagers, watermark
from lakeward.dag import Step
from lakeward.definition import FilesObject, Partition, staging_table
from lakeward.lake import landing, replace, schema
from lakeward.lake.catalog import load_table
from lakeward.lake.merge import BATCH_COLUMN, affected
from lakeward.sources import file_manifest
from lakeward.sources.file_contract import FILE_COLUMN
from lakeward.sources.file_select import path_day

EXTRACTED_COLUMN = "_lw_extracted_at"


class StageError(ValueError):
    """A batch that cannot replace its partitions; nothing was written."""


def stage(ctx, step: Step):  # type: ignore[no-untyped-def]
    from lakeward.steps import Outcome, _apply_staging_sql  # steps dispatches here: import at call time

    source = ctx.definition.sources[step.source]
    spec = source.objects[step.object]
    key = f"sources.{step.source}.objects.{step.object}"
    if not isinstance(spec, FilesObject) or spec.partition is None:
        raise StageError(f"{key}: replace_partitions needs a files object with a date partition")
    manifest = ctx.manifests[f"extract:{step.source}.{step.object}"]
    extracted = datetime.fromisoformat(manifest.extracted_at)
    files = file_manifest.read_file_list(ctx.home.landing, manifest)
    days = sorted({path_day(f.path, spec, key) for f in files})
    rows = landing.read_batch(ctx.home.landing, manifest)
    rows_in = rows.num_rows
    if rows_in:  # an empty batch carries the contract's text columns, which the staging SQL cannot read
        rows = _apply_staging_sql(ctx, spec.staging_sql, step, rows) if spec.staging_sql else rows
        _check_days(rows, spec, key)
        stamps = {BATCH_COLUMN: pa.array([manifest.batch_id] * rows.num_rows, pa.string()),
                  EXTRACTED_COLUMN: pa.array([extracted] * rows.num_rows, pa.timestamp("us", tz="UTC"))}
        for name, values in stamps.items():
            rows = rows.append_column(name, values)
    identifier = staging_table(step.source, step.object)
    table = load_table(ctx.catalog, identifier)
    if table is None and not rows_in:
        return Outcome(rows_in=0, rows_out=0, window=manifest.window_obj, batch_id=manifest.batch_id,
                       details={"files": len(files), "days": []})
    table = table or schema.create(ctx.catalog, identifier, rows.schema, spec.primary_key, spec.partition)
    newer = _newer_days(table, spec.partition, days, extracted)
    kept = [d for d in days if d not in newer]
    if newer and rows_in:
        rows = replace.outside(rows, spec.partition, newer)  # drops the newer days' rows
    new_mark = watermark.advance(watermark.read(table), manifest.window_obj, source.initial_start)
    props = {"lakeward.batch_id": manifest.batch_id, "lakeward.run_id": ctx.run_id}
    if new_mark:
        props[watermark.PROPERTY] = new_mark.isoformat()
    if not rows_in:  # the files held no rows: their days become empty
        rows = table.schema().as_arrow().empty_table()
    result = replace.replace_days(table, rows, spec.partition, kept, props)
    stagers.committed(ctx.home.landing, source.kind, manifest)
    return Outcome(
        rows_in=rows_in, rows_out=result.rows_written, window=manifest.window_obj, batch_id=manifest.batch_id,
        snapshot_id=result.snapshot_id, watermark=new_mark,
        details={"files": len(files), "days": [d.isoformat() for d in result.days],
                 "rows_removed": result.rows_removed, "late_rows": result.late_rows,
                 "days_kept_newer": [d.isoformat() for d in sorted(newer)], "columns_added": result.columns_added},
    )


def _check_days(rows: pa.Table, spec: FilesObject, key: str) -> None:
    """Every row must belong to the day of the file it came from: that day is what gets replaced."""
    if FILE_COLUMN not in rows.column_names:
        raise StageError(f"{key}: the staging SQL must keep the source file column {FILE_COLUMN}")
    assert spec.partition is not None
    for path in pc.unique(rows.column(FILE_COLUMN)).to_pylist():
        own = rows.filter(pc.equal(rows.column(FILE_COLUMN), path))
        stray = replace.outside(own, spec.partition, [path_day(path, spec, key)])
        if stray.num_rows:
            raise StageError(f"{key}: file {path}: {stray.num_rows} row(s) have {spec.partition.column} "
                             f"{stray.column(spec.partition.column)[0].as_py()}, outside the day its name gives")


def _newer_days(table: Table, partition: Partition, days: list[date], extracted: datetime) -> set[date]:
    """Days already written from an extraction later than this batch's (an old window replayed)."""
    if not days or EXTRACTED_COLUMN not in table.schema().column_names:
        return set()
    scope = affected(pa.table({partition.column: pa.array(days, pa.date32())}), partition)
    current = table.scan(row_filter=scope, selected_fields=(partition.column, EXTRACTED_COLUMN)).to_arrow()
    stamps = current.column(EXTRACTED_COLUMN)
    newer = current.filter(pc.greater(stamps, pa.scalar(extracted, stamps.type)))
    return {replace.day_of(v) for v in newer.column(partition.column).to_pylist()}

"""What each kind of step does: extract to landing, stage into Iceberg, build a mart.

These are the functions every runtime calls: the local runner in process, a Lambda handler or a Glue
script in AWS. Each returns an `Outcome` that the runner records in `audit.runs`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pyarrow as pa
from pyiceberg.catalog import Catalog

from lakeward import flatten, materialize, sql, stagers, watermark
from lakeward.dag import Step
from lakeward.definition import Definition, staging_table
from lakeward.home import Home
from lakeward.lake import drift, engine, landing, merge, quarantine, schema
from lakeward.lake.catalog import load_table
from lakeward.quality import audit_branch
from lakeward.sources.registry import extractor
from lakeward.sources.target import Target


@dataclass
class Outcome:
    rows_in: int | None = None
    rows_out: int | None = None
    window: landing.Window | None = None
    batch_id: str | None = None
    snapshot_id: int | None = None
    watermark: datetime | None = None
    details: dict = field(default_factory=dict)


@dataclass
class Context:
    """Everything a step needs from its run."""

    definition: Definition
    home: Home
    catalog: Catalog
    run_id: str
    now: datetime
    end: datetime
    start: datetime | None = None
    reextract: bool = False
    rebuild_marts: bool = False  # rebuild partitioned marts whole instead of their touched partitions
    on_rows: Callable[[str, int], None] = lambda step, n: None
    permits: dict[str, threading.Semaphore] = field(default_factory=dict)  # concurrent queries per source
    manifests: dict[str, landing.Manifest] = field(default_factory=dict)
    windows: dict[str, landing.Window] = field(default_factory=dict)  # fixed windows (reruns, backfills)


def extract(ctx: Context, step: Step) -> Outcome:
    source = ctx.definition.sources[step.source]
    spec = source.objects[step.object]
    current = watermark.read(load_table(ctx.catalog, staging_table(step.source, step.object)))
    window = ctx.windows.get(step.id) or watermark.plan(source, spec, current, ctx.start, ctx.end)
    manifest = None if ctx.reextract else landing.committed(ctx.home.landing, step.source, step.object, window)
    reused = manifest is not None
    if manifest is None:
        writer = landing.BatchWriter(ctx.home.landing, step.source, step.object, window).begin()
        target = Target(step.source, source, step.object, spec, str(ctx.definition.path))
        limits = source.limits_at(ctx.now)
        try:
            arrow_schema, stats = extractor(source.kind)(
                target, window, writer, limits, ctx.permits.get(step.source), lambda n: ctx.on_rows(step.id, n))
            manifest = writer.commit(arrow_schema, stats | {"concurrency": limits.concurrency})
        except OSError as err:  # a full or failing landing volume: say where, leave the batch uncommitted
            raise landing.LandingError(f"landing batch {writer.id} of {step.source}.{step.object} could not be "
                                       f"written under {writer.dir}: {err.strerror or err}") from err
    ctx.manifests[step.id] = manifest
    return Outcome(
        rows_out=manifest.row_count, window=window, batch_id=manifest.batch_id,
        details={"reused_landing": reused, **manifest.stats},
    )


def stage(ctx: Context, step: Step) -> Outcome:
    source = ctx.definition.sources[step.source]
    spec = source.objects[step.object]
    if getattr(spec, "stage_with", "merge") != "merge":
        return stagers.stager(spec.stage_with)(ctx, step)
    manifest = ctx.manifests[f"extract:{step.source}.{step.object}"]
    window = manifest.window_obj
    batch = landing.read_batch(ctx.home.landing, manifest)
    if spec.staging_sql:
        batch = _apply_staging_sql(ctx, spec.staging_sql, step, batch)
    batch = batch.append_column(merge.BATCH_COLUMN, pa.array([manifest.batch_id] * batch.num_rows, pa.string()))
    identifier = staging_table(step.source, step.object)
    table = load_table(ctx.catalog, identifier) or schema.create(
        ctx.catalog, identifier, batch.schema, spec.primary_key, spec.partition)
    gone = [] if spec.staging_sql else drift.removed(table, manifest)
    new_mark = watermark.advance(watermark.read(table), window, source.initial_start)
    props = {"lakeward.batch_id": manifest.batch_id, "lakeward.run_id": ctx.run_id}
    if new_mark:
        props[watermark.PROPERTY] = new_mark.isoformat()
    try:
        result = merge.merge(table, batch, key=spec.primary_key, cursor=spec.cursor, partition=spec.partition,
                             properties=props)
    except schema.SchemaDriftError as err:  # nothing was staged: keep the refused rows where they can be seen
        kept = quarantine.drifted(ctx.catalog, step.source, step.object, manifest.batch_id,
                                  batch.drop_columns([merge.BATCH_COLUMN]), err)
        raise schema.SchemaDriftError(f"{err}; its {batch.num_rows} rows are kept in {kept}", err.column,
                                      err.expected, err.found) from None
    stagers.committed(ctx.home.landing, source.kind, manifest)
    return Outcome(
        rows_in=result.rows_in, rows_out=result.inserted + result.updated, window=window,
        batch_id=manifest.batch_id, snapshot_id=result.snapshot_id, watermark=new_mark,
        details={"duplicates": result.duplicates, "inserted": result.inserted, "updated": result.updated,
                 "unchanged": result.unchanged, "columns_added": result.columns_added,
                 **drift.details(result.columns_added, gone)},
    )


def _apply_staging_sql(ctx: Context, path: str, step: Step, batch: pa.Table) -> pa.Table:
    """Run an object's staging SELECT over its landed batch (read as `landing.<source>__<object>`)."""
    spec = ctx.definition.sources[step.source].objects[step.object]
    if getattr(spec, "land", None) == "reference":  # no rows landed: its stager reads the files itself
        return stagers.candidate(spec.stage_with)(ctx, step)
    con = engine.duck()
    con.execute("CREATE SCHEMA landing")
    con.register("_lw_batch", batch)
    con.execute(f"CREATE VIEW landing.{step.source}__{step.object} AS SELECT * FROM _lw_batch")
    spec = ctx.definition.sources[step.source].objects[step.object]
    query = flatten.add_columns(sql.read(ctx.definition.root / path), getattr(spec, "flatten", {}))
    try:
        return con.sql(sql.to_duckdb(query)).to_arrow_table()
    except duckdb.Error:
        # An empty files batch lands nested (json) columns as text, which the SQL may not read: no rows
        # stage to no rows, in the staging table's shape less the bookkeeping columns added after the SQL.
        table = load_table(ctx.catalog, staging_table(step.source, step.object))
        if batch.num_rows or table is None:
            raise
        empty = table.schema().as_arrow().empty_table()
        return empty.drop_columns([c for c in empty.column_names if c.startswith("_lw_") and c != "_lw_file"])


MartError = materialize.MartError


def build_mart(ctx: Context, step: Step) -> Outcome:
    # Written to the audit branch: the mart's quality step publishes it to main only if it passes.
    built = materialize.build(ctx.definition, ctx.catalog, step.mart, run_id=ctx.run_id, full=ctx.rebuild_marts,
                              branch=audit_branch.BRANCH)
    return Outcome(rows_out=built.rows, snapshot_id=built.snapshot_id,
                   details={"inputs": sorted(built.inputs), "input_snapshots": built.inputs, "mode": built.mode,
                            "reason": built.reason, "partitions": built.partitions})


def quality(ctx: Context, step: Step) -> Outcome:
    from lakeward.quality import gate  # it reads batches the way `stage` does, so it imports this module

    return gate.run(ctx, step)


RUNNERS = {"extract": extract, "quality": quality, "stage": stage, "mart": build_mart}


def as_details(outcome: Outcome) -> str:
    return json.dumps(outcome.details, default=str, sort_keys=True)

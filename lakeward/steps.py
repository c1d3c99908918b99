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

import pyarrow as pa
from pyiceberg.catalog import Catalog

from lakeward import sql, watermark
from lakeward.dag import Step
from lakeward.definition import Definition, staging_table
from lakeward.home import Home
from lakeward.lake import engine, landing, merge, schema
from lakeward.lake.catalog import load_table
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
    on_rows: Callable[[str, int], None] = lambda step, n: None
    permits: dict[str, threading.Semaphore] = field(default_factory=dict)  # concurrent queries per source
    manifests: dict[str, landing.Manifest] = field(default_factory=dict)


def extract(ctx: Context, step: Step) -> Outcome:
    source = ctx.definition.sources[step.source]
    spec = source.objects[step.object]
    current = watermark.read(load_table(ctx.catalog, staging_table(step.source, step.object)))
    window = watermark.plan(source, spec, current, ctx.start, ctx.end)
    manifest = None if ctx.reextract else landing.committed(ctx.home.landing, step.source, step.object, window)
    reused = manifest is not None
    if manifest is None:
        writer = landing.BatchWriter(ctx.home.landing, step.source, step.object, window).begin()
        target = Target(step.source, source, step.object, spec, str(ctx.definition.path))
        limits = source.limits_at(ctx.now)
        arrow_schema, stats = extractor(source.kind)(
            target, window, writer, limits, ctx.permits.get(step.source), lambda n: ctx.on_rows(step.id, n))
        manifest = writer.commit(arrow_schema, stats | {"concurrency": limits.concurrency})
    ctx.manifests[step.id] = manifest
    return Outcome(
        rows_out=manifest.row_count, window=window, batch_id=manifest.batch_id,
        details={"reused_landing": reused, **manifest.stats},
    )


def stage(ctx: Context, step: Step) -> Outcome:
    source = ctx.definition.sources[step.source]
    spec = source.objects[step.object]
    manifest = ctx.manifests[f"extract:{step.source}.{step.object}"]
    window = manifest.window_obj
    batch = landing.read_batch(ctx.home.landing, manifest)
    if spec.staging_sql:
        batch = _apply_staging_sql(ctx, spec.staging_sql, step, batch)
    batch = batch.append_column(merge.BATCH_COLUMN, pa.array([manifest.batch_id] * batch.num_rows, pa.string()))
    identifier = staging_table(step.source, step.object)
    table = load_table(ctx.catalog, identifier) or schema.create(
        ctx.catalog, identifier, batch.schema, spec.primary_key, spec.partition)
    new_mark = watermark.advance(watermark.read(table), window, source.initial_start)
    props = {"lakeward.batch_id": manifest.batch_id, "lakeward.run_id": ctx.run_id}
    if new_mark:
        props[watermark.PROPERTY] = new_mark.isoformat()
    result = merge.merge(table, batch, key=spec.primary_key, cursor=spec.cursor, partition=spec.partition,
                         properties=props)
    return Outcome(
        rows_in=result.rows_in, rows_out=result.inserted + result.updated, window=window,
        batch_id=manifest.batch_id, snapshot_id=result.snapshot_id, watermark=new_mark,
        details={"duplicates": result.duplicates, "inserted": result.inserted, "updated": result.updated,
                 "unchanged": result.unchanged, "columns_added": result.columns_added},
    )


def _apply_staging_sql(ctx: Context, path: str, step: Step, batch: pa.Table) -> pa.Table:
    """Run an object's staging SELECT over its landed batch (read as `landing.<source>__<object>`)."""
    con = engine.duck()
    con.execute("CREATE SCHEMA landing")
    con.register("_lw_batch", batch)
    con.execute(f"CREATE VIEW landing.{step.source}__{step.object} AS SELECT * FROM _lw_batch")
    return con.sql(sql.to_duckdb(sql.read(ctx.definition.root / path))).to_arrow_table()


class MartError(ValueError):
    """A mart whose result breaks its declaration; the published table is left as it was."""


def build_mart(ctx: Context, step: Step) -> Outcome:
    spec = ctx.definition.marts[step.mart]
    tree = sql.read(ctx.definition.root / spec.sql)
    con = engine.connect(ctx.catalog, sql.tables_read(tree))
    result = con.sql(sql.to_duckdb(tree)).to_arrow_table()
    missing = [k for k in spec.key if k not in result.column_names]
    if missing:
        raise MartError(f"marts.{step.mart}: {spec.sql} returns no key column '{missing[0]}'")
    con.register("result", result)
    keys = ", ".join(spec.key)
    dupes = con.execute(
        f"SELECT count(*) FROM (SELECT {keys} FROM result GROUP BY ALL HAVING count(*) > 1)").fetchall()[0][0]
    if dupes:
        raise MartError(
            f"marts.{step.mart}: {dupes} duplicate key(s) on ({keys}); the declared grain is '{spec.grain}'")
    identifier = f"marts.{step.mart}"
    table = load_table(ctx.catalog, identifier) or schema.create(
        ctx.catalog, identifier, result.schema, spec.key, spec.partition)
    schema.evolve(table, result.schema)
    table = table.refresh()
    table.overwrite(schema.conform(result, table), snapshot_properties={"lakeward.run_id": ctx.run_id})
    return Outcome(rows_out=result.num_rows, snapshot_id=table.refresh().current_snapshot().snapshot_id,
                   details={"inputs": sorted(sql.tables_read(tree))})


RUNNERS = {"extract": extract, "stage": stage, "mart": build_mart}


def as_details(outcome: Outcome) -> str:
    return json.dumps(outcome.details, default=str, sort_keys=True)

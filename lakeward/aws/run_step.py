"""One step of a state machine, as the Lambda handlers and Glue scripts run it: the same extractors and
stage code as the local runner, with landing on S3 and the catalog in Glue.

A task is what the state machine sends: {"source", "object", "window": {"start", "end"}, "mode", "run_id"}.
A null window start means "from the watermark"; mode `reconcile` re-reads the source even when the
window's batch is already on S3, any other mode replays it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime

import boto3
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError

from lakeward import watermark
from lakeward.aws import optimizers, s3_landing
from lakeward.aws.runtime import AwsRuntime
from lakeward.dag import Step
from lakeward.definition import Definition, staging_table
from lakeward.home import Home
from lakeward.lake import landing
from lakeward.sources.connections import resolve
from lakeward.sources.file_manifest import FILE_LIST
from lakeward.sources.registry import extractor
from lakeward.sources.target import Target


class TaskError(ValueError):
    """A task input that names no declared object, or a malformed window."""


def _target(defn: Definition, task: dict) -> Target:
    source, obj = task.get("source"), task.get("object")
    if source not in defn.sources or obj not in defn.sources[source].objects:
        raise TaskError(f"task names {source}.{obj}, which {defn.path} does not declare")
    return Target(source, defn.sources[source], obj, defn.sources[source].objects[obj], str(defn.path))


def _window(task: dict, target: Target, catalog: Catalog) -> landing.Window:
    raw = task.get("window") or {}
    try:
        end = datetime.fromisoformat(raw["end"])
        start = datetime.fromisoformat(raw["start"]) if raw.get("start") else None
    except (KeyError, TypeError, ValueError) as err:
        raise TaskError(f"task window {raw!r}: expected ISO-8601 'start' (or null) and 'end'") from err
    try:
        table = catalog.load_table(staging_table(target.source_name, target.object_name))
    except NoSuchTableError:
        table = None
    current = watermark.read(table)
    return watermark.plan(target.source, target.spec, current, start, end)


def pointer_key(task: dict) -> str:
    """Where an extraction tells the stage step which batch it produced, per run and window."""
    window = json.dumps(task.get("window"), sort_keys=True)
    digest = hashlib.sha256(f"{task['run_id']}/{window}".encode()).hexdigest()[:20]
    return f"_runs/{task['source']}/{task['object']}/{digest}.json"


def extract(task: dict, rt: AwsRuntime, catalog: Catalog, s3=None) -> dict:
    s3 = s3 or boto3.client("s3")
    defn = rt.definition()
    target = _target(defn, task)
    window = _window(task, target, catalog)
    manifest = None
    if task.get("mode") != "reconcile":
        manifest = s3_landing.committed(s3, rt.landing_bucket, target.source_name, target.object_name, window)
    reused = manifest is not None
    if manifest is None:
        root = rt.scratch / "landing"
        own = landing.batch_id(target.source_name, target.object_name, window)
        previous = s3_landing.fetch_latest_manifest(s3, rt.landing_bucket, root, target.source_name,
                                                    target.object_name, other_than=own)
        writer = landing.BatchWriter(root, target.source_name, target.object_name, window).begin()
        try:
            limits = target.source.limits_at(datetime.now(UTC))
            schema, stats = extractor(target.source.kind)(target, window, writer, limits)  # type: ignore[attr-defined]
            manifest = writer.commit(schema, stats | {"concurrency": limits.concurrency})
            s3_landing.upload(s3, rt.landing_bucket, root, manifest)
        finally:
            for folder in (writer.dir, previous.parent if previous else None):  # a warm Lambda keeps /tmp
                if folder:
                    shutil.rmtree(folder, ignore_errors=True)
    key = s3_landing.batch_prefix(manifest.source, manifest.object, manifest.batch_id) + landing.MANIFEST
    result = {"batch_id": manifest.batch_id, "manifest": key, "rows": manifest.row_count,
              "window": manifest.window, "reused_landing": reused}
    if target.source.kind == "files":  # type: ignore[attr-defined]
        # A compaction job reads the files where they are: it needs the root the file list is relative to.
        result["root"] = resolve(target.source.connection, f"sources.{target.source_name}.connection")
        result["file_list"] = f"s3://{rt.landing_bucket}/{key.removesuffix(landing.MANIFEST)}{FILE_LIST}"
    s3.put_object(Bucket=rt.landing_bucket, Key=pointer_key(task), Body=json.dumps(result).encode())
    return result


def run(kind: str, task: dict, rt: AwsRuntime, catalog: Catalog, s3=None) -> dict:
    """Run a graph step after extraction (`quality`, `stage`) exactly as the local runner does, on the
    batch the extraction of this run and window produced (or, for a mart gate, on the published mart)."""
    from lakeward import steps  # DuckDB and the stage code: not on the extraction functions' import path

    s3 = s3 or boto3.client("s3")
    defn = rt.definition()
    home = Home(rt.scratch)
    now = datetime.now(UTC)
    if task.get("mart"):
        step = Step(f"{kind}:marts.{task['mart']}", kind, mart=task["mart"])  # type: ignore[arg-type]
        manifests = {}
    else:
        target = _target(defn, task)
        pointer = json.loads(s3.get_object(Bucket=rt.landing_bucket, Key=pointer_key(task))["Body"].read())
        body = s3.get_object(Bucket=rt.landing_bucket, Key=pointer["manifest"])["Body"].read()
        manifest = landing.Manifest(**json.loads(body))
        s3_landing.download(s3, rt.landing_bucket, home.landing, manifest)
        step_id = f"{target.source_name}.{target.object_name}"
        step = Step(f"{kind}:{step_id}", kind, target.source_name, target.object_name)  # type: ignore[arg-type]
        manifests = {f"extract:{step_id}": manifest}
    ctx = steps.Context(defn, home, catalog, run_id=task.get("run_id", "aws"), now=now, end=now,
                        manifests=manifests)
    try:
        if kind == "quality" and task.get("mart"):  # measured on Athena, where the marts machine built it
            outcome = _mart_gate(ctx, step, task)
        else:
            outcome = steps.RUNNERS[kind](ctx, step)
    finally:
        shutil.rmtree(home.landing, ignore_errors=True)  # a warm Lambda keeps /tmp between calls
    # Staged tables and published marts (each Athena MERGE leaves delete files for compaction to fold).
    if rt.optimizer_role and (outcome.snapshot_id if kind == "stage" else task.get("mart")):
        optimizers.ensure(step.table, rt.optimizer_role)  # type: ignore[arg-type]
    return {"step": step.id, "batch_id": outcome.batch_id, "rows_in": outcome.rows_in, "rows_out": outcome.rows_out,
            "snapshot_id": outcome.snapshot_id,
            "watermark": outcome.watermark.isoformat() if outcome.watermark else None}


def _mart_gate(ctx, step: Step, task: dict):
    """The gate of a mart the marts machine built on Athena: measured there, and on a blocking failure the
    mart goes back to where it was when the machine started (`started`, its execution start time)."""
    from lakeward.aws import athena_quality
    from lakeward.lake.catalog import load_table
    from lakeward.quality import gate

    try:
        return gate.run(ctx, step, measure_mart=athena_quality.measurer())
    except gate.QualityGateError:
        table = load_table(ctx.catalog, step.table)
        if task.get("started") and table is not None:
            athena_quality.revert_build(table, datetime.fromisoformat(task["started"]))
        raise

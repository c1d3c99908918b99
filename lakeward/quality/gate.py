"""The quality step: measure a table's candidate with one query, judge it, record it, publish or stop.

A staging gate audits the landed batch (after the staging SQL) before the stage step merges it: that merge
is the publication, one commit with the watermark, so a blocked batch changes nothing and its watermark
stays put; the batch stays in landing to inspect, and a rerun after a fix reads the source again. A mart
gate audits the build on the mart's audit branch and fast-forwards `main` to it only if no blocking rule
fails, so readers never see a failed build (see audit_branch.py); a build committed straight to `main`
(Athena) is reverted to the snapshot before it in one commit instead.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pyarrow as pa
from pyiceberg.table import Table

from lakeward import stagers
from lakeward.dag import Step
from lakeward.lake import engine, landing
from lakeward.lake.catalog import load_table
from lakeward.quality import audit_branch, emf, publish, store
from lakeward.quality.compile_metrics import compile_query, to_duckdb
from lakeward.quality.declare import load_rules
from lakeward.quality.evaluate import Audit, Verdict, evaluate
from lakeward.quality.rules import TableRules

RELATION = "candidate"
TYPED = frozenset({"sql", "range"})  # rules whose SQL depends on column types


class QualityGateError(RuntimeError):
    """Blocking rules failed: the step fails and everything downstream is skipped."""


def measure(con: duckdb.DuckDBPyConnection, rules: TableRules, candidate: pa.Table, end: datetime
            ) -> dict[str, float | None]:
    """Every metric of the table from one scan of the candidate."""
    con.register(RELATION, candidate)
    columns = set(candidate.column_names)
    text, metrics = compile_query(rules, RELATION, columns, end)
    try:
        row = con.execute(to_duckdb(text)).fetchone()
    except duckdb.Error:  # a drifted type breaks typed expressions; measure the rest, report those as unmeasured
        broken = frozenset(r.rule_name for r in rules.rules
                           if r.kind in TYPED and not _runs(con, rules, r, columns, end))
        text, metrics = compile_query(rules, RELATION, columns, end, skip=broken)
        row = con.execute(to_duckdb(text)).fetchone()
    return {m.name: None if v is None else float(v) for m, v in zip(metrics, row, strict=True)}


def _runs(con: duckdb.DuckDBPyConnection, rules: TableRules, rule, columns: set[str], end: datetime) -> bool:
    text, _ = compile_query(TableRules(table=rules.table, rules=[rule]), RELATION, columns, end)
    try:
        con.execute(to_duckdb(text)).fetchone()
    except duckdb.Error:
        return False
    return True


def _staged_batch(ctx, step: Step) -> tuple[pa.Table, landing.Manifest]:
    from lakeward.steps import _apply_staging_sql  # the stage step's own SQL application, one implementation

    manifest = ctx.manifests[f"extract:{step.source}.{step.object}"]
    spec = ctx.definition.sources[step.source].objects[step.object]
    stage_with = getattr(spec, "stage_with", "merge")
    try:  # compaction and partition replacement say what they would publish, when they can
        rows = stagers.candidate(stage_with) if stage_with != "merge" else None
    except AttributeError:
        rows = None  # a stager without a candidate publishes the landed rows: audit those
    if rows is not None:
        return rows(ctx, step), manifest
    batch = landing.read_batch(ctx.home.landing, manifest)
    if spec.staging_sql:
        batch = _apply_staging_sql(ctx, spec.staging_sql, step, batch)
    return batch, manifest


def _parents(rules: TableRules) -> set[str]:
    return {r.table for r in rules.rules if r.kind == "references"}


def run(ctx, step: Step, measure_mart=None):
    """`measure_mart(rules, identifier, columns, end) -> metrics` measures a mart where it lives instead of
    reading it into DuckDB here (in AWS: on Athena, where its builds commit, lakeward/aws/athena_quality.py)."""
    from lakeward.steps import Outcome

    identifier = step.table
    rules = load_rules(ctx.definition)[identifier]
    published = load_table(ctx.catalog, identifier)
    window, built = None, None
    if step.source:
        candidate, manifest = _staged_batch(ctx, step)
        window, batch_id = manifest.window_obj, manifest.batch_id
        start, end, contract = window.start, window.end, published.schema().as_arrow() if published else None
    else:
        built = _built(published)
        batch_id, start, end, contract = None, None, ctx.end, _previous_schema(published, ctx.run_id)
        if measure_mart is not None:
            schema = published.schema().as_arrow()
            values = measure_mart(rules, identifier, set(schema.names), end)
        else:
            candidate = published.scan(snapshot_id=built.snapshot_id if built else None).to_arrow()
    if step.source or measure_mart is None:
        parents = _parents(rules)
        con = engine.connect(ctx.catalog, parents) if parents else engine.duck()
        values, schema = measure(con, rules, candidate, end), candidate.schema
    audit = Audit(identifier, start, end, schema, contract, values, store.history(ctx.catalog, identifier))
    verdicts = evaluate(rules, audit)
    blocking = [v for v in verdicts if v.status == "fail"]
    if blocking and not step.source:  # a build on the audit branch just stays there, unpublished
        if built:
            publish.forget_inputs(published)
        else:
            _revert(published, ctx.run_id)
    elif not step.source and built:
        audit_branch.publish(published, built.snapshot_id)
    _record(ctx, identifier, batch_id, start, end, values, verdicts, published=not blocking)
    if blocking:
        raise QualityGateError("; ".join(v.message for v in blocking))
    warnings = [v.message for v in verdicts if v.status == "warn"]
    return Outcome(rows_in=int(values.get("rows") or 0), window=window, batch_id=batch_id, details={
        "warnings": warnings, "quality": {v.rule.rule_name: v.status for v in verdicts}})


def _record(ctx, table: str, batch_id: str | None, start: datetime | None, end: datetime,
            values: dict[str, float | None], verdicts: list[Verdict], *, published: bool) -> None:
    now = datetime.now(UTC)
    anomalous = {m for v in verdicts if v.status in ("warn", "fail") for m in v.anomalous}
    metrics = [store.MetricRow(ctx.run_id, table, batch_id, name, value, start, end, end.weekday(), end.hour,
                               published, name not in anomalous, now) for name, value in values.items()]
    results = [store.ResultRow(ctx.run_id, table, batch_id, v.rule.rule_name, v.rule.kind, _column(v),
                               v.rule.severity, v.status, v.observed, v.lower, v.upper, v.message, end, now)
               for v in verdicts]
    store.append(ctx.catalog, metrics, results)
    if emf.enabled():
        emf.emit(results)


def _column(verdict: Verdict) -> str | None:
    rule = verdict.rule
    return rule.column_name or (", ".join(rule.columns) if rule.kind == "unique" else None)


def _built(table: Table):
    """The unpublished build on the audit branch (ahead of `main`), if the mart was built there; Athena builds
    commit to `main`. It may be an earlier run's, killed before its gate: the mart's recorded inputs are that
    build's, so this run's mart step found nothing to rebuild and the build is audited now."""
    snapshot = audit_branch.head(table)
    current = table.current_snapshot()
    if snapshot is None or (current and current.snapshot_id not in audit_branch.lineage(table, snapshot)[1:]):
        return None
    return snapshot


def _previous_schema(table: Table, run_id: str) -> pa.Schema | None:
    """A mart's contract is the schema it had before this run's build (if it had one)."""
    before = _before_run(table, run_id)
    return table.schemas()[before.schema_id].as_arrow() if before and before.schema_id is not None else None


def _before_run(table: Table, run_id: str):
    """The newest snapshot not written by this run (an overwrite commits a delete and an append)."""
    snapshot = table.current_snapshot()
    while snapshot is not None and _made_by(snapshot, run_id):
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None
    return snapshot


def _revert(table: Table, run_id: str) -> None:
    """Put back the snapshot before this run's build; the build's input bookkeeping goes with it, so the
    next build starts from scratch."""
    table = table.refresh()
    current = table.current_snapshot()
    if current is None or not _made_by(current, run_id):
        return  # this run published nothing new
    before = _before_run(table, run_id)
    publish.revert(table, before.snapshot_id if before else None)


def _made_by(snapshot, run_id: str) -> bool:
    return snapshot.summary is not None and snapshot.summary.additional_properties.get("lakeward.run_id") == run_id


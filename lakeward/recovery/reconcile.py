"""Daily full reconciliation of finance objects (declared with `reconcile:`) against their sources.

The source is read in full through its own extractor, one query at a time in the source's chunk size
(throttled: a single permit, whatever the concurrency limit). Compared with staging by primary key:
- rows the warehouse lacks although their cursor is behind the watermark (missed: clock skew, a lost batch);
- rows the source no longer has (hard deletes, which incremental loads never see);
- rows whose amount differs;
and per day (the declared date column) the counts and sums on both sides. Every difference is recorded
with its row in `audit.reconciliations`; hard deletes are applied to staging (one commit per table) and
the marts downstream are rebuilt; anything else raises an alert with the backfill command that repairs it.
"""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import reduce

import pyarrow as pa
from pyiceberg.expressions import And, EqualTo, In, Or

from lakeward import dag, runner, watermark
from lakeward.definition import Definition, Limits, staging_table
from lakeward.home import Home
from lakeward.lake import engine, landing
from lakeward.lake.catalog import ensure_table, load_table, open_catalog
from lakeward.recovery import alerts
from lakeward.recovery.backfill import command as backfill_command
from lakeward.sources.registry import extractor
from lakeward.sources.target import Target

TABLE = "audit.reconciliations"
SCHEMA = pa.schema([
    pa.field("reconcile_id", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("object", pa.string(), nullable=False),
    pa.field("day", pa.date32()),
    pa.field("kind", pa.string(), nullable=False),  # missing_in_warehouse | deleted_in_source | amount_differs | day
    pa.field("row_key", pa.string()),  # JSON of the primary key
    pa.field("source_value", pa.string()),  # the amount (or, for a day, "count/sum")
    pa.field("warehouse_value", pa.string()),
    pa.field("source_cursor", pa.timestamp("us", tz="UTC")),
    pa.field("applied", pa.bool_(), nullable=False),  # the difference was repaired in staging
    pa.field("recorded_at", pa.timestamp("us", tz="UTC"), nullable=False),
])


@dataclass
class ObjectResult:
    source: str
    object: str
    source_rows: int
    warehouse_rows: int
    differences: list[dict] = field(default_factory=list)
    days_differing: int = 0
    recovery: str | None = None


@dataclass
class Report:
    reconcile_id: str
    objects: list[ObjectResult] = field(default_factory=list)
    marts_rebuilt: list[str] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return all(not o.differences and not o.days_differing for o in self.objects)

    def lines(self) -> list[str]:
        out = []
        for o in self.objects:
            kinds: dict[str, int] = {}
            for d in o.differences:
                kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
            state = "MATCH" if not o.differences and not o.days_differing else "MISMATCH"
            detail = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no row differs"
            out.append(f"{state} {o.source}.{o.object}: source {o.source_rows} rows, warehouse {o.warehouse_rows}; "
                       f"{o.days_differing} day(s) differ; {detail}")
            if o.recovery:
                out.append(f"  repair with: {o.recovery}")
        if self.marts_rebuilt:
            out.append(f"hard deletes applied to staging; rebuilt {', '.join(self.marts_rebuilt)}")
        return out


def reconcile(defn: Definition, home: Home, *, sources: set[str] | None = None, apply_deletes: bool = True,
              now: datetime | None = None) -> Report:
    now = now or datetime.now(UTC)
    report = Report(f"reconcile-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}")
    catalog = open_catalog(home)
    touched: set[str] = set()
    for source, obj, spec in defn.objects():
        if spec.reconcile is None or (sources and source not in sources):
            continue
        table = load_table(catalog, staging_table(source, obj))
        if table is None:
            continue
        result, deletes = _compare(defn, home, source, obj, spec, table, now, report.reconcile_id)
        if deletes and apply_deletes:
            _apply_deletes(table, spec.primary_key, deletes, report.reconcile_id)
            touched.add(source)
            for d in result.differences:
                d["applied"] = d["kind"] == "deleted_in_source"
        _record(catalog, report.reconcile_id, result, now)
        report.objects.append(result)
        if result.differences or result.days_differing:
            alerts.fire(home, alerts.Alert(
                "reconcile_mismatch", "error", Report(report.reconcile_id, [result]).lines()[0],
                step=f"reconcile:{source}.{obj}", recovery=result.recovery,
                details={"reconcile_id": report.reconcile_id, "differences": len(result.differences)}))
    for source in sorted(touched):
        marts = {sid for sid, s in dag.select(dag.build(defn), {source}).items() if s.mart is not None}
        if marts:
            run = runner.run(defn, home, sources={source}, only=marts, now=now, triggered_by=report.reconcile_id)
            report.marts_rebuilt += sorted(s for s in marts if s.startswith("mart:") and run.results[s].status
                                           == "succeeded")
    return report


def _read_source(defn, home, source, obj, spec, now) -> pa.Table:
    """Every row of the object, through its extractor, one chunk query at a time."""
    src = defn.sources[source]
    window = landing.Window(src.initial_start, now + timedelta(days=3650))  # future cursors too: clock skew
    folder = home.root / "reconcile"
    writer = landing.BatchWriter(folder, source, obj, window).begin()
    limits = Limits(chunk_rows=src.limits_at(now).chunk_rows, concurrency=1)
    try:
        schema, stats = extractor(src.kind)(Target(source, src, obj, spec, str(defn.path)), window, writer, limits,
                                            threading.Semaphore(1))
        return landing.read_batch(folder, writer.commit(schema, stats))
    finally:
        shutil.rmtree(folder / source / obj, ignore_errors=True)


def _compare(defn, home, source, obj, spec, table, now, reconcile_id) -> tuple[ObjectResult, list[dict]]:
    rec = spec.reconcile
    src = _read_source(defn, home, source, obj, spec, now)
    wh = table.scan().to_arrow()
    mark = watermark.read(table) or now
    con = engine.duck()
    con.register("src", src)
    con.register("wh", wh)
    keys = spec.primary_key
    on = " AND ".join(f's."{k}" = w."{k}"' for k in keys)
    key_json = "to_json(struct_pack(" + ", ".join(f'"{k}" := coalesce(s."{k}", w."{k}")' for k in keys) + "))"
    amount = f'"{rec.amount}"' if rec.amount else "NULL"
    s_amount, w_amount = (f"s.{amount}", f"w.{amount}") if rec.amount else ("NULL", "NULL")
    found = con.execute(f"""
        SELECT CAST(coalesce(s."{rec.date}", w."{rec.date}") AS DATE) AS day,
               CASE WHEN w."{keys[0]}" IS NULL THEN 'missing_in_warehouse'
                    WHEN s."{keys[0]}" IS NULL THEN 'deleted_in_source' ELSE 'amount_differs' END AS kind,
               {key_json}::VARCHAR AS row_key,
               CAST({s_amount} AS VARCHAR) AS source_value, CAST({w_amount} AS VARCHAR) AS warehouse_value,
               s."{spec.cursor}" AS source_cursor
        FROM src AS s FULL OUTER JOIN wh AS w ON {on}
        WHERE (w."{keys[0]}" IS NULL AND s."{spec.cursor}" < $mark)
           OR s."{keys[0]}" IS NULL
           OR (s."{spec.cursor}" < $mark AND {s_amount} IS DISTINCT FROM {w_amount})
        ORDER BY 1, 2, 3""", {"mark": mark})
    names = [c[0] for c in found.description]
    diffs = [dict(zip(names, row, strict=True)) for row in found.fetchall()]
    days = con.execute(f"""
        WITH a AS (SELECT CAST("{rec.date}" AS DATE) AS day, count(*) AS n, sum({amount}) AS total FROM src
                   WHERE "{spec.cursor}" < $mark GROUP BY 1),
             later AS (SELECT * FROM src WHERE "{spec.cursor}" >= $mark),  -- changed since the last load
             b AS (SELECT CAST(w."{rec.date}" AS DATE) AS day, count(*) AS n, sum({w_amount}) AS total
                   FROM wh AS w ANTI JOIN later AS s ON {on} GROUP BY 1)
        SELECT coalesce(a.day, b.day) AS day, a.n AS sn, a.total AS st, b.n AS wn, b.total AS wt
        FROM a FULL OUTER JOIN b ON a.day = b.day
        WHERE a.n IS DISTINCT FROM b.n OR a.total IS DISTINCT FROM b.total ORDER BY 1""",
                       {"mark": mark}).fetchall()
    result = ObjectResult(source, obj, src.num_rows, wh.num_rows, diffs, len(days))
    for day, sn, st, wn, wt in days:
        result.differences.append({"day": day, "kind": "day", "row_key": None, "source_value": f"{sn or 0}/{st}",
                                   "warehouse_value": f"{wn or 0}/{wt}", "source_cursor": None})
    missed = [d["source_cursor"] for d in diffs if d["kind"] != "deleted_in_source" and d["source_cursor"]]
    if missed:
        first = min(missed).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        last = max(missed).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        result.recovery = backfill_command(source, obj, first, last, timedelta(days=1))
    deletes = [json.loads(d["row_key"]) for d in diffs if d["kind"] == "deleted_in_source"]
    return result, deletes


def _apply_deletes(table, keys: list[str], rows: list[dict], reconcile_id: str) -> None:
    if len(keys) == 1:
        condition = In(keys[0], {r[keys[0]] for r in rows})
    else:
        condition = reduce(Or, [reduce(And, [EqualTo(k, r[k]) for k in keys]) for r in rows])
    table.delete(delete_filter=condition, snapshot_properties={"lakeward.reconcile_id": reconcile_id})


def _record(catalog, reconcile_id: str, result: ObjectResult, now: datetime) -> None:
    rows = [{"reconcile_id": reconcile_id, "source": result.source, "object": result.object, "day": d["day"],
             "kind": d["kind"], "row_key": d["row_key"], "source_value": d["source_value"],
             "warehouse_value": d["warehouse_value"], "source_cursor": d["source_cursor"],
             "applied": bool(d.get("applied")), "recorded_at": now} for d in result.differences]
    if rows:
        ensure_table(catalog, TABLE, SCHEMA).append(pa.Table.from_pylist(rows, schema=SCHEMA))

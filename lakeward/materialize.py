"""Publish a mart: a full rebuild, or a rebuild of only the date partitions that changed upstream rows touch.

A mart remembers, in its table properties, the snapshot of every input it was built from and a hash of
its SQL. The next build diffs each input between that snapshot and the current one (rows added, changed
or deleted, in their old and new versions), asks the mart's declared `changes` SELECT which partitions
those rows touch, recomputes only those partitions and replaces them in one commit with the new input
snapshots. Anything it cannot reason about (first build, changed SQL, an expired snapshot, an input
without a declared change mapping) falls back to the full rebuild, which gives the same table.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.table import Table

from lakeward import sql
from lakeward.definition import Definition, Mart
from lakeward.lake import engine, merge, schema
from lakeward.lake.catalog import load_table
from lakeward.quality import audit_branch

INPUTS_PROPERTY = "lakeward.mart.inputs"
SQL_PROPERTY = "lakeward.mart.sql_sha256"
CHANGED = "changed"  # the relation a `changes` SELECT reads


class MartError(ValueError):
    """A mart whose result breaks its declaration; the published table is left as it was."""


@dataclass
class Built:
    rows: int  # rows written by this build
    snapshot_id: int | None
    mode: str  # full | partitions | unchanged
    reason: str = ""
    partitions: list[str] = field(default_factory=list)  # partition values rebuilt, when partial
    inputs: dict[str, int | None] = field(default_factory=dict)


def build(defn: Definition, catalog: Catalog, name: str, *, run_id: str, full: bool = False,
          branch: str | None = None) -> Built:
    """Build `marts.<name>` from the current snapshots of its inputs (into `branch`, for its gate to publish)."""
    spec = defn.marts[name]
    text = (defn.root / spec.sql).read_text()
    tree = sql.parse(text, spec.sql)
    inputs = sorted(sql.tables_read(tree))
    snapshots = {t: _snapshot_id(catalog, t) for t in inputs}
    identifier = f"marts.{name}"
    table = load_table(catalog, identifier)
    digest = hashlib.sha256(text.encode()).hexdigest()
    props = {INPUTS_PROPERTY: json.dumps(snapshots, sort_keys=True), SQL_PROPERTY: digest,
             "lakeward.run_id": run_id}
    con = engine.connect(catalog, inputs)
    query = sql.to_duckdb(tree)
    reason = _full_reason(spec, table, digest, full)
    touched: pa.Table | None = None
    if reason is None:
        touched, reason = _touched(catalog, spec, table, snapshots, con)
    if touched is None:
        result = _run(con, name, spec, query)
        table = table or schema.create(catalog, identifier, result.schema, spec.key, spec.partition)
        _commit(table, result, AlwaysTrue(), props, branch)
        return Built(result.num_rows, _current(table, branch), "full", reason or "", inputs=snapshots)
    assert table is not None and spec.partition is not None
    values = sorted({str(v) for v in touched.column(0).to_pylist()})
    if not values:
        with table.transaction() as tx:  # nothing to rebuild; the mart now reflects these inputs
            tx.set_properties(props)
        return Built(0, _current(table), "unchanged", "no change touches a partition", inputs=snapshots)
    column = spec.partition.column
    con.register("_lw_touched", touched.rename_columns([column]))
    bucket = _bucket_sql(spec.partition.transform)
    result = _run(con, name, spec, f"""
        SELECT * FROM ({query}) AS m
        WHERE {bucket.format(f'm.{column}')} IN (SELECT {bucket.format(column)} FROM _lw_touched)
           OR (m.{column} IS NULL AND EXISTS (SELECT 1 FROM _lw_touched WHERE {column} IS NULL))""")
    scope = merge.affected(touched.rename_columns([column]), spec.partition)
    _commit(table, result, scope, props, branch)
    return Built(result.num_rows, _current(table, branch), "partitions", partitions=values, inputs=snapshots)


def _full_reason(spec: Mart, table: Table | None, digest: str, full: bool) -> str | None:
    if full:
        return "full rebuild requested"
    if spec.materialization == "table":
        return "materialization: table"
    if table is None:
        return "first build"
    if table.properties.get(SQL_PROPERTY) != digest:
        return "the mart SQL changed"
    return None


def _touched(catalog: Catalog, spec: Mart, table: Table, snapshots: dict[str, int | None],
             con: duckdb.DuckDBPyConnection) -> tuple[pa.Table | None, str | None]:
    """The partition values changed input rows touch, or None and why the whole mart must be rebuilt."""
    built_from = json.loads(table.properties.get(INPUTS_PROPERTY, "{}"))
    parts: list[pa.Table] = []
    for name, current in snapshots.items():
        before = built_from.get(name)
        if before == current:
            continue
        if name not in spec.changes:
            return None, f"{name} changed and the mart declares no partitions it touches"
        source = load_table(catalog, name)
        changed = _changed_rows(source, before, current) if source is not None else None
        if changed is None:
            return None, f"{name}: snapshot {before} is no longer available"
        tree = sql.parse(spec.changes[name], f"marts changes of {name}")
        unread = sql.tables_read(tree) - {CHANGED} - set(snapshots)
        if unread:
            raise MartError(f"changes of {name} read {sorted(unread)[0]}, which the mart SQL does not read")
        con.register(CHANGED, changed)
        try:
            parts.append(con.sql(sql.to_duckdb(tree))
                         .to_arrow_table().select([0]).rename_columns(["p"]))
        except duckdb.Error as err:
            raise MartError(f"changes of {name}: {str(err).splitlines()[0]}") from None
        finally:
            con.unregister(CHANGED)
    if not parts:
        return pa.table({"p": pa.array([], pa.date32())}), None
    return pa.concat_tables(parts, promote_options="permissive"), None


def _changed_rows(table: Table, before: int | None, current: int | None) -> pa.Table | None:
    """Rows that differ between two snapshots, in both versions: inserts, updates (old and new), deletes.

    Only the data files one snapshot has and the other lacks are read; pyiceberg writes copy-on-write,
    so the difference of those files' rows is exactly the change."""
    if before is not None and table.snapshot_by_id(before) is None:
        return None
    old = _files(table, before)
    new = _files(table, current)
    projected = table.schema()

    def rows(snapshot: dict[str, object], skip: dict[str, object]) -> pa.Table:
        tasks = [task for path, task in snapshot.items() if path not in skip]
        return ArrowScan(table.metadata, table.io, projected, AlwaysTrue()).to_table(tasks)

    con = engine.duck()
    con.register("gone", rows(old, new))
    con.register("came", rows(new, old))
    return con.sql("(SELECT * FROM came EXCEPT ALL SELECT * FROM gone) UNION ALL "
                   "(SELECT * FROM gone EXCEPT ALL SELECT * FROM came)").to_arrow_table()


def _files(table: Table, snapshot_id: int | None) -> dict[str, object]:
    if snapshot_id is None:
        return {}
    return {task.file.file_path: task for task in table.scan(snapshot_id=snapshot_id).plan_files()}


def _bucket_sql(transform: str) -> str:
    """DuckDB text putting a partition value in its partition, as merge.affected does (UTC dates)."""
    return "{}" if transform == "identity" else f"date_trunc('{transform}', CAST({{}} AS DATE))"


def _run(con: duckdb.DuckDBPyConnection, name: str, spec: Mart, query: str) -> pa.Table:
    result = con.sql(query).to_arrow_table()
    missing = [k for k in spec.key if k not in result.column_names]
    if missing:
        raise MartError(f"marts.{name}: {spec.sql} returns no key column '{missing[0]}'")
    con.register("_lw_result", result)
    keys = ", ".join(spec.key)
    dupes = con.execute(
        f"SELECT count(*) FROM (SELECT {keys} FROM _lw_result GROUP BY ALL HAVING count(*) > 1)").fetchall()[0][0]
    con.unregister("_lw_result")
    if dupes:
        raise MartError(f"marts.{name}: {dupes} duplicate key(s) on ({keys}); the declared grain is '{spec.grain}'")
    return result


def _commit(table: Table, result: pa.Table, scope, props: dict[str, str], branch: str | None = None) -> None:
    """Replace the rows in `scope` and record the inputs they reflect, in one atomic commit."""
    schema.evolve(table, result.schema)
    table = table.refresh()
    with table.transaction() as tx:
        target = audit_branch.restart(tx, branch) if branch else audit_branch.MAIN  # the branch starts at main
        tx.overwrite(schema.conform(result, table), overwrite_filter=scope, branch=target,
                     snapshot_properties={"lakeward.run_id": props["lakeward.run_id"]})
        tx.set_properties(props)
    if branch and target is None:
        audit_branch.adopt(table, branch)


def _snapshot_id(catalog: Catalog, identifier: str) -> int | None:
    table = load_table(catalog, identifier)
    snapshot = table.current_snapshot() if table is not None else None
    return snapshot.snapshot_id if snapshot else None


def _current(table: Table, branch: str | None = None) -> int | None:
    snapshot = audit_branch.head(table.refresh(), branch) if branch else table.refresh().current_snapshot()
    return snapshot.snapshot_id if snapshot else None

"""Closed periods: the finance numbers of a month frozen as Iceberg tags, and proven reproducible.

`close_period` tags the current snapshot of every finance mart and of every table it reads (transitively)
as `period-YYYY-MM`, with a ten-year max-ref-age so snapshot expiry keeps them, and stores beside the mart
the SQL it was built with and the input snapshots. An input never built (a source object that had no rows
yet) has no snapshot to tag: it is recorded as empty, with its schema. `reproduce` runs that SQL again over
the tagged input snapshots and compares the result with the tagged mart snapshot by checksum: months of
later changes and late data in the sources cannot alter what was reported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.schema import Schema

from lakeward import audit, dag, sql
from lakeward.definition import Definition
from lakeward.home import Home
from lakeward.lake import engine
from lakeward.lake.catalog import NAMESPACES, load_table, open_catalog
from lakeward.load_definition import definition_hash
from lakeward.materialize import INPUTS_PROPERTY
from lakeward.recovery.fingerprint import of_arrow
from lakeward.version import code_version

KEEP_MS = int(timedelta(days=3653).total_seconds() * 1000)  # tags outlive any snapshot expiry: ten years
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class PeriodError(ValueError):
    """A period that cannot be closed or reproduced as asked; says why."""


@dataclass(frozen=True)
class Closed:
    tag: str
    tags: dict[str, int | None]  # table -> tagged snapshot id, None for an input that was empty (never built)


@dataclass(frozen=True)
class Reproduced:
    mart: str
    tagged: tuple[int, str]
    recomputed: tuple[int, str]

    @property
    def identical(self) -> bool:
        return self.tagged == self.recomputed


def tag_name(period: str) -> str:
    if not _PERIOD.match(period):
        raise PeriodError(f"period {period!r} is not a month written YYYY-MM (e.g. 2026-10)")
    return f"period-{period}"


def evidence_property(period: str) -> str:
    return f"lakeward.period.{period}"


def finance_marts(defn: Definition) -> list[str]:
    marts = [name for name, mart in defn.marts.items() if mart.finance]
    if not marts:
        raise PeriodError("no mart is declared `finance: true` in the definition")
    return marts


def _upstream(defn: Definition, mart: str) -> set[str]:
    out, frontier = set(), {f"marts.{mart}"}
    while frontier:
        table = frontier.pop()
        if table.startswith("marts."):
            for read in dag.mart_inputs(defn, table.removeprefix("marts.")) - out:
                out.add(read)
                frontier.add(read)
    return out


def close_period(defn: Definition, home: Home, period: str, *, closed_by: str,
                 now: datetime | None = None) -> Closed:
    tag = tag_name(period)
    now = now or datetime.now(UTC)
    year, month = int(period[:4]), int(period[5:])
    if datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC) > now:
        raise PeriodError(f"period {period} has not ended yet (now {now:%Y-%m-%d %H:%M} UTC)")
    catalog = open_catalog(home)
    marts = finance_marts(defn)
    tables = sorted({f"marts.{m}" for m in marts} | set().union(*(_upstream(defn, m) for m in marts)))
    current: dict[str, int | None] = {}
    for identifier in tables:
        table = load_table(catalog, identifier)
        snapshot = table.current_snapshot() if table is not None else None
        if table is None or (snapshot is None and identifier.removeprefix("marts.") in marts):
            raise PeriodError(f"{identifier} has never been built: run the pipeline before closing {period}")
        if tag in table.refs():
            raise PeriodError(f"period {period} is already closed ({identifier} carries tag {tag})")
        current[identifier] = snapshot.snapshot_id if snapshot else None  # None: never built, so empty
    for mart in marts:  # tag the input snapshots each mart was built from (None: it read them empty)
        built_from = json.loads(catalog.load_table(f"marts.{mart}").properties.get(INPUTS_PROPERTY, "{}"))
        current |= {t: s for t, s in built_from.items() if t in current}
    for identifier, snapshot in current.items():
        if snapshot is not None:
            table = catalog.load_table(identifier)
            table.manage_snapshots().create_tag(snapshot, tag, max_ref_age_ms=KEEP_MS).commit()
    for mart in marts:
        inputs = sorted(dag.mart_inputs(defn, mart))
        empty = {t: catalog.load_table(t).schema().model_dump_json() for t in inputs if current[t] is None}
        evidence = {"sql": (defn.root / defn.marts[mart].sql).read_text(), "snapshot": current[f"marts.{mart}"],
                    "inputs": {t: current[t] for t in inputs},
                    "empty": empty,
                    "closed_by": closed_by, "closed_at": now.isoformat()}
        table = catalog.load_table(f"marts.{mart}")
        with table.transaction() as tx:
            tx.set_properties({evidence_property(period): json.dumps(evidence, sort_keys=True)})
    audit.record(catalog, audit.StepRecord(
        run_id=f"close-{period}", step=f"close-period:{period}", kind="close_period", status="succeeded",
        code_version=code_version(), definition_hash=definition_hash(defn), triggered_by=closed_by,
        started_at=now, finished_at=datetime.now(UTC), details=json.dumps({"tag": tag, "snapshots": current})))
    return Closed(tag, current)


def reproduce(defn: Definition, home: Home, period: str) -> list[Reproduced]:
    tag = tag_name(period)
    catalog = open_catalog(home)
    out = []
    for mart in finance_marts(defn):
        table = load_table(catalog, f"marts.{mart}")
        raw = table.properties.get(evidence_property(period)) if table is not None else None
        if raw is None or tag not in table.refs():
            raise PeriodError(f"marts.{mart}: period {period} was never closed (lakeward close-period {period})")
        evidence = json.loads(raw)
        tagged_snapshot = table.refs()[tag].snapshot_id
        tagged = table.scan(snapshot_id=tagged_snapshot).to_arrow()
        recomputed = _recompute(catalog, evidence["sql"], tag, evidence.get("empty", {}))
        out.append(Reproduced(mart, of_arrow(tagged), of_arrow(_like(recomputed, tagged.schema))))
    return out


def _recompute(catalog: Catalog, text: str, tag: str, empty: dict[str, str]) -> pa.Table:
    """The stored SQL over the inputs exactly as they were tagged, or empty when they were closed empty."""
    tree = sql.parse(text)
    con = engine.duck()
    for namespace in NAMESPACES:
        con.execute(f"CREATE SCHEMA {namespace}")
    for identifier in sorted(sql.tables_read(tree)):
        if identifier in empty:
            data = Schema.model_validate_json(empty[identifier]).as_arrow().empty_table()
        else:
            table = catalog.load_table(identifier)
            if tag not in table.refs():
                raise PeriodError(f"{identifier} carries no tag {tag}: the period's inputs cannot be recovered")
            data = table.scan(snapshot_id=table.refs()[tag].snapshot_id).to_arrow()
        con.register("_lw_arrow", data)
        con.execute(f"CREATE TABLE {identifier} AS SELECT * FROM _lw_arrow")
        con.unregister("_lw_arrow")
    return con.sql(sql.to_duckdb(tree)).to_arrow_table()


def _like(result: pa.Table, schema: pa.Schema) -> pa.Table:
    """The recomputed rows in the published table's column order and types (as publishing conformed them)."""
    missing = [f.name for f in schema if f.name not in result.column_names]
    if missing:
        raise PeriodError(f"the recomputed result lacks column '{missing[0]}' of the tagged mart")
    return pa.Table.from_arrays([result.column(f.name).cast(f.type) for f in schema], schema=schema)

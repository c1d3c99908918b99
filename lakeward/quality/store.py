"""`audit.quality_metrics` (every metric value, the history anomalies learn from) and `audit.quality_results`."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from datetime import datetime

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import EqualTo
from pyiceberg.table import Table

from lakeward.lake.catalog import TABLE_PROPERTIES, load_table

METRICS = "audit.quality_metrics"
RESULTS = "audit.quality_results"
_TS = pa.timestamp("us", tz="UTC")
METRICS_SCHEMA = pa.schema([
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("table_name", pa.string(), nullable=False),
    pa.field("batch_id", pa.string()),
    pa.field("metric", pa.string(), nullable=False),
    pa.field("value", pa.float64()),
    pa.field("window_start", _TS),
    pa.field("window_end", _TS, nullable=False),
    pa.field("weekday", pa.int32(), nullable=False),
    pa.field("hour", pa.int32(), nullable=False),
    pa.field("published", pa.bool_(), nullable=False),  # the batch passed its gate
    pa.field("accepted", pa.bool_(), nullable=False),  # no rule found this value anomalous
    pa.field("measured_at", _TS, nullable=False),
])
RESULTS_SCHEMA = pa.schema([
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("table_name", pa.string(), nullable=False),
    pa.field("batch_id", pa.string()),
    pa.field("rule", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("column_name", pa.string()),
    pa.field("severity", pa.string(), nullable=False),
    pa.field("status", pa.string(), nullable=False),  # pass | warn | fail | learning
    pa.field("observed", pa.float64()),
    pa.field("lower", pa.float64()),
    pa.field("upper", pa.float64()),
    pa.field("message", pa.string(), nullable=False),
    pa.field("window_end", _TS, nullable=False),
    pa.field("evaluated_at", _TS, nullable=False),
])
# Gates of several tables finish at once; each audit table takes one commit at a time.
_locks = {METRICS: threading.Lock(), RESULTS: threading.Lock()}


@dataclass
class MetricRow:
    run_id: str
    table_name: str
    batch_id: str | None
    metric: str
    value: float | None
    window_start: datetime | None
    window_end: datetime
    weekday: int
    hour: int
    published: bool
    accepted: bool
    measured_at: datetime


@dataclass
class ResultRow:
    run_id: str
    table_name: str
    batch_id: str | None
    rule: str
    kind: str
    column_name: str | None
    severity: str
    status: str
    observed: float | None
    lower: float | None
    upper: float | None
    message: str
    window_end: datetime
    evaluated_at: datetime

    @property
    def fired(self) -> bool:
        return self.status in ("warn", "fail")


def append(catalog: Catalog, metrics: list[MetricRow], results: list[ResultRow]) -> None:
    for identifier, schema, rows in ((METRICS, METRICS_SCHEMA, metrics), (RESULTS, RESULTS_SCHEMA, results)):
        if rows:
            with _locks[identifier]:
                _ensure(catalog, identifier, schema).append(
                    pa.Table.from_pylist([asdict(r) for r in rows], schema=schema))


def _ensure(catalog: Catalog, identifier: str, schema: pa.Schema) -> Table:
    """Partitioned by table, so reading one table's history prunes every other table's files."""
    table = load_table(catalog, identifier)
    if table is not None:
        return table
    with catalog.create_table_transaction(identifier, schema=schema, properties=TABLE_PROPERTIES) as tx:
        with tx.update_spec() as spec:
            spec.add_identity("table_name")
    return catalog.load_table(identifier)


def history(catalog: Catalog, table_name: str) -> list[dict]:
    """Metric values of the table's published batches, oldest first."""
    table = load_table(catalog, METRICS)
    if table is None:
        return []
    rows = table.scan(row_filter=EqualTo("table_name", table_name)).to_arrow().to_pylist()
    return sorted((r for r in rows if r["published"]), key=lambda r: (r["window_end"], r["measured_at"]))


def results(catalog: Catalog, table_name: str | None = None, run_id: str | None = None) -> list[dict]:
    table = load_table(catalog, RESULTS)
    if table is None:
        return []
    scan = table.scan(row_filter=EqualTo("table_name", table_name)) if table_name else table.scan()
    return [r for r in scan.to_arrow().to_pylist() if run_id is None or r["run_id"] == run_id]

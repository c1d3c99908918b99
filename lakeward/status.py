"""Per source object: last successful load, watermark and freshness, read from the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pyiceberg.catalog import Catalog

from lakeward import watermark
from lakeward.definition import Definition, staging_table
from lakeward.lake import engine
from lakeward.lake.catalog import load_table

LATEST = """
SELECT source, object,
       max(finished_at) FILTER (WHERE status = 'succeeded') AS last_success,
       max_by(status, finished_at) AS last_status,
       max_by(error, finished_at) AS last_error
FROM audit.runs
WHERE kind = 'stage'
GROUP BY source, object
"""


@dataclass(frozen=True)
class ObjectStatus:
    source: str
    object: str
    last_success: datetime | None
    last_status: str | None
    last_error: str | None
    watermark: datetime | None
    freshness: timedelta | None  # how far the watermark trails now
    sla: timedelta  # one cadence: data older than that means a missed or failed run

    @property
    def fresh(self) -> bool:
        return self.freshness is not None and self.freshness <= self.sla


def object_status(defn: Definition, catalog: Catalog, now: datetime | None = None) -> list[ObjectStatus]:
    now = now or datetime.now(UTC)
    latest = {}
    if load_table(catalog, "audit.runs") is not None:
        rows = engine.query(catalog, LATEST).to_pylist()
        latest = {(r["source"], r["object"]): r for r in rows}
    out = []
    for source, obj, _ in defn.objects():
        row = latest.get((source, obj), {})
        mark = watermark.read(load_table(catalog, staging_table(source, obj)))
        out.append(ObjectStatus(
            source, obj, row.get("last_success"), row.get("last_status"), row.get("last_error"), mark,
            now - mark if mark else None, defn.sources[source].cadence,
        ))
    return out

"""The Athena statements that publish a mart from its SELECT (materialization `table`: a full rebuild).

Athena has no INSERT OVERWRITE for Iceberg, so a rebuild is two commits: delete every row, insert the
SELECT. The marts machine refreshes QuickSight only after both, so dashboards never see the gap; an
Athena reader between the two commits sees an empty table for that moment, and Iceberg time travel
keeps the previous snapshot readable.
"""

from __future__ import annotations

from lakeward import sql
from lakeward.definition import Definition


def statements(defn: Definition, mart: str) -> list[str]:
    spec = defn.marts[mart]
    select = sql.read(defn.root / spec.sql).sql(dialect="trino", comments=False)
    target = f"marts.{mart}"  # the mart name is a validated identifier
    return [f"DELETE FROM {target}", f"INSERT INTO {target} {select}"]

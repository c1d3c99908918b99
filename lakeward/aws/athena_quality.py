"""The mart quality gate in AWS measures a mart where it lives: the rules' one metrics query (compiled in the
Athena dialect) runs on Athena, so the function reads one result row instead of the whole mart, and the row is
judged by the same evaluation as locally (lakeward.quality.gate.run with this measurer).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime

import boto3
from pyiceberg.table import Table
from sqlglot import exp

from lakeward.quality import publish
from lakeward.quality.compile_metrics import compile_query
from lakeward.quality.rules import TableRules

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}


class AthenaQueryError(RuntimeError):
    """The metrics query did not succeed on Athena (or returned no single row): the gate cannot judge."""


def run_query(athena, text: str, workgroup: str, *, poll_seconds: float = 1.0, timeout_seconds: float = 600) -> dict:
    """Run one query in the workgroup and return {column: text value or None} of its single result row."""
    query_id = athena.start_query_execution(QueryString=text, WorkGroup=workgroup)["QueryExecutionId"]
    deadline = time.monotonic() + timeout_seconds
    while True:
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if status["State"] in TERMINAL:
            break
        if time.monotonic() > deadline:
            athena.stop_query_execution(QueryExecutionId=query_id)
            raise AthenaQueryError(f"Athena query {query_id} still {status['State']} after {timeout_seconds:g}s")
        time.sleep(poll_seconds)
    if status["State"] != "SUCCEEDED":
        reason = status.get("StateChangeReason", "no reason given")
        raise AthenaQueryError(f"Athena query {query_id} ended {status['State']}: {reason}")
    result = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]
    names = [c["Name"] for c in result["ResultSetMetadata"]["ColumnInfo"]]
    rows = [[cell.get("VarCharValue") for cell in row["Data"]] for row in result["Rows"]]
    if rows and rows[0] == names:  # a SELECT's first row repeats the column labels
        rows = rows[1:]
    if len(rows) != 1:
        raise AthenaQueryError(f"Athena query {query_id} returned {len(rows)} rows; the metrics query returns one")
    return dict(zip(names, rows[0], strict=True))


def measurer(athena=None, workgroup: str | None = None, **polling) -> Callable[..., dict[str, float | None]]:
    """What gate.run calls to measure a mart: (rules, table identifier, its columns, window end) -> metrics."""
    athena = athena or boto3.client("athena")
    workgroup = workgroup or os.environ["LAKEWARD_WORKGROUP"]  # the CDK app sets it on every function

    def measure(rules: TableRules, identifier: str, columns: set[str], end: datetime) -> dict[str, float | None]:
        relation = exp.to_table(identifier, dialect="trino").sql("trino", identify=True)
        text, metrics = compile_query(rules, relation, columns, end)
        row = run_query(athena, text, workgroup, **polling)
        missing = [f"m{i}" for i in range(len(metrics)) if f"m{i}" not in row]
        if missing:
            raise AthenaQueryError(f"the metrics query of {identifier} returned no column {', '.join(missing)}")
        return {m.name: _number(row[f"m{i}"]) for i, m in enumerate(metrics)}

    return measure


def revert_build(table: Table, started: datetime) -> int | None:
    """After a blocking failure, put `main` back at the newest snapshot committed before the marts machine
    started: Athena's commits carry no run id, the execution's start time tells them apart. Returns the
    snapshot restored (None: the table is emptied, it had none before), or does nothing if the run built nothing."""
    table = table.refresh()
    snapshot, since = table.current_snapshot(), started.timestamp() * 1000
    if snapshot is None or snapshot.timestamp_ms < since:
        return None
    while snapshot is not None and snapshot.timestamp_ms >= since:
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None
    publish.revert(table, snapshot.snapshot_id if snapshot else None)
    return snapshot.snapshot_id if snapshot else None


def _number(value: str | None) -> float | None:
    return None if value is None else float(value)

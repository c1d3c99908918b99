"""Structured alerts: one JSON line per alert in LAKEWARD_HOME/alerts.jsonl, and SNS when a topic is set.

An alert says what happened, where, how bad it is and the one command that recovers from it, so the
person paged at 3 a.m. does not have to work it out.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from lakeward.home import Home

FILE = "alerts.jsonl"
TOPIC_VARIABLE = "LAKEWARD_ALERT_TOPIC_ARN"  # set in AWS: alerts also go to the pager topic
_lock = threading.Lock()


@dataclass(frozen=True)
class Alert:
    kind: str  # step_failed | run_crashed | schema_drift | duplicate_keys | reconcile_mismatch | ...
    severity: str  # error | warning | info (expected and absorbed, recorded for the trail)
    message: str
    run_id: str | None = None
    step: str | None = None
    recovery: str | None = None  # the exact command that recovers
    details: dict = field(default_factory=dict)
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


def fire(home: Home, alert: Alert) -> Alert:
    line = json.dumps(asdict(alert), default=str, sort_keys=True)
    with _lock:
        home.ensure()
        with (home.root / FILE).open("a") as fh:
            fh.write(line + "\n")
    topic = os.environ.get(TOPIC_VARIABLE)
    if topic:
        import boto3

        boto3.client("sns").publish(TopicArn=topic, Subject=f"lakeward {alert.severity}: {alert.kind}"[:100],
                                    Message=line)
    return alert


def read(home: Home, kind: str | None = None) -> list[Alert]:
    path: Path = home.root / FILE
    if not path.exists():
        return []
    alerts = [Alert(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
    return [a for a in alerts if kind is None or a.kind == kind]


def for_run(result, recovery: str) -> list[Alert]:
    """The alerts a finished run raises: each failed step, and the drifts it coped with but must report."""
    out = []
    for step_id, res in sorted(result.results.items()):
        if res.status == "failed":
            kind = next((k for marker, k in _ERROR_KINDS if marker in (res.error or "")), "step_failed")
            command = recovery
            if kind == "schema_drift" and res.step.object:  # accepting the new shape means rebuilding the table
                command = f"lakeward backfill --source {res.step.source} --object {res.step.object} --rebuild"
            elif "QualityGateError" in (res.error or "") and res.step.source:  # the batch itself is bad
                command = f"{recovery} --reextract   # after the source is corrected"
            out.append(Alert(kind, "error", f"{step_id} failed: {res.error}", run_id=result.run_id, step=step_id,
                             recovery=command))
            continue
        details = res.outcome.details if res.outcome else {}
        if details.get("duplicates"):
            out.append(Alert("duplicate_keys", "warning", f"{step_id}: the source sent {details['duplicates']} "
                             "row(s) repeating a primary key in one batch; the latest cursor was kept",
                             run_id=result.run_id, step=step_id, details={"duplicates": details["duplicates"]}))
        if details.get("retries"):
            out.append(Alert("source_throttled", "warning", f"{step_id}: {details['retries']} request(s) were "
                             "throttled or failed transiently and were retried; the batch is complete",
                             run_id=result.run_id, step=step_id, details={"retries": details["retries"]}))
        if details.get("columns_added"):
            out.append(Alert("schema_drift", "warning", f"{step_id}: new source column(s) "
                             f"{', '.join(details['columns_added'])} added to {res.step.table}",
                             run_id=result.run_id, step=step_id, details={"added": details["columns_added"]}))
        late = details.get("late_rows")
        if late:  # per day, from the batch's rows per partition date against what the day held before
            days = ", ".join(f"{day} +{n}" for day, n in sorted(late.items()))
            out.append(Alert("late_data", "info", f"{step_id}: {sum(late.values())} late row(s) for "
                             f"{len(late)} day(s) already loaded ({days}), now in {res.step.table}; re-read "
                             f"{len(details.get('days', []))} day(s) within the lookback",
                             run_id=result.run_id, step=step_id,
                             details={"late_rows": late, "days": details.get("days", []),
                                      "rows_removed": details.get("rows_removed"),
                                      "rows_written": res.outcome.rows_out}))
        if details.get("lines_quarantined"):
            out.append(Alert("lines_quarantined", "warning", f"{step_id}: {details['lines_quarantined']} line(s) "
                             f"could not be read (malformed JSON or a cut gzip stream); kept with their file and "
                             f"error in {res.step.table}_quarantine, the readable lines loaded",
                             run_id=result.run_id, step=step_id,
                             details={"lines_quarantined": details["lines_quarantined"]}))
        removed = details.get("drift", {}).get("removed")
        if removed:
            out.append(Alert("schema_drift", "warning", f"{step_id}: source column(s) {', '.join(removed)} no "
                             f"longer sent; kept in {res.step.table} with nulls from now on",
                             run_id=result.run_id, step=step_id, details={"removed": removed}))
    return out


# Which failures get their own alert kind, by the exception named in the step's error.
_ERROR_KINDS = (
    ("duplicate key", "duplicate_keys"),
    ("SchemaDriftError", "schema_drift"),
    ("is missing from the batch", "schema_drift"),  # the staging contract blocks a dropped column
    ("changed type from", "schema_drift"),
    ("No space left on device", "disk_full"),
    ("ExtractError", "source_unavailable"),
)

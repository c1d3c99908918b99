"""Tamper evidence for `audit.runs`: every record carries the hash of the one before it.

The chain head (sequence and hash of the last record) is a table property set in the same commit as the
append, so editing, deleting or reordering any record, or dropping the newest one, breaks the chain and
`lakeward audit verify` names the first broken record. In AWS each record is also written, as it is
chained, to the audit bucket under S3 Object Lock in compliance mode, which nobody can rewrite.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pyiceberg.table import Table

HEAD_PROPERTY = "lakeward.audit.head"
GENESIS = "0" * 64
BUCKET_VARIABLE = "LAKEWARD_AUDIT_BUCKET"
RETENTION = timedelta(days=7 * 365)  # SOX evidence is kept seven years
UNHASHED = ("record_hash",)


def _canonical(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def digest(record: dict) -> str:
    """The hash of a record's content, its sequence number and its predecessor's hash included."""
    body = {k: _canonical(v) for k, v in sorted(record.items()) if k not in UNHASHED}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def head(table: Table) -> tuple[int, str]:
    value = table.properties.get(HEAD_PROPERTY)
    if not value:
        return 0, GENESIS
    seq, _, last = value.partition(":")
    return int(seq), last


def chain(table: Table, record: dict, previous: dict | None = None) -> dict:
    """The record with seq, prev_hash and record_hash filled in, after `previous` (same batch) or the head."""
    seq, last = (previous["seq"], previous["record_hash"]) if previous else head(table)
    linked = {**record, "seq": seq + 1, "prev_hash": last}
    linked["record_hash"] = digest(linked)
    return linked


def head_value(record: dict) -> str:
    return f"{record['seq']}:{record['record_hash']}"


@dataclass(frozen=True)
class Verdict:
    records: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(table: Table | None) -> Verdict:
    """Walk the chain from the first record; every break is reported with the record it is in."""
    if table is None:
        return Verdict(0, [])
    rows = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: (r["seq"] is None, r["seq"] or 0))
    problems: list[str] = []
    previous = GENESIS
    for position, row in enumerate(rows, start=1):
        where = f"record seq {row['seq']} (run {row['run_id']}, step {row['step']})"
        if row["seq"] != position:
            problems.append(f"{where}: expected sequence {position}: a record was removed or inserted")
        if row["prev_hash"] != previous:
            problems.append(f"{where}: does not point at the record before it: the chain was re-linked")
        if digest(row) != row["record_hash"]:
            problems.append(f"{where}: content does not match its hash: the record was edited")
        previous = row["record_hash"]
    seq, last = head(table)
    if rows and (seq != len(rows) or last != previous):
        problems.append(f"chain head says {seq} records ending {last[:12]}, the table holds {len(rows)} "
                        f"ending {previous[:12]}: records were removed or added outside the pipeline")
    return Verdict(len(rows), problems)


def to_object_lock(record: dict) -> None:
    """Write the chained record to the Object Lock audit bucket when one is configured (AWS)."""
    bucket = os.environ.get(BUCKET_VARIABLE)
    if not bucket:
        return
    import boto3

    body = json.dumps({k: _canonical(v) for k, v in record.items()}, sort_keys=True, default=str)
    boto3.client("s3").put_object(
        Bucket=bucket, Key=f"audit/runs/{record['seq']:012d}-{record['record_hash']}.json", Body=body.encode(),
        ContentType="application/json", ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=datetime.now(UTC) + RETENTION,
        ChecksumAlgorithm="SHA256",
    )

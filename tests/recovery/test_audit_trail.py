"""The audit trail: full evidence per step, a hash chain `lakeward audit verify` checks, Object Lock copies."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pyarrow as pa
import pytest
from moto import mock_aws
from pyiceberg.expressions import EqualTo
from typer.testing import CliRunner

from lakeward import audit, audit_chain
from lakeward.cli import app
from lakeward.lake.catalog import load_table, open_catalog
from lakeward.runner import run
from tests.conftest import NIGHT
from tests.recovery.conftest import T0, small_definition, use

cli = CliRunner()


@pytest.fixture
def audited(module_source, tmp_path, monkeypatch):
    home = use(monkeypatch, tmp_path / "home", module_source)
    defn = small_definition(tmp_path)
    assert run(defn, home, end=T0, now=NIGHT, triggered_by="schedule:hourly").ok
    return home


def _runs(home):
    return load_table(open_catalog(home), audit.RUNS)


def test_every_step_records_its_evidence(audited):
    rows = {r["step"]: r for r in _runs(audited).scan().to_arrow().to_pylist() if r["kind"] != "run"}
    extract, stage = rows["extract:postgres.payments"], rows["stage:postgres.payments"]
    mart = rows["mart:daily_revenue"]
    assert {r["triggered_by"] for r in rows.values()} == {"schedule:hourly"}
    assert all(r["code_version"] and len(r["definition_hash"]) == 16 for r in rows.values())
    files = json.loads(extract["file_checksums"])
    assert files and all(len(f["sha256"]) == 64 for f in files) and sum(f["rows"] for f in files) == extract["rows_out"]
    cursor = json.loads(stage["source_cursor"])
    assert cursor["column"] == "updated_at" and cursor["to"] == T0.isoformat() and stage["window_end"] == T0
    assert stage["snapshot_id"] == load_table(open_catalog(audited), "staging.postgres__payments").current_snapshot(
    ).snapshot_id
    assert mart["snapshot_id"] is not None and mart["rows_out"] > 0
    opened = [r for r in _runs(audited).scan().to_arrow().to_pylist() if r["kind"] == "run"]
    assert [r["status"] for r in sorted(opened, key=lambda r: r["seq"])] == ["running", "succeeded"]


def test_verify_passes_on_the_untouched_trail(audited):
    out = cli.invoke(app, ["audit", "verify"])
    assert out.exit_code == 0, out.stderr
    assert "hash chain intact" in out.stdout


def _rewrite(home, change):
    table = _runs(home)
    rows = table.scan().to_arrow().to_pylist()
    change(rows)
    table.overwrite(pa.Table.from_pylist(rows, schema=table.schema().as_arrow()))


@pytest.mark.parametrize("tamper, expected", [
    (lambda rows: next(r for r in rows if r["step"] == "stage:postgres.payments").update(rows_out=1), "was edited"),
    (lambda rows: rows.remove(next(r for r in rows if r["step"] == "stage:postgres.refunds")), "removed"),
    (lambda rows: rows.remove(max(rows, key=lambda r: r["seq"])), "removed or added outside the pipeline"),
])
def test_verify_fails_on_a_tampered_record(audited, tamper, expected):
    _rewrite(audited, tamper)
    out = cli.invoke(app, ["audit", "verify"])
    assert out.exit_code == 1
    assert "TAMPERED" in out.stderr and expected in " ".join(out.stderr.split())


def test_each_record_is_also_kept_under_object_lock(audited, monkeypatch):
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="lakeward-audit", ObjectLockEnabledForBucket=True)
        monkeypatch.setenv(audit_chain.BUCKET_VARIABLE, "lakeward-audit")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        table = _runs(audited)
        record = audit.StepRecord(run_id="r1", step="run", kind="run", status="running", code_version="v",
                                  definition_hash="d", triggered_by="test", started_at=datetime.now(UTC),
                                  finished_at=datetime.now(UTC))
        before = audit_chain.head(table)[0]
        audit.record(open_catalog(audited), record)
        [obj] = s3.list_objects_v2(Bucket="lakeward-audit", Prefix="audit/runs/")["Contents"]
        body = json.loads(s3.get_object(Bucket="lakeward-audit", Key=obj["Key"])["Body"].read())
        assert body["seq"] == before + 1 and body["run_id"] == "r1"
        assert body["record_hash"] == audit_chain.digest(body)
        head = s3.head_object(Bucket="lakeward-audit", Key=obj["Key"])
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"].year >= datetime.now(UTC).year + 6
        version = s3.list_object_versions(Bucket="lakeward-audit")["Versions"][0]["VersionId"]
        with pytest.raises(s3.exceptions.ClientError):
            s3.delete_object(Bucket="lakeward-audit", Key=obj["Key"], VersionId=version)
    last = _runs(audited).scan(row_filter=EqualTo("run_id", "r1")).to_arrow().to_pylist()[0]
    assert last["record_hash"] == body["record_hash"]

"""Drift detection in AWS: a Lambda starts with an empty /tmp, so before extracting it fetches the object's
latest committed manifest from S3 (moto) into the local landing layout, where the Salesforce extractor's
`last_landed` compares against it. Batches are real Parquet batches written by the landing BatchWriter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pyarrow as pa
import pytest
from moto import mock_aws

from lakeward.aws import s3_landing
from lakeward.lake import landing
from lakeward.sources.salesforce_drift import last_landed
from tests.salesforce.conftest import salesforce  # noqa: F401  (the emulated org fixture)

REGION = "eu-west-1"
DAY = [datetime(2026, 10, d, tzinfo=UTC) for d in (1, 2, 3, 4)]


@pytest.fixture
def s3(monkeypatch):
    with mock_aws():
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket="landing", CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client


def land(s3, root: Path, obj: str, day: int, fields: dict, committed: bool = True) -> landing.Manifest:
    """Write one real batch locally and upload it; an uncommitted batch uploads its parts only."""
    writer = landing.BatchWriter(root, "crm", obj, landing.Window(DAY[day], DAY[day + 1])).begin()
    writer.write(pa.record_batch({"Id": ["a", "b"]}))
    manifest = writer.commit(pa.schema([("Id", pa.string())]), {"fields": fields})
    if committed:
        s3_landing.upload(s3, "landing", root, manifest)
    else:
        for part in manifest.files:
            s3.upload_file(str(writer.dir / part["path"]), "landing",
                           s3_landing.batch_prefix("crm", obj, manifest.batch_id) + part["path"])
    return manifest


def test_the_newest_committed_manifest_of_the_object_reaches_the_local_layout(s3, tmp_path):
    written = tmp_path / "written"
    land(s3, written, "Account", 0, {"Id": "id"})
    newest = land(s3, written, "Account", 1, {"Id": "id", "Tier__c": "string"})
    land(s3, written, "Account", 2, {"Id": "id", "Ghost__c": "string"}, committed=False)
    land(s3, written, "Contact", 0, {"Id": "id", "Email": "email"})  # another object, same source

    scratch = tmp_path / "lambda-tmp"  # what a fresh Lambda sees: nothing
    own = landing.batch_id("crm", "Account", landing.Window(DAY[2], DAY[3]))
    path = s3_landing.fetch_latest_manifest(s3, "landing", scratch, "crm", "Account", other_than=own)

    assert path == scratch / "crm" / "Account" / newest.batch_id / landing.MANIFEST
    assert [p.name for p in path.parent.iterdir()] == [landing.MANIFEST]  # the manifest only, no data
    previous = last_landed(scratch / "crm" / "Account", scratch / "crm" / "Account" / own)
    assert previous is not None and previous["fields"] == {"Id": "id", "Tier__c": "string"}


def test_the_batch_being_rewritten_is_not_its_own_previous(s3, tmp_path):
    first = land(s3, tmp_path / "written", "Account", 0, {"Id": "id"})
    second = land(s3, tmp_path / "written", "Account", 1, {"Id": "id", "Tier__c": "string"})

    assert s3_landing.latest(s3, "landing", "crm", "Account", other_than=second.batch_id).batch_id == first.batch_id
    assert s3_landing.latest(s3, "landing", "crm", "Account", other_than=first.batch_id).batch_id == second.batch_id


def test_an_object_never_landed_has_no_previous_manifest(s3, tmp_path):
    land(s3, tmp_path / "written", "Contact", 0, {"Id": "id"})

    assert s3_landing.fetch_latest_manifest(s3, "landing", tmp_path / "tmp", "crm", "Account", "x") is None
    assert not (tmp_path / "tmp").exists()


def test_a_cold_function_sees_salesforce_drift_against_s3(s3, tmp_path, home, salesforce):  # noqa: F811
    """Two extractions through run_step.extract, each with a fresh /tmp (two cold functions): the second
    sees the field added in between because the first batch's manifest comes back from S3."""
    from lakeward.aws.run_step import extract
    from lakeward.aws.runtime import AwsRuntime
    from lakeward.lake.catalog import open_catalog
    from tests.salesforce.conftest import T0, sf_definition, synthetic_customers

    org, world = salesforce.org, salesforce.world
    world.generate(synthetic_customers(6, T0 - timedelta(days=2)), T0 - timedelta(days=1), T0)
    defn = sf_definition(tmp_path / "definition", ("lead",))
    catalog = open_catalog(home)  # no staging table yet: the window is the task's own

    def cold_extract(n: int, start, end) -> dict:
        rt = AwsRuntime("landing", "lake", defn.path, tmp_path / f"tmp-{n}")
        task = {"source": "salesforce", "object": "lead", "mode": "backfill", "run_id": f"run-{n}",
                "window": {"start": start.isoformat(), "end": end.isoformat()}}
        result = extract(task, rt, catalog, s3)
        assert not list((tmp_path / f"tmp-{n}" / "landing").rglob(landing.MANIFEST))  # /tmp left clean
        return json.loads(s3.get_object(Bucket="landing", Key=result["manifest"])["Body"].read())

    first = cold_extract(1, T0 - timedelta(days=2), T0)
    assert "drift" not in first["stats"]
    lead = sorted(world.ids("Lead", deleted=False))[0]
    org.add_field("Lead", "Lead_Score__c", "int")
    org.change("Lead", lead, T0 + timedelta(minutes=5), Lead_Score__c=42)

    second = cold_extract(2, T0, T0 + timedelta(hours=1))
    assert second["stats"]["drift"] == {"added": ["Lead_Score__c"]}
    assert second["row_count"] == 1

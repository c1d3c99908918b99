"""The PostgreSQL snapshot Glue script without Glue: its arguments as the state machine sends them, the
definition from its S3 asset, the DSN from Secrets Manager, a real PostgreSQL, the batch on (moto) S3."""

from __future__ import annotations

import io
import json
import os
import zipfile
from unittest.mock import patch

import boto3
import psycopg
import pyarrow.parquet as pq
from moto import mock_aws

from glue_jobs import snapshot_postgres
from lakeward.aws import secrets
from tests.conftest import write_definition

REGION = "eu-west-1"


def test_the_snapshot_job_lands_exactly_the_windows_rows(marketplace_db, tmp_path, monkeypatch):
    (tmp_path / "definition").mkdir()
    defn = write_definition(tmp_path / "definition")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(defn.path, "pipeline.yaml")
    monkeypatch.delenv("LAKEWARD_PG_DSN")  # in Glue only the secret's ARN is passed
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    secrets.secret_value.cache_clear()
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in ("assets", "landing", "lake"):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket="assets", Key="definition.zip", Body=archive.getvalue())
        arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="lakeward/test/postgres", SecretString=marketplace_db)["ARN"]
        args = {  # what load_machine sends plus the job's default arguments (cdk/ingestion.py)
            "source": "postgres", "object": "orders", "mode": "backfill", "run_id": "exec-1",
            "window": json.dumps({"start": "2026-09-10T00:00:00Z", "end": "2026-09-20T00:00:00Z"}),
            "lakeward_definition": "s3://assets/definition.zip", "lakeward_env": f"LAKEWARD_PG_DSN_SECRET_ARN={arn}",
            "LAKEWARD_LANDING_BUCKET": "landing", "LAKEWARD_LAKE_BUCKET": "lake",
        }
        with patch.dict(os.environ):  # the job sets its environment, as Glue would, for this test only
            result = snapshot_postgres.run(args, s3, tmp_path / "scratch")
        manifest_key = result["manifest"]
        manifest = json.loads(s3.get_object(Bucket="landing", Key=manifest_key)["Body"].read())
        folder = manifest_key.rsplit("/", 1)[0]
        ids = []
        for entry in manifest["files"]:
            body = s3.get_object(Bucket="landing", Key=f"{folder}/{entry['path']}")["Body"].read()
            ids += pq.read_table(io.BytesIO(body)).column("id").to_pylist()
    with psycopg.connect(marketplace_db) as conn:
        expected = [r[0] for r in conn.execute(
            "SELECT id FROM orders WHERE updated_at >= '2026-09-10T00:00:00Z' AND updated_at < '2026-09-20T00:00:00Z'")]
    assert expected and sorted(ids) == sorted(expected)
    assert result["rows"] == len(expected) and result["reused_landing"] is False


def test_job_arguments_name_secrets_by_arn_only():
    env = snapshot_postgres.environment_from({"LAKEWARD_LANDING_BUCKET": "l", "source": "postgres",
                                              "lakeward_env": "A_SECRET_ARN=arn:1,B_SECRET_ARN=arn:2"})
    assert env == {"LAKEWARD_LANDING_BUCKET": "l", "A_SECRET_ARN": "arn:1", "B_SECRET_ARN": "arn:2"}

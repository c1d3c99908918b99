"""One object through the three Lambda handlers a load machine calls (extract -> quality -> stage), with
the same task input each, against a moto server (S3, Glue Data Catalog, DynamoDB, Secrets Manager) that
pyiceberg writes real Iceberg files to, and the Stripe emulator over HTTP."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime

import boto3
import pytest
from moto.server import ThreadedMotoServer

from lakeward.demo.stripe_world import SECRET_VARIABLE
from tests.aws.lambda_context import LambdaContext
from tests.stripe.conftest import KEY, OCT1, start_account, stripe_definition

REGION = "eu-west-1"
TASK = {"source": "stripe", "object": "charges", "mode": "backfill", "run_id": "exec-7",
        "window": {"start": "2026-08-01T00:00:00Z", "end": "2026-10-01T00:00:00Z"}}


@pytest.fixture
def aws_server(marketplace_db, tmp_path, monkeypatch):
    account = start_account(marketplace_db, monkeypatch)
    defn = stripe_definition(tmp_path / "definition")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    env = {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": REGION, "LAKEWARD_LANDING_BUCKET": "landing", "LAKEWARD_LAKE_BUCKET": "lake",
           "LAKEWARD_IDEMPOTENCY_TABLE": "idempotency", "LAKEWARD_DEFINITION": str(defn.path),
           "LAKEWARD_SCRATCH": str(tmp_path / "scratch")}
    for key, value in {"GLUE__ENDPOINT": url, "GLUE__REGION": REGION, "S3__ENDPOINT": url, "S3__REGION": REGION,
                       "S3__ACCESS_KEY_ID": "test", "S3__SECRET_ACCESS_KEY": "test"}.items():
        env[f"PYICEBERG_CATALOG__LAKEWARD__{key}"] = value  # pyiceberg's own way to point at an endpoint
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    import pyiceberg.catalog
    from pyiceberg.utils.config import Config

    monkeypatch.setattr(pyiceberg.catalog, "_ENV_CONFIG", Config())  # pyiceberg reads its variables at import
    s3 = boto3.client("s3")
    for bucket in ("landing", "lake"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    for layer in ("staging", "marts", "audit"):  # the CDK app creates these databases
        boto3.client("glue").create_database(DatabaseInput={"Name": layer})
    boto3.client("dynamodb").create_table(
        TableName="idempotency", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    arn = boto3.client("secretsmanager").create_secret(
        Name="lakeward/test/stripe", SecretString=json.dumps({"api_key": KEY, "api_base": account.api.url}))["ARN"]
    monkeypatch.delenv(SECRET_VARIABLE)
    monkeypatch.setenv(f"{SECRET_VARIABLE}_SECRET_ARN", arn)
    from lakeward.aws import secrets

    secrets.secret_value.cache_clear()
    handlers = {}
    for name in ("extract_stripe", "quality_gate", "stage_batch"):
        handlers[name] = importlib.reload(importlib.import_module(f"lambdas.{name}")).handler
    yield handlers, account
    account.api.stop()
    server.stop()


def test_extract_quality_and_stage_handlers_publish_the_window_to_the_glue_catalog(aws_server):
    handlers, account = aws_server
    extracted = handlers["extract_stripe"](TASK, LambdaContext())
    handlers["quality_gate"](TASK, LambdaContext())
    staged = handlers["stage_batch"](TASK, LambdaContext())
    assert staged["batch_id"] == extracted["batch_id"]
    from lakeward.aws.runtime import AwsRuntime

    table = AwsRuntime.from_env().catalog().load_table("staging.stripe__charges")
    assert table.metadata_location.startswith("s3://lake/staging.db/stripe__charges/")
    ids = table.scan(selected_fields=("id",)).to_arrow().column("id").to_pylist()
    truth = {cid for cid, c in account.world.current("charges").items()
             if datetime.fromtimestamp(c["created"], UTC) < OCT1}
    assert len(ids) == len(set(ids)) and set(ids) == truth
    assert table.properties["lakeward.watermark"].startswith("2026-10-01T00:00:00")

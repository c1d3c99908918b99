"""The Lambda handlers as AWS runs them: Step Functions task input in, the real extraction over HTTP
against the Stripe emulator, the connection from Secrets Manager, the batch on S3 and idempotency in
DynamoDB (all three moto). Expected rows come from the emulator's own ground truth."""

from __future__ import annotations

import importlib
import io
import json
from datetime import UTC, datetime

import boto3
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from lakeward.demo.stripe_world import SECRET_VARIABLE
from tests.aws.lambda_context import LambdaContext
from tests.stripe.conftest import KEY, OCT1, start_account, stripe_definition

REGION = "eu-west-1"
WINDOW = {"start": "2026-08-01T00:00:00Z", "end": OCT1.isoformat().replace("+00:00", "Z")}


@pytest.fixture
def aws(marketplace_db, tmp_path, monkeypatch):
    """moto S3, DynamoDB and Secrets Manager, the Stripe emulator, and a handler wired as the CDK wires it."""
    account = start_account(marketplace_db, monkeypatch)
    defn = stripe_definition(tmp_path / "definition")
    with mock_aws():
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in ("landing", "lake"):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName="idempotency", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
        secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="lakeward/test/stripe", SecretString=json.dumps({"api_key": KEY, "api_base": account.api.url}))
        monkeypatch.delenv(SECRET_VARIABLE)  # in AWS only the secret's ARN is in the environment
        for name, value in {f"{SECRET_VARIABLE}_SECRET_ARN": secret["ARN"], "LAKEWARD_LANDING_BUCKET": "landing",
                            "LAKEWARD_LAKE_BUCKET": "lake", "LAKEWARD_IDEMPOTENCY_TABLE": "idempotency",
                            "LAKEWARD_DEFINITION": str(defn.path), "LAKEWARD_SCRATCH": str(tmp_path / "scratch"),
                            "POWERTOOLS_SERVICE_NAME": "extract-stripe"}.items():
            monkeypatch.setenv(name, value)
        from lakeward.aws import secrets

        secrets.secret_value.cache_clear()
        import lambdas.extract_stripe as module

        yield importlib.reload(module).handler, account, s3
    account.api.stop()


def task(obj: str, **extra) -> dict:
    """What the load machine's Map item sends an extraction task."""
    return {"source": "stripe", "object": obj, "window": WINDOW, "mode": "backfill",
            "run_id": "lakeward-dev-load-every-1h-2026-10-01T05-00", **extra}


def landed_ids(s3, manifest_key: str) -> set[str]:
    manifest = json.loads(s3.get_object(Bucket="landing", Key=manifest_key)["Body"].read())
    folder = manifest_key.rsplit("/", 1)[0]
    ids: set[str] = set()
    for entry in manifest["files"]:
        body = s3.get_object(Bucket="landing", Key=f"{folder}/{entry['path']}")["Body"].read()
        ids |= set(pq.read_table(io.BytesIO(body)).column("id").to_pylist())
    return ids


def test_extract_handler_lands_the_window_on_s3_with_the_secret_from_secrets_manager(aws, capfd, caplog):
    handler, account, s3 = aws
    result = handler(task("charges"), LambdaContext())
    truth = {cid for cid, charge in account.world.current("charges").items()
             if datetime.fromtimestamp(charge["created"], UTC) < OCT1}
    assert truth and landed_ids(s3, result["manifest"]) == truth
    assert result["window"] == {"start": "2026-08-01T00:00:00+00:00", "end": "2026-10-01T00:00:00+00:00"}
    pointer = [o["Key"] for o in s3.list_objects_v2(Bucket="landing", Prefix="_runs/")["Contents"]]
    assert len(pointer) == 1  # where the next step of the same run and window finds the batch
    out, err = capfd.readouterr()
    assert '"RowsExtracted"' in out  # the EMF metric line
    assert KEY not in out + err + caplog.text  # logs and metrics never carry the key


def test_a_repeated_task_is_answered_from_dynamodb_without_reading_the_source(aws):
    handler, account, _ = aws
    first = handler(task("refunds"), LambdaContext())
    served = account.api.requests
    account.api.stop()  # a second read of the source would now fail
    again = handler(task("refunds"), LambdaContext())
    assert again == first and account.api.requests == served
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName="idempotency")["Items"]
    assert len(items) == 1 and items[0]["status"]["S"] == "COMPLETED"


def test_a_task_for_another_kind_is_refused_by_name(aws):
    handler, _, _ = aws
    with pytest.raises(Exception, match="cannot extract source 'postgres'"):
        handler({**task("charges"), "source": "postgres"}, LambdaContext())

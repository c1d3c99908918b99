"""The synthesized stack, built once per test session (and once across xdist workers, under a lock)."""

from __future__ import annotations

import fcntl
import importlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from lakeward.demo.stripe_world import SECRET_VARIABLE
from tests.conftest import REPO
from tests.stripe.conftest import KEY, OCT1, start_account, stripe_definition

REGION = "eu-west-1"
# What a load machine sends each task of one object and window.
TASK = {"source": "stripe", "object": "charges", "mode": "backfill", "run_id": "exec-7",
        "window": {"start": "2026-08-01T00:00:00Z", "end": "2026-10-01T00:00:00Z"}}

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def synthesize(definition: Path, out: Path, env: str = "dev") -> dict:
    """Synthesize the app for a definition into `out`; returns the template. cdk-nag findings that are not
    acknowledged make the synthesis raise."""
    from cdk.app import build_app

    app, stack = build_app(definition, env=env, outdir=str(out / "cdk.out"), build_dir=out / "build")
    app.synth()
    return json.loads((out / "cdk.out" / f"{stack.stack_name}.template.json").read_text())


def synthesized_once(tmp_path_factory, name: str, make) -> tuple[Path, dict]:
    root = tmp_path_factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    folder = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = folder / "template.json"
        if not done.exists():
            folder.mkdir(exist_ok=True)
            template = make(folder)
            done.write_text(json.dumps(template))
    return folder, json.loads(done.read_text())


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> tuple[Path, dict]:
    """(output folder, template) of the repository's pipeline.yaml, dev settings."""
    return synthesized_once(tmp_path_factory, "lakeward-synth", lambda f: synthesize(REPO / "pipeline.yaml", f))


@pytest.fixture(scope="session")
def template(stack) -> dict:
    return stack[1]


@pytest.fixture
def aws_server(marketplace_db, tmp_path, monkeypatch):
    """A moto server (S3, Glue, DynamoDB, Secrets Manager) in the environment as the CDK app wires a function,
    the Stripe emulator behind a secret, and the extract, quality and stage handlers loaded fresh."""
    account = start_account(marketplace_db, monkeypatch)
    defn = stripe_definition(tmp_path / "definition")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    requests.post(f"{url}/moto-api/reset", timeout=30)  # moto's backends are per process, not per server
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


def assert_window_staged(account) -> None:
    """TASK's charges are in the Glue catalog's staging table, each once, with the window's watermark; the
    expected ids are the Stripe emulator's own ground truth."""
    from lakeward.aws.runtime import AwsRuntime

    table = AwsRuntime.from_env().catalog().load_table("staging.stripe__charges")
    assert table.metadata_location.startswith("s3://lake/staging.db/stripe__charges/")
    ids = table.scan(selected_fields=("id",)).to_arrow().column("id").to_pylist()
    truth = {cid for cid, c in account.world.current("charges").items()
             if datetime.fromtimestamp(c["created"], UTC) < OCT1}
    assert len(ids) == len(set(ids)) and set(ids) == truth
    assert table.properties["lakeward.watermark"].startswith("2026-10-01T00:00:00")

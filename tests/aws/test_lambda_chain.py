"""One object through the three Lambda handlers a load machine calls (extract -> quality -> stage), with
the same task input each, against a moto server (S3, Glue Data Catalog, DynamoDB, Secrets Manager) that
pyiceberg writes real Iceberg files to, and the Stripe emulator over HTTP (the `aws_server` fixture)."""

from __future__ import annotations

from tests.aws.conftest import TASK, assert_window_staged
from tests.aws.lambda_context import LambdaContext


def test_extract_quality_and_stage_handlers_publish_the_window_to_the_glue_catalog(aws_server):
    handlers, account = aws_server
    extracted = handlers["extract_stripe"](TASK, LambdaContext())
    handlers["quality_gate"](TASK, LambdaContext())
    staged = handlers["stage_batch"](TASK, LambdaContext())
    assert staged["batch_id"] == extracted["batch_id"]
    assert_window_staged(account)

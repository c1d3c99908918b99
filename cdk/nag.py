"""cdk-nag AwsSolutions acknowledgments. Each names one finding and says why it stands; anything new that
cdk-nag reports fails the synthesis (and the tests) until it is fixed or acknowledged here."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import IConstruct

from cdk.catalog import LAYERS

PLUGIN = "AwsSolutions::"

# Action groups that CDK's grant_* methods write, always on one bucket or key named in the same statement.
GRANT_ACTIONS = {
    "s3:GetObject*": "grant_read on one bucket, narrowed to a prefix where the grantee needs no more",
    "s3:GetBucket*": "grant_read: bucket location and versioning of the one bucket granted",
    "s3:List*": "grant_read: listing the one bucket granted (Iceberg and landing replay list prefixes)",
    "s3:DeleteObject*": "grant_read_write on one bucket prefix: Iceberg maintenance and rerun overwrites delete",
    "s3:Abort*": "grant_read_write: abort multipart uploads of large Parquet files in the granted prefix",
    "kms:ReEncrypt*": "grant_encrypt_decrypt on the single data key of this stack",
    "kms:GenerateDataKey*": "grant_encrypt_decrypt on the single data key of this stack (bucket keys, logs)",
}


def acknowledge(stack: cdk.Stack, prefixes: dict[str, dict[str, str]], datasets: list[str]) -> None:
    """`prefixes`: bucket construct path -> {object prefix pattern: why grantees need every object under it}."""
    rules: dict[str, str] = {f"AwsSolutions-IAM5[Action::{a}]": why for a, why in GRANT_ACTIONS.items()}
    for construct in stack.node.find_all():
        if isinstance(construct, lambda_.Function):
            rules[f"AwsSolutions-IAM5[Resource::<{_logical(stack, construct)}.Arn>:*]"] = (
                "grant_invoke also names the function's qualified ARNs (versions, aliases) of this one function")
        if isinstance(construct, s3.Bucket) and construct.node.path in prefixes:
            for pattern, why in prefixes[construct.node.path].items():
                rules[f"AwsSolutions-IAM5[Resource::<{_logical(stack, construct)}.Arn>/{pattern}]"] = why
    partition = "arn:<AWS::Partition>"
    rules[f"AwsSolutions-IAM5[Resource::{partition}:logs:<AWS::Region>:<AWS::AccountId>:"
          "log-group:/aws-glue/iceberg-table-optimizer*]"] = (
        "Glue table optimizers write their run logs to log groups of this fixed prefix, named per run")
    for layer in LAYERS:
        rules[f"AwsSolutions-IAM5[Resource::{partition}:glue:<AWS::Region>:<AWS::AccountId>:table/{layer}/*]"] = (
            f"tables of the {layer} database are created by the pipeline as data arrives; the grant is that database")
    rules["AwsSolutions-IAM5[Resource::*]"] = (
        "cloudwatch:PutMetricData has no resource ARN; the statement is conditioned on the Lakeward namespace")
    rules[f"AwsSolutions-IAM5[Resource::{partition}:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-{stack.region}/*]"] = (
        "Glue reads its script, library zip and SQL files from the CDK asset bucket; asset keys are content hashes")
    for dataset in datasets:
        rules[f"AwsSolutions-IAM5[Resource::{partition}:quicksight:<AWS::Region>:<AWS::AccountId>:"
              f"dataset/{dataset}/ingestion/*]"] = "each refresh creates a new ingestion id under the one dataset"
    rules["AwsSolutions-SMG4"] = (
        "the credentials are issued by Stripe, Salesforce and the database team; they rotate them at the source "
        "and update the secret (docs/runbooks/rotate-credentials.md)")
    basic = "arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    rules[f"AwsSolutions-IAM4[Policy::{basic}]"] = (
        "the AWS managed basic execution policy only lets a function write its own CloudWatch logs")
    rules["AwsSolutions-L1"] = (
        "Python 3.12 on purpose: the vendored wheels (cdk/package.py) are built and tested for it; a newer "
        "runtime is a deliberate pin change in cdk/functions.py and cdk/package.py")
    cdk.Validations.of(stack).acknowledge(*(cdk.Acknowledgment(id=PLUGIN + rule, reason=why)
                                            for rule, why in rules.items()))


def _logical(stack: cdk.Stack, construct: IConstruct) -> str:
    return stack.resolve(stack.get_logical_id(construct.node.default_child))  # type: ignore[arg-type]

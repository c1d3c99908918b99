"""How every Lambda function is made: Python 3.12 (Amazon Linux 2023, whose glibc the vendored
manylinux_2_28 wheels need), the powertools layer, an encrypted log group with retention, an encrypted
environment. One factory, so no function differs by accident."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk.naming import Naming
from cdk.settings import Settings

POWERTOOLS = "arn:{partition}:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:{v}"


def camel(name: str) -> str:
    return "".join(part.title() for part in name.replace("-", "_").split("_"))


_RETENTION = {7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH", 90: "THREE_MONTHS", 180: "SIX_MONTHS",
              365: "ONE_YEAR", 731: "TWO_YEARS", 1827: "FIVE_YEARS", 3653: "TEN_YEARS"}


def log_retention(days: int) -> logs.RetentionDays:
    """The shortest of our retention steps that keeps `days`."""
    return logs.RetentionDays[next(v for d, v in _RETENTION.items() if d >= days)]


# pyiceberg and DuckDB: cdk/package.py builds them their own asset, which vendors powertools because the
# layer (about 40 MB unzipped) would not fit beside them under Lambda's 250 MB.
STEP_ROLES = {"stage", "quality"}


def asset_of(role: str) -> str:
    return "lambda-steps" if role in STEP_ROLES else "lambda"


class FunctionFactory:
    def __init__(self, scope: Construct, settings: Settings, naming: Naming, key: kms.IKey,
                 build_dir: Path, env: dict[str, str]):
        self.scope, self.settings, self.naming, self.key, self.env = scope, settings, naming, key, env
        self.build_dir = build_dir
        self.code = {asset: lambda_.Code.from_asset(str(build_dir / asset)) for asset in ("lambda", "lambda-steps")}
        self.powertools = lambda_.LayerVersion.from_layer_version_arn(
            scope, "Powertools", POWERTOOLS.format(partition=cdk.Aws.PARTITION, region=cdk.Aws.REGION,
                                                   v=settings.powertools_layer_version))

    def make(self, scope: Construct, role: str, module: str, description: str,
             reserved: int | None = None) -> lambda_.Function:
        log_group = logs.LogGroup(
            scope, f"Logs{camel(role)}", log_group_name=f"/aws/lambda/{self.naming.function(role)}",
            retention=log_retention(self.settings.log_retention_days), encryption_key=self.key,
            removal_policy=cdk.RemovalPolicy.DESTROY)
        return lambda_.Function(
            scope, f"Function{camel(role)}", function_name=self.naming.function(role), description=description,
            runtime=lambda_.Runtime.PYTHON_3_12, architecture=lambda_.Architecture.X86_64,
            handler=f"lambdas.{module}.handler", code=self.code[asset_of(role)],
            layers=[] if role in STEP_ROLES else [self.powertools],
            memory_size=self.settings.lambda_memory_mb, ephemeral_storage_size=cdk.Size.gibibytes(4),
            timeout=cdk.Duration.minutes(self.settings.lambda_timeout_minutes),
            reserved_concurrent_executions=reserved, environment={**self.env, "POWERTOOLS_SERVICE_NAME": role},
            environment_encryption=self.key, log_group=log_group,
        )

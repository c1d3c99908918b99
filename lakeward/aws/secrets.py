"""Secrets Manager lookups for connection references, cached for the life of a warm Lambda or a Glue job.
A value is returned to the caller only; nothing here logs or echoes it."""

from __future__ import annotations

import functools

import boto3
from botocore.exceptions import BotoCoreError, ClientError

# A Lambda or Glue job names a source's secret in `<NAME>_SECRET_ARN` for the reference `env:<NAME>`.
ARN_SUFFIX = "_SECRET_ARN"  # read by lakeward.sources.connections


class SecretError(RuntimeError):
    """The secret cannot be read; names the secret id and the AWS error code, never a value."""


@functools.cache
def secret_value(secret_id: str) -> str:
    try:
        reply = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)
    except ClientError as err:
        raise SecretError(f"secret {secret_id}: {err.response['Error']['Code']}") from None
    except BotoCoreError as err:
        raise SecretError(f"secret {secret_id}: {type(err).__name__}") from None
    if "SecretString" not in reply:
        raise SecretError(f"secret {secret_id}: holds binary data, expected a string")
    return reply["SecretString"]

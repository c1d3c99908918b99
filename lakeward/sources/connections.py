"""Resolve a connection reference from the definition to its value, never logging it.

`env:NAME` reads the environment variable NAME locally; in AWS, where the function or job carries
`NAME_SECRET_ARN` instead, it reads that Secrets Manager secret. `secret:ID` always reads Secrets Manager.
"""

from __future__ import annotations

import os


class UnresolvedConnection(RuntimeError):
    """A connection reference that cannot be resolved; names the reference, never a secret."""


def resolve(reference: str, where: str) -> str:
    scheme, _, name = reference.partition(":")
    arn = os.environ.get(name + "_SECRET_ARN") if scheme == "env" else name if scheme == "secret" else None
    if arn:
        from lakeward.aws.secrets import SecretError, secret_value  # boto3 only where AWS is used

        try:
            return secret_value(arn)
        except SecretError as err:
            raise UnresolvedConnection(f"{where}: connection '{reference}': {err}") from None
    if scheme == "env":
        value = os.environ.get(name)
        if not value:
            raise UnresolvedConnection(f"{where}: connection '{reference}': environment variable {name} is not set")
        return value
    raise UnresolvedConnection(f"{where}: connection '{reference}': expected env:NAME or secret:ID")

"""Connection references in AWS: read from Secrets Manager (moto), failures named without the value."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from lakeward.aws import secrets
from lakeward.sources.connections import UnresolvedConnection, resolve


@pytest.fixture
def manager(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    secrets.secret_value.cache_clear()
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="eu-west-1")
    secrets.secret_value.cache_clear()


def test_secret_and_env_references_resolve_through_secrets_manager(manager, monkeypatch):
    arn = manager.create_secret(Name="lakeward/dev/stripe", SecretString='{"api_key": "rk_1"}')["ARN"]
    assert resolve("secret:lakeward/dev/stripe", "sources.stripe.connection") == '{"api_key": "rk_1"}'
    monkeypatch.setenv("STRIPE_SECRET_ARN", arn)
    monkeypatch.setenv("STRIPE", "the local value, ignored where the ARN is set")
    assert resolve("env:STRIPE", "sources.stripe.connection") == '{"api_key": "rk_1"}'


def test_a_missing_secret_names_the_reference_and_the_error_code(manager, monkeypatch):
    monkeypatch.setenv("PG_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:nope")
    with pytest.raises(UnresolvedConnection) as err:
        resolve("env:PG", "sources.postgres.connection")
    assert str(err.value) == ("sources.postgres.connection: connection 'env:PG': secret "
                              "arn:aws:secretsmanager:eu-west-1:123456789012:secret:nope: ResourceNotFoundException")

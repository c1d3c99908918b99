"""Glue Data Catalog table optimizers for a staging table or a mart, enabled once the table exists: compaction,
snapshot retention and orphan file deletion run by Glue, so no job of ours has to maintain Iceberg files.
moto has no table-optimizer API: the requests are checked against botocore's model of the Glue API instead.
They are created at run time, not as AWS::Glue::TableOptimizer resources, because that resource needs the
table to exist at deploy time, and the stage step (or the first mart build) creates each table."""

from __future__ import annotations

import boto3

KINDS = ("compaction", "retention", "orphan_file_deletion")


def requests(table: str, role_arn: str, account: str) -> list[dict]:
    """The CreateTableOptimizer requests that give `table` (`layer.name`) each optimizer."""
    database, name = table.split(".", 1)
    return [{"CatalogId": account, "DatabaseName": database, "TableName": name, "Type": kind,
             "TableOptimizerConfiguration": {"roleArn": role_arn, "enabled": True}} for kind in KINDS]


def ensure(table: str, role_arn: str, account: str | None = None, glue=None) -> list[str]:
    """Create the optimizers `table` (`layer.name`) lacks; returns the kinds it created."""
    glue = glue or boto3.client("glue")
    account = account or boto3.client("sts").get_caller_identity()["Account"]
    created = []
    for request in requests(table, role_arn, account):
        try:
            glue.create_table_optimizer(**request)
            created.append(request["Type"])
        except glue.exceptions.AlreadyExistsException:
            continue
    return created

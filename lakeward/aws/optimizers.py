"""Glue Data Catalog table optimizers for a staging table, enabled once the table exists: compaction,
snapshot retention and orphan file deletion run by Glue, so no job of ours has to maintain Iceberg files.
(moto has no table-optimizer API, so this is exercised only in AWS.)"""

from __future__ import annotations

import boto3

KINDS = ("compaction", "retention", "orphan_file_deletion")


def ensure(table: str, role_arn: str, account: str | None = None, glue=None) -> list[str]:
    """Create the optimizers `table` (`layer.name`) lacks; returns the kinds it created."""
    glue = glue or boto3.client("glue")
    account = account or boto3.client("sts").get_caller_identity()["Account"]
    database, name = table.split(".", 1)
    created = []
    for kind in KINDS:
        try:
            glue.create_table_optimizer(
                CatalogId=account, DatabaseName=database, TableName=name, Type=kind,
                TableOptimizerConfiguration={"roleArn": role_arn, "enabled": True})
            created.append(kind)
        except glue.exceptions.AlreadyExistsException:
            continue
    return created

"""Querying: the Athena workgroup (encrypted results enforced, a bytes-scanned cutoff per query) and the
people's roles. Analysts read the marts that are not finance's; the finance role alone reads finance
staging tables and marts (`access: finance` in the definition). Access is scoped by IAM to the Glue
tables and the lake prefixes they live under, never to the whole bucket."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_athena as athena
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.catalog import Catalog
from cdk.naming import Naming
from cdk.settings import Settings
from lakeward.definition import Definition


class Bi(Construct):
    def __init__(self, scope: Construct, cid: str, *, defn: Definition, settings: Settings, naming: Naming,
                 key: kms.IKey, lake: s3.IBucket, results: s3.IBucket, catalog: Catalog):
        super().__init__(scope, cid)
        self.workgroup = athena.CfnWorkGroup(
            self, "Workgroup", name=naming.workgroup(), state="ENABLED", recursive_delete_option=True,
            description="Lakeward marts and quality checks",
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True, publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=settings.athena_bytes_cutoff,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=results.s3_url_for_object("results/"),
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=key.key_arn))))
        self.workgroup_arn = (f"arn:{cdk.Aws.PARTITION}:athena:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:"
                              f"workgroup/{naming.workgroup()}")
        self.key, self.lake, self.results, self.catalog = key, lake, results, catalog
        finance_marts = [m for m, spec in defn.marts.items() if spec.access == "finance"]
        open_marts = [m for m in defn.marts if m not in finance_marts]
        finance_sources = [s for s, src in defn.sources.items() if src.access == "finance"]
        self.analyst = iam.Role(self, "Analyst", role_name=naming.role("analyst"),
                                assumed_by=iam.AccountRootPrincipal(), description="Athena over the open marts")
        self.finance = iam.Role(self, "Finance", role_name=naming.role("finance"),
                                assumed_by=iam.AccountRootPrincipal(),
                                description="Athena over all marts and the finance staging tables")
        for role in (self.analyst, self.finance):
            self.grant_query(role)
        self._grant_tables(self.analyst, "marts", open_marts)
        self._grant_tables(self.finance, "marts", list(defn.marts))
        self._grant_tables(self.finance, "staging", [f"{s}__{o}" for s in finance_sources
                                                     for o in defn.sources[s].objects])

    def grant_query(self, grantee: iam.IGrantable) -> None:
        """Run queries in the workgroup and keep their (encrypted) results."""
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults",
                     "athena:StopQueryExecution", "athena:GetWorkGroup"], resources=[self.workgroup_arn]))
        self.results.grant_read_write(grantee, "results/*")
        self.key.grant_encrypt_decrypt(grantee)

    def _grant_tables(self, grantee: iam.IGrantable, layer: str, tables: list[str]) -> None:
        """Read named tables only: their Glue entries and their Iceberg prefix in the lake."""
        if not tables:
            return
        glue_arns = self.catalog.table_arns(layer, tables[0])[:2] + [
            self.catalog.table_arns(layer, t)[2] for t in tables]
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions"],
            resources=glue_arns))
        prefixes = [f"{layer}.db/{table}/" for table in tables]
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:GetObject"], resources=[self.lake.arn_for_objects(p + "*") for p in prefixes]))
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:ListBucket"], resources=[self.lake.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [p + "*" for p in prefixes]}}))
        self.key.grant_decrypt(grantee)

    def athena_writer_statements(self, layers: list[str]) -> list[iam.PolicyStatement]:
        """What a machine needs to publish marts through Athena (its queries run with its own rights)."""
        glue_arns = []
        for layer in layers:
            glue_arns += self.catalog.table_arns(layer, "*")
        return [
            iam.PolicyStatement(actions=["athena:StartQueryExecution", "athena:GetQueryExecution"],
                                resources=[self.workgroup_arn]),
            iam.PolicyStatement(actions=["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:UpdateTable",
                                         "glue:GetPartitions"], resources=glue_arns),
        ]

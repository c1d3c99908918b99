"""The Glue Data Catalog: one database per layer. The jobs create the Iceberg tables as their first batch
arrives (their schemas come from the sources) and then enable the Glue table optimizers for them
(compaction, snapshot retention, orphan file deletion) with the role made here."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.naming import Naming
from lakeward.lake.catalog import NAMESPACES

LAYERS = NAMESPACES  # the same layers as the local lakehouse: staging, marts, audit, quarantine


class Catalog(Construct):
    def __init__(self, scope: Construct, cid: str, *, naming: Naming, lake: s3.IBucket):
        super().__init__(scope, cid)
        self.databases = {}
        for layer in LAYERS:
            self.databases[layer] = glue.CfnDatabase(
                self, f"{layer.title()}Database", catalog_id=cdk.Aws.ACCOUNT_ID,
                database_input=glue.CfnDatabase.DatabaseInputProperty(
                    name=naming.database(layer), location_uri=lake.s3_url_for_object(f"{layer}.db"),
                    description=f"Lakeward {layer} layer (Iceberg)"),
            )
        self.optimizer_role = iam.Role(
            self, "OptimizerRole", role_name=naming.role("table-optimizer"),
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description="Glue table optimizers: compaction, snapshot retention and orphan file deletion",
        )
        for layer in LAYERS:
            lake.grant_read_write(self.optimizer_role, f"{layer}.db/*")
        self.optimizer_role.add_to_policy(iam.PolicyStatement(
            actions=["glue:GetTable", "glue:UpdateTable"],
            resources=[arn for layer in LAYERS for arn in self.table_arns(layer, "*")]))
        self.optimizer_role.add_to_policy(iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[f"arn:{cdk.Aws.PARTITION}:logs:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:"
                       "log-group:/aws-glue/iceberg-table-optimizer*"]))

    def table_arns(self, layer: str, pattern: str) -> list[str]:
        """The catalog, database and table ARNs Glue checks to read tables of a layer."""
        base = f"arn:{cdk.Aws.PARTITION}:glue:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}"
        return [f"{base}:catalog", f"{base}:database/{layer}", f"{base}:table/{layer}/{pattern}"]

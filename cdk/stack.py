"""The Lakeward stack: composes the constructs and keeps every cross-grant visible in one place."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk.audit import Audit
from cdk.bi import Bi
from cdk.catalog import Catalog
from cdk.functions import FunctionFactory
from cdk.ingestion import Ingestion
from cdk.monitoring import Monitoring
from cdk.nag import acknowledge
from cdk.naming import Naming
from cdk.orchestration import Orchestration
from cdk.quality import Quality
from cdk.settings import Settings
from cdk.storage import Storage
from lakeward.definition import Definition


class LakewardStack(cdk.Stack):
    def __init__(self, scope: Construct, *, defn: Definition, settings: Settings, build_dir: Path):
        naming = Naming(settings.env)
        env = cdk.Environment(account=settings.account, region=settings.region)
        super().__init__(scope, naming.stack(), env=env, description=f"Lakeward pipeline ({settings.env})")
        storage = Storage(self, "Storage", defn=defn, settings=settings, naming=naming)
        key = storage.key
        audit = Audit(self, "Audit", settings=settings, naming=naming, key=key, access_logs=storage.access_logs)
        catalog = Catalog(self, "Catalog", naming=naming, lake=storage.lake)
        bi = Bi(self, "Bi", defn=defn, settings=settings, naming=naming, key=key, lake=storage.lake,
                results=storage.results, catalog=catalog)
        runtime_env = {"LAKEWARD_LANDING_BUCKET": storage.landing.bucket_name,
                       "LAKEWARD_LAKE_BUCKET": storage.lake.bucket_name,
                       "LAKEWARD_AUDIT_BUCKET": audit.bucket.bucket_name,
                       "LAKEWARD_WORKGROUP": naming.workgroup()}
        functions = FunctionFactory(self, settings, naming, key, build_dir, runtime_env)
        ingestion = Ingestion(self, "Ingestion", defn=defn, settings=settings, naming=naming, key=key,
                              functions=functions)
        quality = Quality(self, "Quality", functions=functions)
        ingestion.functions["quality"] = quality.function  # the machines invoke every function by role
        monitoring = Monitoring(self, "Monitoring", settings=settings, naming=naming, key=key)
        orchestration = Orchestration(
            self, "Orchestration", defn=defn, settings=settings, naming=naming, key=key, ingestion=ingestion,
            topic=monitoring.topic, workgroup=naming.workgroup(),
            athena_access=bi.athena_writer_statements(["staging", "marts"]))
        monitoring.watch(defn, orchestration.machines, ingestion.functions, [j.ref for j in ingestion.jobs.values()])

        # Who touches what, in one place.
        fns = ingestion.functions
        extractors = [fn for role, fn in fns.items() if role.startswith("extract_")]
        for grantee in [*extractors, ingestion.job_role]:
            storage.landing.grant_read_write(grantee)
            storage.lake.grant_read(grantee, "staging.db/*")  # the watermark is in the table metadata
            _read_catalog(grantee, catalog, "staging")
        storage.landing.grant_read(fns["stage"])
        for layer in ("staging", "quarantine"):  # a batch refused for a type change is kept in quarantine
            storage.lake.grant_read_write(fns["stage"], f"{layer}.db/*")
            _read_catalog(fns["stage"], catalog, layer,
                          extra=["glue:CreateTable", "glue:UpdateTable", "glue:CreateTableOptimizer",
                                 "glue:GetTableOptimizer"])
        bi.grant_query(fns["quality"])
        storage.lake.grant_read(fns["quality"], "staging.db/*")
        storage.lake.grant_read(fns["quality"], "marts.db/*")
        _read_catalog(fns["quality"], catalog, "staging")
        # The stage function gives each new staging table its optimizers, the quality function each published mart.
        _read_catalog(fns["quality"], catalog, "marts", extra=["glue:CreateTableOptimizer", "glue:GetTableOptimizer"])
        for role in ("stage", "quality"):
            catalog.optimizer_role.grant_pass_role(fns[role])
            fns[role].add_environment("LAKEWARD_OPTIMIZER_ROLE_ARN", catalog.optimizer_role.role_arn)
        if "marts" in orchestration.machines:
            machine = orchestration.machines["marts"]
            storage.lake.grant_read(machine, "staging.db/*")
            storage.lake.grant_read_write(machine, "marts.db/*")
            storage.results.grant_read_write(machine, "results/*")
            key.grant_encrypt_decrypt(machine)
        audit.bucket.grant_put(fns["stage"])
        acknowledge(self, {
            storage.landing.node.path: {"*": "landing batches are folders of generated part-file names"},
            storage.lake.node.path: {
                "staging.db/*": "Iceberg files of the staging layer have generated names",
                "marts.db/*": "Iceberg files of the marts layer have generated names",
                "quarantine.db/*": "Iceberg files of the quarantine layer have generated names",
                **{f"marts.db/{m}/*": f"the Iceberg files of marts.{m} only" for m in defn.marts},
                **{f"staging.db/{s}__{o}/*": f"the Iceberg files of staging.{s}__{o} only (finance role)"
                   for s, src in defn.sources.items() if src.access == "finance" for o in src.objects},
                **{f"{layer}.db/*": "the optimizer rewrites and expires Iceberg files of its layer"
                   for layer in ("audit",)},
            },
            storage.results.node.path: {"results/*": "Athena writes each query result under a generated name"},
            audit.bucket.node.path: {"*": "run records are written under generated keys; Object Lock keeps them"},
        }, settings.quicksight_datasets)


def _read_catalog(grantee: iam.IGrantable, catalog: Catalog, layer: str, extra: list[str] | None = None) -> None:
    grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
        actions=["glue:GetDatabase", "glue:GetTable", "glue:GetTables", *(extra or [])],
        resources=catalog.table_arns(layer, "*")))

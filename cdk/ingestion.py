"""Compute that reads the sources: one Lambda function per API source (plus plan, stage and quality),
Secrets Manager secrets per source, and Glue 5 jobs with Iceberg for PostgreSQL snapshots off the read
replica (in a VPC, through a Glue connection) and for event compaction. Generated from the definition."""

from __future__ import annotations

import re
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3_assets as assets
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk.functions import FunctionFactory, camel
from cdk.naming import Naming
from cdk.settings import Settings
from lakeward.aws.deployment import lambda_sources, runtime
from lakeward.aws.secrets import ARN_SUFFIX
from lakeward.definition import Definition

ROOT = Path(__file__).resolve().parent.parent
RULE_READER = ("pydantic", "pydantic_core", "sqlglot", "PyYAML")  # what load_definition imports


class Ingestion(Construct):
    def __init__(self, scope: Construct, cid: str, *, defn: Definition, settings: Settings, naming: Naming,
                 key: kms.IKey, functions: FunctionFactory):
        super().__init__(scope, cid)
        self.settings, self.naming, self.key = settings, naming, key
        self.secrets = {
            name: secretsmanager.Secret(
                self, f"Secret{camel(name)}", secret_name=naming.secret(name), encryption_key=key,
                description=f"Connection for source '{name}' ({source.kind}); the value is set out of band",
                removal_policy=cdk.RemovalPolicy.RETAIN)
            for name, source in defn.sources.items()
        }
        self.idempotency = dynamodb.TableV2(
            self, "Idempotency", table_name=naming.table("idempotency"),
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expiration", encryption=dynamodb.TableEncryptionV2.customer_managed_key(key),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        functions.env["LAKEWARD_IDEMPOTENCY_TABLE"] = self.idempotency.table_name
        self.functions: dict[str, lambda_.Function] = {
            "plan": functions.make(self, "plan", "plan_windows", "Turn state machine input into the windows to load"),
            "stage": functions.make(self, "stage", "stage_batch",
                                    "Merge a landed batch into its staging Iceberg table"),
        }
        for source in lambda_sources(defn):
            kind = defn.sources[source].kind  # type: ignore[attr-defined]
            if not (ROOT / "lambdas" / f"extract_{kind}.py").exists():
                raise SystemExit(f"sources.{source}: no Lambda handler lambdas/extract_{kind}.py for kind '{kind}'")
            fn = functions.make(self, f"extract_{source}", f"extract_{kind}", f"Extract {source} ({kind}) windows",
                                settings.lambda_reserved_concurrency)
            self._give_secret(fn, defn, source)
            self.idempotency.grant_read_write_data(fn)
            self.functions[f"extract_{source}"] = fn
        self.env = functions.env
        self.jobs: dict[str, glue.CfnJob] = {}
        self.job_role = iam.Role(self, "GlueJobRole", role_name=naming.role("glue-jobs"),
                                 assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
                                 description="Lakeward Glue jobs: snapshot and compaction")
        runtimes = {runtime(src, spec) for _, src in defn.sources.items() for spec in src.objects.values()}
        if runtimes & {"glue_snapshot", "glue_compaction"}:
            self._glue_common(functions.build_dir)
        if "glue_snapshot" in runtimes:
            self._snapshot_job(defn)
        self.sql_files: dict[str, str] = {}  # staging table -> file name in a Glue job's working folder
        if "glue_compaction" in runtimes:
            urls = []
            for source, obj, spec in defn.objects():
                if runtime(defn.sources[source], spec) == "glue_compaction" and spec.staging_sql:
                    asset = assets.Asset(self, f"Sql{camel(source)}{camel(obj)}",
                                         path=str(defn.root / spec.staging_sql))
                    asset.grant_read(self.job_role)
                    urls.append(asset.s3_object_url)
                    self.sql_files[f"{source}__{obj}"] = asset.s3_object_key
            self._job("compact", ROOT / "glue_jobs" / "compact_events.py", connection=None,
                      arguments={"--extra-files": ",".join(urls)} if urls else {})

    def _give_secret(self, grantee: iam.IGrantable, defn: Definition, source: str) -> dict[str, str]:
        """Name the secret where `env:NAME` resolves it (`NAME_SECRET_ARN`) and let the grantee read it."""
        secret = self.secrets[source]
        secret.grant_read(grantee)
        scheme, _, name = defn.sources[source].connection.partition(":")
        variables = {name + ARN_SUFFIX: secret.secret_arn} if scheme == "env" else {}
        if isinstance(grantee, lambda_.Function):
            for variable, value in variables.items():
                grantee.add_environment(variable, value)
        return variables

    def _glue_common(self, build_dir: Path) -> None:
        self.vpc = ec2.Vpc(
            self, "Vpc", ip_addresses=ec2.IpAddresses.cidr(self.settings.vpc_cidr), max_azs=2, nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=26),
                ec2.SubnetConfiguration(name="jobs", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=24),
            ],
            flow_logs={"all": ec2.FlowLogOptions(traffic_type=ec2.FlowLogTrafficType.ALL)},
        )
        self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        self.security_group = ec2.SecurityGroup(
            self, "JobsSecurityGroup", vpc=self.vpc, allow_all_outbound=False,
            description="Glue workers: talk to each other, the read replica and AWS APIs over TLS")
        self.security_group.add_ingress_rule(self.security_group, ec2.Port.all_tcp(),
                                             "Glue workers talk to each other (Spark shuffle)")
        self.security_group.add_egress_rule(self.security_group, ec2.Port.all_tcp(), "Spark shuffle")
        self.security_group.add_egress_rule(ec2.Peer.ipv4(self.settings.replica_cidr),
                                            ec2.Port.tcp(self.settings.replica_port), "PostgreSQL read replica")
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs and S3 over TLS")
        self.security_configuration = glue.CfnSecurityConfiguration(
            self, "GlueSecurity", name=self.naming.job("security"),
            encryption_configuration=glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
                cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                    cloud_watch_encryption_mode="SSE-KMS", kms_key_arn=self.key.key_arn),
                job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                    job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=self.key.key_arn),
                s3_encryptions=[glue.CfnSecurityConfiguration.S3EncryptionProperty(
                    s3_encryption_mode="SSE-KMS", kms_key_arn=self.key.key_arn)]))
        self.key.grant_encrypt_decrypt(self.job_role)
        self.library = assets.Asset(self, "GlueLibrary", path=str(build_dir / "glue" / "lakeward.zip"))
        self.definition_asset = assets.Asset(self, "GlueDefinition", path=str(build_dir / "glue" / "definition"))
        for asset in (self.library, self.definition_asset):
            asset.grant_read(self.job_role)
        self.deequ_jar = self.node.try_get_context("deequ_jar") or self.settings.deequ_jar
        if self.deequ_jar:
            bucket, _, key = deequ_jar_location(self.deequ_jar)
            self.job_role.add_to_policy(iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[f"arn:{cdk.Aws.PARTITION}:s3:::{bucket}/{key}"]))

    def _snapshot_job(self, defn: Definition) -> None:
        subnet = self.vpc.private_subnets[0]
        connection = glue.CfnConnection(
            self, "ReplicaConnection", catalog_id=cdk.Aws.ACCOUNT_ID,
            connection_input=glue.CfnConnection.ConnectionInputProperty(
                name=self.naming.glue_connection(), connection_type="NETWORK",
                description="Network path to the PostgreSQL read replica",
                physical_connection_requirements=glue.CfnConnection.PhysicalConnectionRequirementsProperty(
                    availability_zone=subnet.availability_zone, subnet_id=subnet.subnet_id,
                    security_group_id_list=[self.security_group.security_group_id])))
        env = {}
        for source, src in defn.sources.items():
            if src.kind == "postgres":  # type: ignore[attr-defined]
                env.update(self._give_secret(self.job_role, defn, source))
        self._job("snapshot", ROOT / "glue_jobs" / "snapshot_postgres.py", connection=connection.ref, arguments={
            "--lakeward_env": ",".join(f"{k}={v}" for k, v in env.items()),
            # Glue 5 has Spark, pyarrow and boto3; the extractor's own drivers come pinned from PyPI.
            "--additional-python-modules": pinned("adbc-driver-manager", "adbc-driver-postgresql", "psycopg",
                                                  "psycopg-binary", "pyiceberg", "pyiceberg-core", "pydantic",
                                                  "pydantic_core", "sqlglot", "duckdb", "PyYAML", "strictyaml"),
        })

    def _job(self, role: str, script: Path, connection: str | None, arguments: dict[str, str]) -> None:
        if not script.exists():
            raise SystemExit(f"{script.relative_to(ROOT)}: the Glue script the definition needs is missing")
        script_asset = assets.Asset(self, f"Script{camel(role)}", path=str(script))
        script_asset.grant_read(self.job_role)
        self.jobs[role] = glue.CfnJob(
            self, f"Job{camel(role)}", name=self.naming.job(role), role=self.job_role.role_arn,
            glue_version="5.0", worker_type=self.settings.glue_worker_type,
            number_of_workers=self.settings.glue_workers, timeout=self.settings.glue_timeout_minutes,
            security_configuration=self.security_configuration.name,
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=50),
            command=glue.CfnJob.JobCommandProperty(name="glueetl", python_version="3",
                                                   script_location=script_asset.s3_object_url),
            connections=glue.CfnJob.ConnectionsListProperty(connections=[connection]) if connection else None,
            default_arguments={
                "--datalake-formats": "iceberg", "--enable-metrics": "true",
                "--enable-continuous-cloudwatch-log": "true", "--enable-glue-datacatalog": "true",
                "--extra-py-files": self.library.s3_object_url,
                "--lakeward_definition": self.definition_asset.s3_object_url,
                **{f"--{k}": v for k, v in self.env.items() if k.startswith("LAKEWARD_")
                   and k != "LAKEWARD_IDEMPOTENCY_TABLE"},
                **arguments,
                **deequ_arguments(self.deequ_jar, arguments),
            },
        )
        self.jobs[role].add_resource_dependency(self.security_configuration)



def pinned(*names: str, requirements: str = "requirements.txt") -> str:
    """`name==version,...` from requirements.txt, so Glue installs exactly what the tests ran."""
    pins = dict(line.split("==", 1) for line in (ROOT / requirements).read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    missing = [n for n in names if n not in pins]
    if missing:
        raise SystemExit(f"{requirements} pins no {', '.join(missing)}")
    return ",".join(f"{n}=={pins[n]}" for n in names)


def deequ_jar_location(jar: str) -> tuple[str, str, str]:
    """(bucket, '/', key) of the Deequ jar's S3 URL, refused with the setting named when it is not one."""
    if not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+\.jar", jar):
        raise SystemExit(f"deequ_jar '{jar}': expected s3://<bucket>/<key>.jar (the Deequ build for Spark 3.5)")
    return jar.removeprefix("s3://").partition("/")


def deequ_arguments(jar: str | None, arguments: dict[str, str]) -> dict[str, str]:
    """Deequ for the gate a Glue job runs before it commits (docs/quality.md): the jar, pydeequ, and the switch
    the scripts read; without a jar the jobs leave every rule to lakeward's quality step."""
    if not jar:
        return {"--lakeward_deequ": "off"}
    deequ_jar_location(jar)
    modules = [m for m in arguments.get("--additional-python-modules", "").split(",") if m]
    present = {m.split("==")[0] for m in modules}
    # The gate reads the table's rules through the definition loader; pydeequ is a test pin here.
    modules += [pinned(n) for n in RULE_READER if n not in present]
    modules.append(pinned("pydeequ", requirements="requirements-test.txt"))
    return {"--lakeward_deequ": "on", "--extra-jars": jar, "--additional-python-modules": ",".join(modules)}

"""KMS keys and the data buckets: landing (raw), lake (Iceberg), Athena results, access logs.

Every bucket enforces TLS, blocks public access, encrypts with the data key (bucket keys on) and logs
access. Landing expiry comes from each object's declared retention; event prefixes keep 90 days raw.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.naming import Naming
from cdk.settings import Settings
from lakeward.definition import Definition


class Storage(Construct):
    def __init__(self, scope: Construct, cid: str, *, defn: Definition, settings: Settings, naming: Naming):
        super().__init__(scope, cid)
        removal = cdk.RemovalPolicy.RETAIN if settings.removal_retain else cdk.RemovalPolicy.DESTROY
        self.key = kms.Key(self, "DataKey", enable_key_rotation=True, removal_policy=removal,
                           description="Lakeward data at rest: landing, lake, results, audit, secrets, logs")
        self.key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.amazonaws.com"))
        account = cdk.Aws.ACCOUNT_ID
        self.access_logs = s3.Bucket(
            self, "AccessLogs", bucket_name=naming.bucket("access-logs", account),
            encryption=s3.BucketEncryption.S3_MANAGED,  # the log delivery service cannot use a KMS key
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True, removal_policy=removal,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED, versioned=True,
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=cdk.Duration.days(365))],
        )
        self.landing = self._bucket("Landing", naming.bucket("landing", account), removal,
                                    landing_rules(defn, settings))
        self.lake = self._bucket("Lake", naming.bucket("lake", account), removal, [
            s3.LifecycleRule(id="lake-noncurrent", noncurrent_version_expiration=cdk.Duration.days(30),
                             abort_incomplete_multipart_upload_after=cdk.Duration.days(7)),
        ])
        self.results = self._bucket("AthenaResults", naming.bucket("athena-results", account), removal, [
            s3.LifecycleRule(id="expire-results", expiration=cdk.Duration.days(30),
                             noncurrent_version_expiration=cdk.Duration.days(1)),
        ])

    def _bucket(self, cid: str, name: str, removal: cdk.RemovalPolicy, rules: list[s3.LifecycleRule]) -> s3.Bucket:
        return s3.Bucket(
            self, cid, bucket_name=name, encryption=s3.BucketEncryption.KMS, encryption_key=self.key,
            bucket_key_enabled=True, block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True,
            versioned=True, removal_policy=removal, server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{cid.lower()}/", lifecycle_rules=rules,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        )


def landing_rules(defn: Definition, settings: Settings) -> list[s3.LifecycleRule]:
    """One expiry rule per object prefix, from its declared landing retention (event prefixes: 90 days)."""
    rules = []
    for source, obj, spec in defn.objects():
        days = spec.retention.landing.days
        if getattr(spec, "stage_with", None) == "compact_events":
            days = min(days, settings.raw_event_prefix_days)
        rules.append(s3.LifecycleRule(
            id=f"raw-{source}-{obj}", prefix=f"{source}/{obj}/", expiration=cdk.Duration.days(days),
            noncurrent_version_expiration=cdk.Duration.days(1)))
    rules.append(s3.LifecycleRule(id="run-pointers", prefix="_runs/", expiration=cdk.Duration.days(7)))
    rules.append(s3.LifecycleRule(id="abort-uploads", abort_incomplete_multipart_upload_after=cdk.Duration.days(1)))
    return rules

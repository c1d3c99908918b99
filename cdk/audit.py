"""The audit store a SOX reviewer relies on: a bucket under S3 Object Lock in compliance mode, where
run records and quality results cannot be changed or deleted by anyone, root included, until they expire."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.naming import Naming
from cdk.settings import Settings


class Audit(Construct):
    def __init__(self, scope: Construct, cid: str, *, settings: Settings, naming: Naming, key: kms.IKey,
                 access_logs: s3.IBucket):
        super().__init__(scope, cid)
        self.bucket = s3.Bucket(
            self, "AuditBucket", bucket_name=naming.bucket("audit", cdk.Aws.ACCOUNT_ID),
            encryption=s3.BucketEncryption.KMS, encryption_key=key, bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True, versioned=True,
            object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.compliance(
                cdk.Duration.days(365 * settings.audit_lock_years)),
            removal_policy=cdk.RemovalPolicy.RETAIN,  # locked objects outlive any stack
            server_access_logs_bucket=access_logs, server_access_logs_prefix="audit/",
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        )

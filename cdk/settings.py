"""Per-environment settings, typed; `cdk synth -c env=prod` picks one. Nothing else differs by environment."""

from __future__ import annotations

from dataclasses import dataclass, field

from step_functions.asl import RetryPolicy


@dataclass(frozen=True)
class Settings:
    env: str
    account: str | None = None  # None: environment-agnostic synthesis
    region: str = "eu-west-1"
    audit_lock_years: int = 7          # S3 Object Lock compliance retention of the audit bucket
    raw_event_prefix_days: int = 90    # landing retention of the event prefixes (`events/`)
    lambda_memory_mb: int = 2048
    lambda_timeout_minutes: int = 15
    lambda_reserved_concurrency: int = 10  # per API function; keeps a backfill from exhausting the account
    map_concurrency: int = 4               # windows a backfill loads at once
    retry: RetryPolicy = RetryPolicy()
    athena_poll_seconds: int = 5
    athena_bytes_cutoff: int = 100 * 1024**3   # per query
    glue_workers: int = 2
    glue_worker_type: str = "G.1X"
    glue_timeout_minutes: int = 60
    deequ_jar: str | None = None  # s3://.../deequ-<v>-spark-3.5.jar (or `-c deequ_jar=`): Glue jobs gate with Deequ
    replica_host: str = "replica.internal.example"   # the PostgreSQL read replica the snapshot job reads
    replica_port: int = 5432
    replica_cidr: str = "10.20.0.0/16"
    vpc_cidr: str = "10.40.0.0/20"
    marts_schedule: str = "cron(30 * * * ? *)"       # after the hourly loads have had their 30 minutes
    marts_align: str = "1h"                          # marts need every load through the hour before
    quicksight_datasets: list[str] = field(default_factory=list)
    alarm_email: str | None = None
    removal_retain: bool = True
    log_retention_days: int = 365
    powertools_layer_version: int = 27  # AWSLambdaPowertoolsPythonV3-python312-x86_64


ENVIRONMENTS = {
    "dev": Settings(env="dev", audit_lock_years=1, lambda_reserved_concurrency=2, map_concurrency=2,
                    retry=RetryPolicy(interval_seconds=1, max_attempts=2, backoff_rate=2.0), athena_poll_seconds=1,
                    athena_bytes_cutoff=10 * 1024**3, removal_retain=False, log_retention_days=30,
                    quicksight_datasets=["daily-revenue"]),
    "prod": Settings(env="prod", audit_lock_years=7, lambda_reserved_concurrency=20, map_concurrency=6,
                     glue_workers=10, quicksight_datasets=["daily-revenue"]),
}


def for_env(name: str) -> Settings:
    if name not in ENVIRONMENTS:
        raise SystemExit(f"-c env={name}: unknown environment (expected one of: {', '.join(ENVIRONMENTS)})")
    return ENVIRONMENTS[name]

"""Glue 5 job: extract one window of one PostgreSQL object off the read replica into S3 landing.

The extraction is lakeward's own (keyset chunks through ADBC, business-hours limits); the job only turns
its arguments into a task and its environment, and (`--lakeward_deequ on`) checks the landed batch against the
table's rules with Deequ. Everything but `main()` runs without Glue.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from lakeward.aws.definition_asset import fetch_definition

ARGUMENTS = ["source", "object", "window", "mode", "run_id", "lakeward_definition", "lakeward_env",
             "lakeward_deequ", "LAKEWARD_LANDING_BUCKET", "LAKEWARD_LAKE_BUCKET"]


def task_from(args: dict[str, str]) -> dict:
    """The same task a Lambda extraction receives from the state machine."""
    return {"source": args["source"], "object": args["object"], "window": json.loads(args["window"]),
            "mode": args["mode"], "run_id": args["run_id"]}


def environment_from(args: dict[str, str]) -> dict[str, str]:
    """Buckets, and where each connection's secret is (`NAME_SECRET_ARN=arn,...`): never a secret value."""
    env = {k: v for k, v in args.items() if k.startswith("LAKEWARD_")}
    for pair in filter(None, args.get("lakeward_env", "").split(",")):
        name, _, value = pair.partition("=")
        env[name] = value
    return env


def run(args: dict[str, str], s3, scratch: Path) -> dict:
    from lakeward.aws import run_step
    from lakeward.aws.runtime import AwsRuntime

    os.environ.update(environment_from(args))
    os.environ["LAKEWARD_DEFINITION"] = str(fetch_definition(s3, args["lakeward_definition"], scratch / "definition"))
    os.environ["LAKEWARD_SCRATCH"] = str(scratch)
    rt = AwsRuntime.from_env()
    return run_step.extract(task_from(args), rt, rt.catalog(), s3)


def landed_files(args: dict[str, str], result: dict) -> str:
    """The landed batch's data files (the manifest beside them is not Parquet)."""
    return f"s3://{args['LAKEWARD_LANDING_BUCKET']}/{result['manifest'].rsplit('/', 1)[0]}/part-*.parquet"


def audit_landed(spark, args: dict[str, str], files: str, **gate_options):
    """Deequ on the landed batch before anything stages it: a failed block rule fails the job, so the state
    machine never reaches the stage commit, and the batch stays in landing to inspect."""
    from lakeward.definition import staging_table
    from lakeward.quality import glue_gate

    rules = glue_gate.rules_for(Path(os.environ["LAKEWARD_DEFINITION"]), staging_table(args["source"], args["object"]))
    return glue_gate.gate(spark, spark.read.parquet(files), rules, **gate_options)


def main() -> None:  # pragma: no cover - needs the Glue runtime
    import tempfile

    import boto3
    from awsglue.utils import getResolvedOptions

    args = getResolvedOptions(sys.argv, ARGUMENTS)
    result = run(args, boto3.client("s3"), Path(tempfile.mkdtemp(prefix="lakeward-")))
    if args["lakeward_deequ"] == "on":
        from awsglue.context import GlueContext
        from pyspark.context import SparkContext

        audit_landed(GlueContext(SparkContext.getOrCreate()).spark_session, args, landed_files(args, result))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

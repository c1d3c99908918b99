"""Glue 5 job: extract one window of one PostgreSQL object off the read replica into S3 landing.

The extraction is lakeward's own (keyset chunks through ADBC, business-hours limits); the job only turns
its arguments into a task and its environment. Everything but `main()` runs without Glue.
"""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from pathlib import Path
from urllib.parse import urlparse

ARGUMENTS = ["source", "object", "window", "mode", "run_id", "lakeward_definition", "lakeward_env",
             "LAKEWARD_LANDING_BUCKET", "LAKEWARD_LAKE_BUCKET"]


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


def fetch_definition(s3, url: str, into: Path) -> Path:
    """The definition and its SQL, shipped as one zip asset; returns the definition file."""
    parsed = urlparse(url)
    body = s3.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        zf.extractall(into)
    return into / "pipeline.yaml"


def run(args: dict[str, str], s3, scratch: Path) -> dict:
    from lakeward.aws import run_step
    from lakeward.aws.runtime import AwsRuntime

    os.environ.update(environment_from(args))
    os.environ["LAKEWARD_DEFINITION"] = str(fetch_definition(s3, args["lakeward_definition"], scratch / "definition"))
    os.environ["LAKEWARD_SCRATCH"] = str(scratch)
    rt = AwsRuntime.from_env()
    return run_step.extract(task_from(args), rt, rt.catalog(), s3)


def main() -> None:  # pragma: no cover - needs the Glue runtime
    import tempfile

    import boto3
    from awsglue.utils import getResolvedOptions

    args = getResolvedOptions(sys.argv, ARGUMENTS)
    print(json.dumps(run(args, boto3.client("s3"), Path(tempfile.mkdtemp(prefix="lakeward-")))))


if __name__ == "__main__":
    main()

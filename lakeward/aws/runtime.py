"""Where a Lambda function or Glue job finds its resources: environment variables the CDK app sets."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pyiceberg.catalog import Catalog

from lakeward.definition import Definition
from lakeward.load_definition import load_definition


@dataclass(frozen=True)
class AwsRuntime:
    landing_bucket: str
    lake_bucket: str
    definition_path: Path
    scratch: Path
    optimizer_role: str | None = None  # Glue table optimizers run as this role (cdk/catalog.py)

    @classmethod
    def from_env(cls) -> AwsRuntime:
        missing = [v for v in ("LAKEWARD_LANDING_BUCKET", "LAKEWARD_LAKE_BUCKET") if not os.environ.get(v)]
        if missing:
            raise RuntimeError(f"environment variable(s) {', '.join(missing)} not set (the CDK app sets them)")
        scratch = Path(os.environ.get("LAKEWARD_SCRATCH") or tempfile.mkdtemp(prefix="lakeward-"))
        return cls(os.environ["LAKEWARD_LANDING_BUCKET"], os.environ["LAKEWARD_LAKE_BUCKET"],
                   Path(os.environ.get("LAKEWARD_DEFINITION", "pipeline.yaml")), scratch,
                   os.environ.get("LAKEWARD_OPTIMIZER_ROLE_ARN"))

    def definition(self) -> Definition:
        return load_definition(self.definition_path)

    def catalog(self) -> Catalog:
        """The Glue Data Catalog, with Iceberg data under the lake bucket; databases are the layer names.
        pyiceberg merges `PYICEBERG_CATALOG__LAKEWARD__*` variables (endpoints, for instance) into it."""
        from pyiceberg.catalog import load_catalog

        return load_catalog("lakeward", type="glue", warehouse=f"s3://{self.lake_bucket}/")

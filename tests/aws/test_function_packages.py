"""The Lambda assets `make build` writes: the extraction functions' asset vendors only what extraction
imports and fits Lambda's 250 MB unzipped limit (the AWS quota, layers included); the stage and quality
functions get their own asset with pyiceberg and DuckDB. The wheels are the real Linux ones pip fetches."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cdk.package import package, unzipped_mb
from lakeward.load_definition import load_definition
from tests.conftest import REPO

LAMBDA_UNZIPPED_LIMIT_MB = 250  # https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
POWERTOOLS_LAYER_MB = 15  # an allowance for the powertools layer, which counts against the same limit
# Import names the extraction asset does not vendor.
STAGE_ONLY = ["duckdb", "numpy", "pandas", "pyiceberg_core", "sqlalchemy", "rich", "pygments"]
EXTRACTION_MODULES = ["lambdas.extract_stripe", "lambdas.extract_salesforce", "lambdas.extract_files",
                      "lambdas.plan_windows", "lakeward.sources.extract_stripe",
                      "lakeward.sources.extract_salesforce", "lakeward.sources.extract_files"]
BLOCKER = """
import importlib, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"{{name}} is not in the extraction asset", name=name)
sys.meta_path.insert(0, Block())
for module in {modules!r}:
    importlib.import_module(module)
"""


def test_the_extraction_functions_import_nothing_only_the_stage_asset_ships():
    env = {**os.environ, "PYTHONPATH": str(REPO), "LAKEWARD_IDEMPOTENCY_TABLE": "idempotency",
           "AWS_DEFAULT_REGION": "eu-west-1"}
    done = subprocess.run([sys.executable, "-c", BLOCKER.format(blocked=set(STAGE_ONLY), modules=EXTRACTION_MODULES)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_module_the_extraction_asset_lacks_is_caught_by_the_import_check():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", BLOCKER.format(blocked={"pyiceberg"}, modules=["lakeward.watermark"])],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "not in the extraction asset" in done.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """`make build`'s packaging of the repository's definition, with the pinned Linux wheels."""
    return package(load_definition(REPO / "pipeline.yaml"), tmp_path_factory.mktemp("build"))


def test_the_extraction_asset_fits_lambda_with_its_layer(built):
    extraction = built / "lambda"
    size = unzipped_mb(extraction)
    print(f"{extraction}: {size:.0f} MB; {built / 'lambda-steps'}: {unzipped_mb(built / 'lambda-steps'):.0f} MB")
    assert size + POWERTOOLS_LAYER_MB < LAMBDA_UNZIPPED_LIMIT_MB
    assert (extraction / "pyarrow").is_dir() and (extraction / "stripe").is_dir()
    assert (extraction / "simple_salesforce").is_dir() and (extraction / "pyiceberg").is_dir()
    assert not [name for name in STAGE_ONLY if (extraction / name).exists()]


def test_the_stage_asset_carries_the_lake_engines_and_no_source_client(built):
    steps = built / "lambda-steps"
    for name in ("pyiceberg", "pyiceberg_core", "duckdb", "pyarrow", "sqlalchemy", "lakeward", "lambdas"):
        assert (steps / name).is_dir(), name
    assert not (steps / "stripe").exists() and not (steps / "simple_salesforce").exists()
    assert (steps / "pipeline.yaml").is_file() and (built / "lambda" / "pipeline.yaml").is_file()

"""The Lambda assets `make build` writes: the extraction functions' asset vendors only what extraction
imports; the stage and quality functions get their own asset with pyiceberg, DuckDB and powertools itself.
Each fits Lambda's 262,144,000 bytes unzipped (the AWS quota, layers included: the extraction functions carry
the powertools layer), and the trimmed stage asset still runs: its handlers, under the runtime's CPython,
stage a real window through a moto server. The wheels are the real Linux ones pip fetches."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from cdk.package import LAMBDA_PYTHON, POWERTOOLS_LAYER_BYTES, package, unzipped_bytes
from lakeward.load_definition import load_definition
from tests.aws.conftest import TASK, assert_window_staged
from tests.aws.lambda_context import LambdaContext
from tests.conftest import REPO

# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html: 250 MB, function and layers unzipped
LAMBDA_UNZIPPED_LIMIT_BYTES = 262_144_000
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


def _runtime_python() -> tuple[str, str]:
    """(version, interpreter) to build and run the stage asset with: the Lambda runtime's CPython when this
    machine has one that runs (a pyenv shim may not), else this interpreter (the pins have wheels for both)."""
    candidates = [shutil.which(f"python{LAMBDA_PYTHON}"),
                  *map(str, sorted(Path.home().glob(f".pyenv/versions/{LAMBDA_PYTHON}.*/bin/python{LAMBDA_PYTHON}")))]
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True)
        if probe.returncode == 0:
            return LAMBDA_PYTHON, probe.stdout.strip()
    return f"{sys.version_info.major}.{sys.version_info.minor}", sys.executable


@pytest.fixture(scope="module")
def runtime_python() -> tuple[str, str]:
    return _runtime_python()


@pytest.fixture(scope="module")
def built(tmp_path_factory, runtime_python):
    """`make build`'s packaging of the repository's definition, with the pinned Linux wheels."""
    return package(load_definition(REPO / "pipeline.yaml"), tmp_path_factory.mktemp("build"),
                   python=runtime_python[0])


def test_the_extraction_asset_fits_lambda_with_its_layer(built):
    extraction = built / "lambda"
    size = unzipped_bytes(extraction)
    print(f"{extraction}: {size:,} bytes + layer {POWERTOOLS_LAYER_BYTES:,}")
    assert size + POWERTOOLS_LAYER_BYTES < LAMBDA_UNZIPPED_LIMIT_BYTES
    assert (extraction / "pyarrow").is_dir() and (extraction / "stripe").is_dir()
    assert (extraction / "simple_salesforce").is_dir() and (extraction / "pyiceberg").is_dir()
    assert not [name for name in STAGE_ONLY if (extraction / name).exists()]


def test_the_stage_asset_fits_lambda_with_powertools_vendored_instead_of_the_layer(built):
    steps = built / "lambda-steps"
    size = unzipped_bytes(steps)
    print(f"{steps}: {size:,} bytes, no layer")
    assert size < LAMBDA_UNZIPPED_LIMIT_BYTES - 20_000_000  # room for growth, not a squeeze
    assert (steps / "aws_lambda_powertools").is_dir()


def test_the_stage_asset_carries_the_lake_engines_and_no_source_client(built):
    steps = built / "lambda-steps"
    for name in ("pyiceberg", "pyiceberg_core", "duckdb", "pyarrow", "lakeward", "lambdas"):
        assert (steps / name).is_dir(), name
    assert not (steps / "stripe").exists() and not (steps / "simple_salesforce").exists()
    assert not (steps / "sqlalchemy").exists()
    assert (steps / "pipeline.yaml").is_file() and (built / "lambda" / "pipeline.yaml").is_file()


# What the Lambda runtime adds to the path: boto3 with its pure-Python dependencies.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath")
RUN_HANDLERS = """
import json, sys
from pathlib import Path

class Context:
    function_name, memory_limit_in_mb, aws_request_id = "lakeward-dev-stage", 1024, "req-1"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:lakeward-dev-stage"
    def get_remaining_time_in_millis(self):
        return 600_000

task = json.loads(sys.argv[1])
from lambdas import quality_gate, stage_batch
result = {"quality": quality_gate.handler(task, Context()), "stage": stage_batch.handler(task, Context())}
result["loaded"] = {name: getattr(module, "__file__", None) for name, module in sys.modules.items()}
result["stdlib"] = sys.base_prefix
Path(sys.argv[2]).write_text(json.dumps(result, default=str))
"""


def test_the_trimmed_stage_asset_runs_the_quality_and_stage_handlers(built, runtime_python, aws_server, tmp_path):
    """Extraction runs here; quality and stage run from the built folder alone (no site-packages), the way
    the Lambda runtime loads them, and publish the window to the Glue catalog on the moto server."""
    handlers, account = aws_server
    extracted = handlers["extract_stripe"](TASK, LambdaContext())
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PACKAGES:
        (runtime / name).symlink_to(Path(boto3.__file__).parent.parent / name)
    script, out = tmp_path / "invoke.py", tmp_path / "result.json"
    script.write_text(RUN_HANDLERS)
    steps = built / "lambda-steps"
    env = {**os.environ, "PYTHONPATH": f"{steps}{os.pathsep}{runtime}"}
    done = subprocess.run([runtime_python[1], "-S", str(script), json.dumps(TASK), str(out)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["stage"]["batch_id"] == extracted["batch_id"]
    assert result["quality"]["rows_in"] == extracted["rows"]
    loaded = {name: path for name, path in result["loaded"].items() if path and path != str(script)}
    elsewhere = {name: path for name, path in loaded.items()
                 if not path.startswith((str(steps), str(runtime), result["stdlib"]))}
    assert elsewhere == {}
    for name in ("pyarrow", "duckdb", "pyiceberg_core", "aws_lambda_powertools"):
        assert loaded[name].startswith(str(steps)), name
    assert "sqlalchemy" not in result["loaded"]
    assert_window_staged(account)

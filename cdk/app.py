"""Build the CDK app from the definition and a settings environment; the tests call `build_app` once."""

from __future__ import annotations

import os
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from cdk.package import ASSETS, BUILD, package
from cdk.settings import for_env
from cdk.stack import LakewardStack
from lakeward.load_definition import load_definition

ROOT = Path(__file__).resolve().parent.parent
# Server access logs delivered through a bucket policy rather than the legacy LogDeliveryWrite ACL.
FEATURE_FLAGS = {"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True}


def build_app(definition: Path | None = None, env: str | None = None, outdir: str | None = None,
              build_dir: Path | None = None) -> tuple[cdk.App, LakewardStack]:
    app = cdk.App(outdir=outdir, context=FEATURE_FLAGS) if outdir else cdk.App(context=FEATURE_FLAGS)
    env = env or app.node.try_get_context("env") or "dev"
    defn = load_definition(definition or ROOT / "pipeline.yaml")
    build_dir = build_dir or BUILD
    # `make build` made them; package the code alone otherwise
    if not all((build_dir / asset).exists() for asset in ASSETS):
        package(defn, build_dir, dependencies=False)
    stack = LakewardStack(app, defn=defn, settings=for_env(env), build_dir=build_dir)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def synthesize() -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    app, stack = build_app(outdir=os.environ.get("CDK_OUTDIR", str(ROOT / "cdk.out")))
    app.synth()
    print(f"{stack.stack_name}: {Path(app.outdir) / (stack.stack_name + '.template.json')}")

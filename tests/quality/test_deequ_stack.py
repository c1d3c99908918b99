"""The Deequ jar setting reaches both Glue jobs of the synthesized stack, and only that object is readable."""

from __future__ import annotations

import dataclasses
import json

import pytest

from cdk import settings
from cdk.ingestion import deequ_arguments
from tests.aws.conftest import synthesize
from tests.conftest import REPO

JAR = "s3://lakeward-artifacts-test/jars/deequ-2.0.8-spark-3.5.jar"


def _pins(path: str) -> dict[str, str]:
    return dict(line.split("==", 1) for line in (REPO / path).read_text().splitlines() if "==" in line)


def test_both_glue_jobs_get_the_jar_pydeequ_and_the_switch(tmp_path, monkeypatch):
    monkeypatch.setitem(settings.ENVIRONMENTS, "dev", dataclasses.replace(settings.ENVIRONMENTS["dev"], deequ_jar=JAR))
    template = synthesize(REPO / "pipeline.yaml", tmp_path)
    jobs = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Glue::Job"]
    assert len(jobs) == 2
    pydeequ = f"pydeequ=={_pins('requirements-test.txt')['pydeequ']}"
    for job in jobs:
        arguments = job["DefaultArguments"]
        assert arguments["--extra-jars"] == JAR and arguments["--lakeward_deequ"] == "on"
        modules = arguments["--additional-python-modules"].split(",")
        assert pydeequ in modules and f"sqlglot=={_pins('requirements.txt')['sqlglot']}" in modules
        assert len({m.split("==")[0] for m in modules}) == len(modules)  # each package pinned once
    statements = [s for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"
                  for s in r["Properties"]["PolicyDocument"]["Statement"]]
    reads = [s for s in statements if s["Action"] == "s3:GetObject" and "deequ" in json.dumps(s["Resource"])]
    assert len(reads) == 1
    assert reads[0]["Resource"] == {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
                                                     ":s3:::lakeward-artifacts-test/jars/deequ-2.0.8-spark-3.5.jar"]]}


def test_without_a_jar_the_jobs_are_told_deequ_is_off_and_a_bad_location_is_refused():
    assert deequ_arguments(None, {"--additional-python-modules": "x==1"}) == {"--lakeward_deequ": "off"}
    with pytest.raises(SystemExit, match=r"deequ_jar 'https://example.com/deequ.jar': expected s3://<bucket>/<key>\.jar"):
        deequ_arguments("https://example.com/deequ.jar", {})

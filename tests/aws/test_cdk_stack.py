"""The synthesized stack: what issue 7 asks for, asserted on the template. Expected values come from the
raw pipeline.yaml (read here with yaml, not through lakeward's model) or from the issue itself."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from aws_cdk.assertions import Match, Template

from cdk.settings import for_env
from tests.conftest import REPO

RAW = yaml.safe_load((REPO / "pipeline.yaml").read_text())
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def days(text: str) -> int:
    return int(text[:-1]) if text.endswith("d") else 0


def seconds(text: str) -> int:
    return int(timedelta(**{UNITS[text[-1]]: int(text[:-1])}).total_seconds())


@pytest.fixture(scope="module")
def t(template) -> Template:
    return Template.from_json(template)


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def test_every_bucket_is_encrypted_private_and_tls_only(t, template):
    buckets = resources(template, "AWS::S3::Bucket")
    assert len(buckets) == 5  # landing, lake, athena results, access logs, audit
    t.resource_properties_count_is("AWS::S3::Bucket", {"PublicAccessBlockConfiguration": {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True}}, 5)
    t.resource_properties_count_is("AWS::S3::Bucket", {"BucketEncryption": {"ServerSideEncryptionConfiguration": [
        Match.object_like({"BucketKeyEnabled": True, "ServerSideEncryptionByDefault": Match.object_like(
            {"SSEAlgorithm": "aws:kms"})})]}}, 4)  # the access-log bucket must use S3 keys for log delivery
    policies = resources(template, "AWS::S3::BucketPolicy").values()
    tls_denied = [p for p in policies if any(
        s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for s in p["Properties"]["PolicyDocument"]["Statement"])]
    assert len(tls_denied) == 5
    t.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_landing_lifecycle_follows_each_objects_retention(template):
    landing = next(r for r in resources(template, "AWS::S3::Bucket").values()
                   if "landing" in json.dumps(r["Properties"]["BucketName"]))
    rules = {r["Prefix"]: r["ExpirationInDays"] for r in landing["Properties"]["LifecycleConfiguration"]["Rules"]
             if "Prefix" in r and "ExpirationInDays" in r}
    expected = {}
    for source, src in RAW["sources"].items():
        for obj, spec in src["objects"].items():
            declared = days((spec.get("retention") or {}).get("landing", "730d"))
            events = spec.get("stage_with") == "compact_events"
            expected[f"{source}/{obj}/"] = min(declared, 90) if events else declared
    assert {p: d for p, d in rules.items() if p != "_runs/"} == expected
    assert 90 in expected.values() and 730 in expected.values()  # the event prefix and the 2-year default


def test_audit_bucket_is_locked_in_compliance_mode(t):
    t.has_resource_properties("AWS::S3::Bucket", {
        "ObjectLockEnabled": True,
        "ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {
            "Mode": "COMPLIANCE", "Days": 365 * for_env("dev").audit_lock_years}}}})


def test_catalog_has_one_database_per_layer(t):
    for layer in ("staging", "marts", "audit"):
        t.has_resource_properties("AWS::Glue::Database", {"DatabaseInput": Match.object_like({"Name": layer})})


def test_one_function_per_api_source_with_powertools_and_reserved_concurrency(t, template):
    api_sources = [s for s, src in RAW["sources"].items() if src["kind"] != "postgres"]
    for source in api_sources:
        t.has_resource_properties("AWS::Lambda::Function", {
            "FunctionName": f"lakeward-dev-extract-{source}", "ReservedConcurrentExecutions": Match.any_value(),
            "Layers": [{"Fn::Join": ["", Match.array_with([Match.string_like_regexp(
                ":layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:")])]}],
            "Handler": f"lambdas.extract_{RAW['sources'][source]['kind']}.handler"})
    names = {json.dumps(r["Properties"]["FunctionName"]) for r in resources(template, "AWS::Lambda::Function").values()}
    assert len(names) == len(api_sources) + 3  # plus plan, stage and quality


def test_stage_and_quality_functions_vendor_powertools_instead_of_the_layer(template):
    """Their asset (DuckDB, pyiceberg-core) leaves no room for the layer under Lambda's size limit."""
    functions = {r["Properties"]["FunctionName"]: r["Properties"]
                 for r in resources(template, "AWS::Lambda::Function").values()}
    for role in ("stage", "quality"):
        assert not functions[f"lakeward-dev-{role}"].get("Layers"), role


def test_secrets_per_source_hold_no_values(t, template):
    t.resource_count_is("AWS::SecretsManager::Secret", len(RAW["sources"]))
    for secret in resources(template, "AWS::SecretsManager::Secret").values():
        assert "SecretString" not in secret["Properties"]


def test_glue_jobs_run_glue5_with_iceberg_and_the_snapshot_reads_the_replica_through_a_connection(t, template):
    t.resource_properties_count_is("AWS::Glue::Job", {"GlueVersion": "5.0", "DefaultArguments": Match.object_like(
        {"--datalake-formats": "iceberg", "--extra-py-files": Match.any_value()})}, 2)
    t.has_resource_properties("AWS::Glue::Connection", {"ConnectionInput": Match.object_like({
        "ConnectionType": "NETWORK", "PhysicalConnectionRequirements": Match.object_like(
            {"SecurityGroupIdList": Match.any_value(), "SubnetId": Match.any_value()})})})
    snapshot = next(r for r in resources(template, "AWS::Glue::Job").values() if r["Properties"]["Name"].endswith(
        "snapshot"))
    assert snapshot["Properties"]["Connections"]["Connections"]
    egress = [e for g in resources(template, "AWS::EC2::SecurityGroup").values()
              for e in g["Properties"].get("SecurityGroupEgress", [])]
    assert {"CidrIp": for_env("dev").replica_cidr, "FromPort": 5432, "ToPort": 5432, "IpProtocol": "tcp"}.items() \
        <= next(e for e in egress if e.get("FromPort") == 5432).items()


def test_athena_workgroup_enforces_encrypted_results_and_a_scan_cutoff(t):
    t.has_resource_properties("AWS::Athena::WorkGroup", {"WorkGroupConfiguration": Match.object_like({
        "EnforceWorkGroupConfiguration": True, "BytesScannedCutoffPerQuery": for_env("dev").athena_bytes_cutoff,
        "ResultConfiguration": Match.object_like({"EncryptionConfiguration": Match.object_like(
            {"EncryptionOption": "SSE_KMS"})})})})


def test_one_state_machine_and_schedule_per_cadence_plus_the_marts(t, template):
    cadences = {seconds(src["cadence"]) for src in RAW["sources"].values()}
    machines = resources(template, "AWS::StepFunctions::StateMachine")
    assert len(machines) == len(cadences) + 1
    t.resource_count_is("AWS::Scheduler::Schedule", len(cadences) + 1)
    for cadence in cadences:
        unit = "hour" if cadence % 86400 else "day"
        value = cadence // (3600 if unit == "hour" else 86400)
        t.has_resource_properties("AWS::Scheduler::Schedule", {
            "ScheduleExpression": f"rate({value} {unit}{'s' if value > 1 else ''})"})
    for machine in machines.values():
        assert machine["Properties"]["TracingConfiguration"] == {"Enabled": True}
        assert machine["Properties"]["LoggingConfiguration"]["Level"] == "ALL"


def test_alarms_page_the_topic_and_each_names_its_runbook(t, template):
    alarms = resources(template, "AWS::CloudWatch::Alarm").values()
    freshness = [a for a in alarms if a["Properties"].get("MetricName") == "LoadsSucceeded"]
    assert sorted(d["Value"] for a in freshness for d in a["Properties"]["Dimensions"]) == sorted(RAW["sources"])
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"], alarm
        runbook = alarm["Properties"]["AlarmDescription"].removeprefix("Runbook: ")
        assert (REPO / runbook).is_file(), runbook
    t.has_resource_properties("AWS::Events::Rule", {"EventPattern": Match.object_like(
        {"source": ["aws.glue"], "detail-type": ["Glue Job State Change"]})})
    t.resource_count_is("AWS::CloudWatch::Dashboard", 1)


def test_stage_and_quality_functions_may_give_their_tables_optimizers(template):
    """Staging tables get Glue table optimizers from the stage function, marts from the mart gate."""
    functions = {r["Properties"]["FunctionName"]: r["Properties"]
                 for r in resources(template, "AWS::Lambda::Function").values()}
    policies = json.dumps([*resources(template, "AWS::IAM::Policy").values(),
                           *resources(template, "AWS::IAM::ManagedPolicy").values()])
    for role, layer in (("stage", "staging"), ("quality", "marts")):
        function = functions[f"lakeward-dev-{role}"]
        assert "LAKEWARD_OPTIMIZER_ROLE_ARN" in function["Environment"]["Variables"], role
        role_ref = function["Role"]["Fn::GetAtt"][0]
        statements = [s for p in json.loads(policies)
                      if {"Ref": role_ref} in p["Properties"].get("Roles", [])
                      for s in p["Properties"]["PolicyDocument"]["Statement"]]
        granted = json.dumps([s for s in statements if "glue:CreateTableOptimizer" in s["Action"]])
        assert f"table/{layer}/*" in granted, role
        assert any(s["Action"] == "iam:PassRole" for s in statements), role


def _statements(template: dict, role_name: str) -> list[dict]:
    role = next(k for k, r in resources(template, "AWS::IAM::Role").items()
                if r["Properties"].get("RoleName") == role_name)
    # CDK moves statements past the inline size limit into managed policies attached to the same role.
    policies = [*resources(template, "AWS::IAM::Policy").values(),
                *resources(template, "AWS::IAM::ManagedPolicy").values()]
    return [s for p in policies if {"Ref": role} in p["Properties"].get("Roles", [])
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_finance_tables_are_readable_by_the_finance_role_only(template):
    finance_sources = [s for s, src in RAW["sources"].items() if src.get("access") == "finance"]
    assert finance_sources, "the definition marks no finance source"
    analyst = json.dumps(_statements(template, "lakeward-dev-analyst"))
    finance = json.dumps(_statements(template, "lakeward-dev-finance"))
    for source in finance_sources:
        assert f"table/staging/{source}__" not in analyst and f"staging.db/{source}__" not in analyst
        assert f"table/staging/{source}__" in finance and f"staging.db/{source}__" in finance
    assert "athena:StartQueryExecution" in analyst and "glue:GetTable" in analyst


def test_no_grant_covers_a_whole_data_bucket(template):
    """Object grants name a prefix of the lake, never all of it."""
    lake = next(k for k, r in resources(template, "AWS::S3::Bucket").items()
                if "lake" in json.dumps(r["Properties"]["BucketName"]))
    whole = {"Fn::Join": ["", [{"Fn::GetAtt": [lake, "Arn"]}, "/*"]]}
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            assert whole not in targets, policy


def test_cdk_nag_found_nothing_unacknowledged_and_every_acknowledgment_has_a_reason(stack):
    folder, _ = stack
    metadata = json.loads((folder / "cdk.out" / "lakeward-dev.metadata.json").read_text())
    acknowledged = {rule: reason for entries in metadata.values() for e in entries
                    if e["type"] == "aws:cdk:acknowledged-rules" for rule, reason in e["data"].items()}
    assert any(rule.startswith("AwsSolutions::AwsSolutions-IAM5") for rule in acknowledged)
    assert all(len(reason) > 30 for reason in acknowledged.values())
    report = folder / "cdk.out" / "validation-report.json"
    if report.exists():
        plugins = json.loads(report.read_text())["pluginReports"]
        assert all(p["conclusion"] == "success" for p in plugins), [v["ruleName"] for p in plugins
                                                                     for v in p["violations"]]


def test_cfn_lint_reports_no_errors(stack):
    folder, _ = stack
    cfn_lint = str(Path(sys.executable).parent / "cfn-lint")
    done = subprocess.run([cfn_lint, "--ignore-checks", "W3005", "--format", "parseable",
                           "--", str(folder / "cdk.out" / "lakeward-dev.template.json")],
                          capture_output=True, text=True)
    errors = [line for line in done.stdout.splitlines() if ":E" in line]
    assert not errors, errors
    assert done.returncode in (0, 4, 8, 12), done.stderr  # 4 warnings, 8 informational: no error bit (2)

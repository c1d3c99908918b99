"""The synthesized state machines, executed by moto's ASL interpreter with the control flow under test:
success, retry, failure with one alert, backfill fan-out, and the marts gate on upstream loads."""

from __future__ import annotations

import json
import re

import boto3
import pytest
import yaml
from moto import mock_aws

from lambdas import plan_windows
from tests.aws import moto_machines as mm
from tests.aws.lambda_context import LambdaContext
from tests.conftest import REPO

RAW = yaml.safe_load((REPO / "pipeline.yaml").read_text())
END = "2026-10-01T05:00:00Z"


def machine_name(cadence: str) -> str:
    amount, unit = int(cadence[:-1]), cadence[-1]
    return f"lakeward-dev-load-every-{amount}{unit}"


def objects_of(cadence: str) -> list[tuple[str, str, str]]:
    return [(s, o, src["kind"]) for s, src in RAW["sources"].items() if src["cadence"] == cadence
            for o in src["objects"]]


HOURLY = "1h"
SMALLEST = min({src["cadence"] for src in RAW["sources"].values()}, key=lambda c: len(objects_of(c)))
COMPACTED = {(s, o) for s, src in RAW["sources"].items() for o, spec in src["objects"].items()
             if spec.get("stage_with") == "compact_events"}


def extract_result(payload: dict) -> dict:
    return {"batch_id": f"{payload['source']}-{payload['object']}", "rows": 1, "root": "s3://events",
            "file_list": "s3://landing/files.json"}


class World:
    """moto with the stack's machines deployed; Lambda functions do what `behaviours` say."""

    def __init__(self, template: dict, monkeypatch):
        self.calls = mm.Calls()
        self.behaviours = {"plan": lambda p: plan_windows.handler(p, LambdaContext()),
                           "quality": lambda p: {"passed": True}, "stage": lambda p: {"rows_out": 1}}
        for source in RAW["sources"]:
            self.behaviours[f"extract_{source}"] = extract_result
        mm.patch_sync_tasks(monkeypatch)
        self.shared = mm.shared_resources()
        self.resources = {r["Properties"]["StateMachineName"]: r for r in template["Resources"].values()
                          if r["Type"] == "AWS::StepFunctions::StateMachine"}
        self.machines: dict[str, mm.Deployed] = {}
        # Functions are named by role, and every role runs the behaviour the test gives it.
        mm.patch_lambda(monkeypatch, {role: role for role in self.behaviours}, self.behaviours, self.calls)
        self.alerts: list[dict] = []

    def run(self, name: str, payload: dict) -> dict:
        if name not in self.machines:  # deployed on first use: moto parses big definitions slowly
            self.machines[name] = mm.deploy(self.resources[name], self.shared)
        result = mm.execute(self.machines[name], payload)
        self.alerts += self.machines[name].alerts()
        return result

    def loads(self) -> dict[str, dict]:
        items = boto3.client("dynamodb", region_name=mm.REGION).scan(TableName="loads")["Items"]
        return {i["source"]["S"]: {k: v["S"] for k, v in i.items()} for i in items}


@pytest.fixture
def world(template, monkeypatch):
    with mock_aws(config=mm.MOTO_CONFIG):
        yield World(template, monkeypatch)


def failing_once(error: str, source: str, obj: str, times: int = 1):
    left = {"n": times}

    def behaviour(payload: dict) -> dict:
        if (payload.get("source"), payload.get("object")) == (source, obj) and left["n"] > 0:
            left["n"] -= 1
            raise mm.FunctionError(error, f"{source}.{obj}: simulated {error}")
        return extract_result(payload) if "source" in payload else {"passed": True}
    return behaviour


def test_success_path_loads_every_object_in_graph_order_and_records_the_load(world):
    result = world.run(machine_name(HOURLY), {"mode": "incremental", "end": END})
    assert result["status"] == "SUCCEEDED", result.get("cause")
    roles = [(role, p.get("source"), p.get("object")) for role, p in world.calls.items]
    for source, obj, kind in objects_of(HOURLY):
        seen = [role for role, s, o in roles if (s, o) == (source, obj)]
        extract_here = [] if kind == "postgres" else [f"extract_{source}"]  # postgres: the Glue snapshot job
        stage_here = [] if (source, obj) in COMPACTED else ["stage"]        # events: the Glue compaction job
        assert seen == [*extract_here, "quality", *stage_here], (source, obj, seen)
    windows = {json.dumps(p["window"]) for role, p in world.calls.items if role != "plan"}
    assert windows == {json.dumps({"start": None, "end": END})}
    glue = boto3.client("glue", region_name=mm.REGION)
    postgres = [o for s, o, kind in objects_of(HOURLY) if kind == "postgres"]
    assert len(glue.get_job_runs(JobName="lakeward-snapshot")["JobRuns"]) == len(postgres)
    hourly_sources = {s for s, _, _ in objects_of(HOURLY)}
    assert world.loads() == {s: {"source": s, "status": "succeeded", "loaded_through": END,
                                 "execution": world.loads()[s]["execution"]} for s in hourly_sources}
    metrics = boto3.client("cloudwatch", region_name=mm.REGION).list_metrics(Namespace="Lakeward")["Metrics"]
    assert {d["Value"] for m in metrics if m["MetricName"] == "LoadsSucceeded" for d in m["Dimensions"]} \
        == hourly_sources
    assert world.alerts == []


def test_a_transient_failure_is_retried_then_succeeds(world):
    source, obj, _ = next(t for t in objects_of(HOURLY) if t[2] != "postgres")
    world.behaviours[f"extract_{source}"] = failing_once("TransientError", source, obj)
    result = world.run(machine_name(HOURLY), {"mode": "incremental", "end": END})
    assert result["status"] == "SUCCEEDED", result.get("cause")
    tries = [p for p in world.calls.of(f"extract_{source}") if p["object"] == obj]
    assert len(tries) == 2
    assert world.alerts == []


def test_a_failure_publishes_one_alert_with_context_and_runs_nothing_downstream(world):
    source, obj, _ = next(t for t in objects_of(HOURLY) if t[2] != "postgres")
    world.behaviours[f"extract_{source}"] = failing_once("ExtractError", source, obj, times=99)
    result = world.run(machine_name(HOURLY), {"mode": "incremental", "end": END})
    assert result["status"] == "FAILED" and result["error"] == "ExtractError"
    assert len(world.alerts) == 1
    alert = world.alerts[0]
    assert alert["state_machine"] == machine_name(HOURLY) and machine_name(HOURLY) in alert["execution"]
    assert alert["error"] == "ExtractError"
    assert f"{source}.{obj} failed for window null to {END}" in alert["cause"]
    assert alert["input"] == {"mode": "incremental", "end": END}
    downstream = [p for role, p in world.calls.items
                  if role in ("quality", "stage") and (p["source"], p["object"]) == (source, obj)]
    assert downstream == []
    loads = world.loads()
    assert loads[source]["status"] == "failed"
    assert not any(v["status"] == "succeeded" for v in loads.values())  # the load was not recorded
    metrics = boto3.client("cloudwatch", region_name=mm.REGION).list_metrics(Namespace="Lakeward")["Metrics"]
    assert metrics == []


def test_a_backfill_fans_out_over_its_windows(world):
    result = world.run(machine_name(SMALLEST), {"mode": "backfill", "start": "2026-09-01T00:00:00Z",
                                                "end": "2026-09-03T12:00:00Z", "chunk": "1d"})
    assert result["status"] == "SUCCEEDED", result.get("cause")
    expected = [{"start": "2026-09-01T00:00:00Z", "end": "2026-09-02T00:00:00Z"},
                {"start": "2026-09-02T00:00:00Z", "end": "2026-09-03T00:00:00Z"},
                {"start": "2026-09-03T00:00:00Z", "end": "2026-09-03T12:00:00Z"}]
    for source, obj, _ in objects_of(SMALLEST):
        for role in ("quality",):
            got = sorted((p["window"] for p in world.calls.of(role) if (p["source"], p["object"]) == (source, obj)),
                         key=lambda w: w["start"])
            assert got == expected, (source, obj)
    assert {p["mode"] for role, p in world.calls.items if role != "plan"} == {"backfill"}
    assert world.loads() == {}  # a backfill says nothing about freshness


def _marts_order() -> list[str]:
    """Marts reading other marts come after them: read from the SQL text itself."""
    sql = {m: (REPO / spec["sql"]).read_text() for m, spec in RAW["marts"].items()}
    return [m for m in RAW["marts"] if any(re.search(rf"\bmarts\.{other}\b", sql[m]) for other in RAW["marts"])]


def _athena_queries() -> list[str]:
    athena = boto3.client("athena", region_name=mm.REGION)
    ids = athena.list_query_executions()["QueryExecutionIds"]
    return [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Query"] for i in ids]


def test_the_marts_refuse_to_run_when_an_upstream_load_failed(world):
    marts_source = next(s for s in RAW["sources"] if any(
        f"staging.{s}__" in (REPO / spec["sql"]).read_text() for spec in RAW["marts"].values()))
    cadence = RAW["sources"][marts_source]["cadence"]
    obj = next(iter(RAW["sources"][marts_source]["objects"]))
    world.behaviours["quality"] = failing_once("QualityGateError", marts_source, obj)
    assert world.run(machine_name(cadence), {"mode": "incremental", "end": END})["status"] == "FAILED"
    result = world.run("lakeward-dev-marts", {"end": "2026-10-01T05:30:00Z"})
    assert result["status"] == "FAILED" and result["error"] == "UpstreamNotLoaded"
    assert _athena_queries() == []
    assert [p for p in world.calls.of("quality") if "mart" in p] == []
    assert [a["error"] for a in world.alerts] == ["QualityGateError", "UpstreamNotLoaded"]


def test_the_marts_build_in_dependency_order_once_every_upstream_loaded(world):
    for cadence in sorted({src["cadence"] for src in RAW["sources"].values()}):
        assert world.run(machine_name(cadence), {"mode": "incremental", "end": END})["status"] == "SUCCEEDED"
    result = world.run("lakeward-dev-marts", {"end": "2026-10-01T05:30:00Z"})  # aligned down to 05:00
    assert result["status"] == "SUCCEEDED", result.get("cause")
    queries = _athena_queries()
    merged = [re.match(r'MERGE INTO "marts"\."(\w+)"', q).group(1) for q in queries]
    assert sorted(merged) == sorted(RAW["marts"])  # one statement, so one commit, per mart
    for mart in _marts_order():
        text = (REPO / RAW["marts"][mart]["sql"]).read_text()
        reads = [o for o in RAW["marts"] if re.search(rf"\bmarts\.{o}\b", text)]
        assert all(merged.index(o) < merged.index(mart) for o in reads), (mart, reads)
    assert sorted(p["mart"] for p in world.calls.of("quality") if "mart" in p) == sorted(RAW["marts"])
    assert world.alerts == []


def test_the_machines_read_only_resources_the_stack_declares(template):
    """Every ${placeholder} in a definition has a substitution: nothing is left for deploy time to miss."""
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            text = resource["Properties"]["DefinitionString"]
            assert set(re.findall(r"\$\{(\w+)\}", text)) == set(resource["Properties"]["DefinitionSubstitutions"])



"""The marts state machine: it refuses to run unless every source the marts read has loaded through the
window, then builds each mart on Athena and runs its quality gate in graph order, and finally refreshes
the QuickSight datasets.
"""

from __future__ import annotations

from lakeward.aws.athena_marts import statements
from lakeward.aws.deployment import mart_sources, mart_steps
from lakeward.definition import Definition
from step_functions.asl import (
    ACCOUNT,
    LOADS_TABLE,
    RetryPolicy,
    alert_states,
    athena_query,
    catch_all,
    lambda_task,
    ref,
)


def build(defn: Definition, policy: RetryPolicy, align: str, datasets: list[str], poll_seconds: int) -> dict:
    sources = mart_sources(defn)
    work: list[tuple[str, dict[str, dict]]] = []  # (first state, its states) in order
    for step in mart_steps(defn):
        if step.kind == "mart":
            for i, sql in enumerate(statements(defn, step.mart)):  # type: ignore[arg-type]
                work.append((f"{step.id}: statement {i + 1}", {"sql": sql}))  # type: ignore[dict-item]
        else:
            work.append((step.id, {"mart": step.mart}))  # type: ignore[dict-item]
    refreshes = [f"Refresh QuickSight {d}" for d in datasets]
    chain = [name for name, _ in work] + refreshes + ["Succeeded"]
    states: dict[str, dict] = {
        "Plan": {**lambda_task("plan", {"input": {"mode": "incremental", "end.$": "$.end", "align": align},
                                        "now.$": "$$.Execution.StartTime"}, "$.plan", policy,
                               "Read loads" if sources else chain[0]), "Catch": catch_all("Alert")},
    }
    if sources:
        states["Read loads"] = {
            "Type": "Parallel", "ResultPath": "$.loads", "Next": f"{sources[0]} loaded?",
            "Branches": [_read_load(s) for s in sources], "Catch": catch_all("Alert"),
        }
        for i, source in enumerate(sources):
            nxt = f"{sources[i + 1]} loaded?" if i + 1 < len(sources) else chain[0]
            states[f"{source} loaded?"] = _loaded(i, source, nxt)
        states["Upstream not loaded"] = {
            "Type": "Pass", "Next": "Alert", "ResultPath": "$.failure",
            "Parameters": {"Error": "UpstreamNotLoaded",
                           "Cause.$": "States.Format('marts need every upstream load through {}; loads: {}', "
                                      "$.plan.result.end, States.JsonToString($.loads))"},
        }
    for i, (name, what) in enumerate(work):
        nxt = chain[i + 1]
        if "sql" in what:
            states.update(athena_query(name, what["sql"], policy, nxt, poll_seconds))  # type: ignore[arg-type]
        else:
            states[name] = {**lambda_task("quality", {"mart": what["mart"], "run_id.$": "$$.Execution.Name",
                                                      "started.$": "$$.Execution.StartTime"},
                                          "$.quality", policy, nxt), "Catch": catch_all("Alert")}
    for i, (name, dataset) in enumerate(zip(refreshes, datasets, strict=True)):
        states[name] = {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:quicksight:createIngestion",
            "Parameters": {"AwsAccountId": ref(ACCOUNT), "DataSetId": dataset, "IngestionId.$": "States.UUID()"},
            "ResultPath": None, "Catch": catch_all("Alert"), "Next": chain[len(work) + i + 1],
        }
    states["Succeeded"] = {"Type": "Succeed"}
    states.update(alert_states("Lakeward marts failed", "Alert", "Failed"))
    return {"Comment": f"Build the marts once {', '.join(sources) or 'nothing'} has loaded through the window",
            "StartAt": "Plan", "States": states}


def _read_load(source: str) -> dict:
    return {"StartAt": f"Read {source}", "States": {f"Read {source}": {
        "Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem", "End": True,
        "Parameters": {"TableName": ref(LOADS_TABLE), "Key": {"source": {"S": source}}, "ConsistentRead": True},
    }}}


def _loaded(index: int, source: str, nxt: str) -> dict:
    """A source counts as loaded when its last load succeeded and covered the marts' window end."""
    item = f"$.loads[{index}].Item"
    return {
        "Type": "Choice", "Default": "Upstream not loaded",
        "Choices": [
            {"Not": {"Variable": item, "IsPresent": True}, "Next": "Upstream not loaded"},
            {"And": [{"Variable": f"{item}.status.S", "StringEquals": "succeeded"},
                     {"Variable": f"{item}.loaded_through.S", "TimestampGreaterThanEqualsPath": "$.plan.result.end"}],
             "Next": nxt},
        ],
    }

"""One state machine per source cadence: plan the windows, then for every window load every object
through its graph steps (extract, quality gate, stage: the order lakeward/dag.py gives), then record the
load and its freshness metric.

A failure anywhere records the failed source in the loads table (which the marts machine checks),
publishes one alert naming the execution, step, error and window, and runs nothing downstream.
"""

from __future__ import annotations

from lakeward.aws.deployment import CadenceGroup, ObjectTask
from lakeward.dag import Step
from step_functions.asl import (
    LOADS_TABLE,
    RetryPolicy,
    alert_states,
    catch_all,
    describe_failure,
    fail_with_failure,
    job_key,
    lambda_task,
    ref,
    sql_file_key,
    task,
)

METRIC_NAMESPACE = "Lakeward"
FRESHNESS_METRIC = "LoadsSucceeded"


def build(group: CadenceGroup, policy: RetryPolicy, max_concurrency: int) -> dict:
    levels = [f"Objects {i + 1}" for i in range(len(group.levels))]
    processor = {
        name: {"Type": "Parallel", "ResultPath": None, "Branches": [_branch(task, policy) for task in level],
               **({"Next": levels[i + 1]} if i + 1 < len(levels) else {"End": True})}
        for i, (name, level) in enumerate(zip(levels, group.levels, strict=True))
    }
    states: dict[str, dict] = {
        "Plan": {**lambda_task("plan", {"input.$": "$", "now.$": "$$.Execution.StartTime"}, "$.plan", policy,
                               "Windows"), "Catch": catch_all("Alert")},
        "Windows": {
            "Type": "Map", "ItemsPath": "$.plan.result.windows", "MaxConcurrency": max_concurrency,
            "ItemSelector": {"window.$": "$$.Map.Item.Value", "mode.$": "$.plan.result.mode",
                             "execution_class.$": "$.plan.result.execution_class", "run_id.$": "$$.Execution.Name"},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": levels[0], "States": processor},
            "ResultPath": None, "Next": "Incremental?", "Catch": catch_all("Alert"),
        },
        "Incremental?": {
            "Type": "Choice", "Default": "Succeeded",
            "Choices": [{"Variable": "$.plan.result.mode", "StringEquals": "incremental", "Next": "Record loads"}],
        },
        "Record loads": {
            "Type": "Parallel", "ResultPath": None, "Next": "Publish freshness", "Catch": catch_all("Alert"),
            "Branches": [_record_success(source) for source in group.sources],
        },
        "Publish freshness": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:cloudwatch:putMetricData", "ResultPath": None,
            "Parameters": {"Namespace": METRIC_NAMESPACE, "MetricData": [
                {"MetricName": FRESHNESS_METRIC, "Unit": "Count", "Value": 1,
                 "Dimensions": [{"Name": "Source", "Value": source}]} for source in group.sources]},
            "Next": "Succeeded",
        },
        "Succeeded": {"Type": "Succeed"},
        **alert_states(f"Lakeward load failed ({group.name})", "Alert", "Failed"),
    }
    return {"Comment": f"Load the {group.name} sources: {', '.join(group.sources)}", "StartAt": "Plan",
            "States": states}


def _branch(task: ObjectTask, policy: RetryPolicy) -> dict:
    """The object's steps in graph order; a failure marks its source failed, names the step, then fails."""
    payload = {"source": task.source, "object": task.object, "window.$": "$.window", "mode.$": "$.mode",
               "run_id.$": "$.run_id"}
    names = [f"{step.kind}:{task.step}" for step in task.steps]
    recorded, failed = f"{task.step}: record failure", f"{task.step}: failed"
    states: dict[str, dict] = {}
    for i, (name, step) in enumerate(zip(names, task.steps, strict=True)):
        nxt = names[i + 1] if i + 1 < len(names) else None
        states[name] = {**_task(task, step, payload, policy, nxt), "Catch": catch_all(recorded)}
    states[recorded] = {
        "Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem", "ResultPath": None,
        "Next": f"{task.step}: describe failure",
        "Parameters": {
            "TableName": ref(LOADS_TABLE), "Key": {"source": {"S": task.source}},
            "UpdateExpression": "SET #status = :failed, failed_at = :at, execution = :execution",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":failed": {"S": "failed"}, ":at": {"S.$": "$$.State.EnteredTime"},
                                          ":execution": {"S.$": "$$.Execution.Id"}},
        },
    }
    states[f"{task.step}: describe failure"] = describe_failure(task.step, failed)
    states[failed] = fail_with_failure()
    return {"StartAt": names[0], "States": states}


def _task(task: ObjectTask, step: Step, payload: dict, policy: RetryPolicy, nxt: str | None) -> dict:
    if step.kind == "extract":
        if task.runtime == "glue_snapshot":
            return _glue("snapshot", {"--source": task.source, "--object": task.object,
                                      "--window.$": "States.JsonToString($.window)", "--mode.$": "$.mode",
                                      "--run_id.$": "$.run_id"}, "$.extract", policy, nxt)
        return lambda_task(f"extract_{task.source}", payload, "$.extract", policy, nxt)
    if step.kind == "stage" and task.runtime == "glue_compaction":
        table = f"{task.source}__{task.object}"
        return _glue("compact", {
            "--root.$": "$.extract.result.root", "--file_list.$": "$.extract.result.file_list",
            "--batch_id.$": "$.extract.result.batch_id", "--table": f"glue_catalog.staging.{table}",
            "--view": f"landing.{table}", "--sql_file": ref(sql_file_key(table))}, "$.stage", policy, nxt)
    return lambda_task(step.kind, payload, f"$.{step.kind}", policy, nxt)


def _glue(job: str, arguments: dict, result_path: str, policy: RetryPolicy, nxt: str | None) -> dict:
    return task("arn:aws:states:::glue:startJobRun.sync",
                {"JobName": ref(job_key(job)), "ExecutionClass.$": "$.execution_class", "Arguments": arguments},
                {"result": {"job_run_id.$": "$.Id", "state.$": "$.JobRunState"}}, result_path, policy, nxt)


def _record_success(source: str) -> dict:
    return {"StartAt": f"Record {source}", "States": {f"Record {source}": {
        "Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem", "ResultPath": None, "End": True,
        "Parameters": {
            "TableName": ref(LOADS_TABLE), "Key": {"source": {"S": source}},
            "UpdateExpression": "SET #status = :ok, loaded_through = :end, execution = :execution",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":ok": {"S": "succeeded"}, ":end": {"S.$": "$.plan.result.end"},
                                          ":execution": {"S.$": "$$.Execution.Id"}},
        },
    }}}

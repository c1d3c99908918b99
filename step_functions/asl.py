"""Building blocks of the generated state machines: tasks with retries, failure context and alerts.

Resources appear as `${Key}` placeholders; the CDK app fills them through DefinitionSubstitutions, and
the tests fill them with the ARNs of moto resources, so both run the very same definition text.
"""

from __future__ import annotations

from dataclasses import dataclass

# Errors worth retrying: throttling and service hiccups, and what our handlers raise as TransientError.
TRANSIENT = [
    "Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException", "Glue.AWSGlueException", "Glue.ConcurrentRunsExceededException",
    "Athena.TooManyRequestsException", "TransientError",
]


@dataclass(frozen=True)
class RetryPolicy:
    interval_seconds: int = 5
    max_attempts: int = 3
    backoff_rate: float = 2.0


def ref(key: str) -> str:
    return "${" + key + "}"


def function_key(role: str) -> str:
    """`plan`, `stage`, `quality` or `extract_<source>`."""
    return "Function_" + role


def job_key(role: str) -> str:
    return "Job_" + role


def sql_file_key(table: str) -> str:
    """The name a Glue job finds a staging SQL file under in its working folder (`--extra-files`)."""
    return "SqlFile_" + table


ALERT_TOPIC, LOADS_TABLE, WORKGROUP, ACCOUNT = "AlertTopic", "LoadsTable", "Workgroup", "AccountId"


def retry(policy: RetryPolicy) -> list[dict]:
    return [{"ErrorEquals": TRANSIENT, "IntervalSeconds": policy.interval_seconds,
             "MaxAttempts": policy.max_attempts, "BackoffRate": policy.backoff_rate, "JitterStrategy": "FULL"}]


def task(resource: str, parameters: dict, selector: dict, result_path: str, policy: RetryPolicy,
         nxt: str | None) -> dict:
    """A Task whose result lands under `result_path` as `{"result": ...}`, retried on transient errors."""
    state = {"Type": "Task", "Resource": resource, "Parameters": parameters, "ResultSelector": selector,
             "ResultPath": result_path, "Retry": retry(policy)}
    return _then(state, nxt)


def lambda_task(function: str, payload: dict, result_path: str, policy: RetryPolicy, nxt: str | None) -> dict:
    return task("arn:aws:states:::lambda:invoke", {"FunctionName": ref(function_key(function)), "Payload": payload},
                {"result.$": "$.Payload"}, result_path, policy, nxt)


def _then(state: dict, nxt: str | None) -> dict:
    return {**state, "Next": nxt} if nxt else {**state, "End": True}


def catch_all(nxt: str) -> list[dict]:
    """Keep the error and the state's input, so the next state can say where and on what it broke."""
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": nxt}]


def describe_failure(step: str, nxt: str) -> dict:
    """Prefix the cause with the step and window, then fail with the original error name."""
    return {
        "Type": "Pass", "Next": nxt, "ResultPath": "$.failure",
        "Parameters": {
            "Error.$": "$.failure.Error",
            "Cause.$": f"States.Format('{step} failed for window {{}} to {{}}: {{}}', "
                       "$.window.start, $.window.end, $.failure.Cause)",
        },
    }


def fail_with_failure() -> dict:
    return {"Type": "Fail", "ErrorPath": "$.failure.Error", "CausePath": "$.failure.Cause"}


def alert_states(subject: str, first: str, fail: str) -> dict[str, dict]:
    """Publish one alert with the execution, error and cause (which names the step and window), then fail."""
    return {
        first: {
            "Type": "Pass", "ResultPath": "$.alert", "Next": first + " to SNS",
            "Parameters": {
                "execution.$": "$$.Execution.Id", "state_machine.$": "$$.StateMachine.Name",
                "error.$": "$.failure.Error", "cause.$": "$.failure.Cause", "input.$": "$$.Execution.Input",
            },
        },
        first + " to SNS": {
            "Type": "Task", "Resource": "arn:aws:states:::sns:publish", "ResultPath": None, "Next": fail,
            "Parameters": {"TopicArn": ref(ALERT_TOPIC), "Subject": subject,
                           "Message.$": "States.JsonToString($.alert)"},
        },
        fail: fail_with_failure(),
    }


def athena_query(name: str, sql: str, policy: RetryPolicy, nxt: str, poll_seconds: int) -> dict[str, dict]:
    """startQueryExecution, then poll getQueryExecution until it finishes (the .sync pattern, by hand:
    `athena:startQueryExecution.sync` has no offline interpreter to test it under)."""
    wait, poll, done = f"{name}: wait", f"{name}: poll", f"{name}: finished?"
    failed = f"{name}: failed"
    return {
        name: {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:athena:startQueryExecution",
            "Parameters": {"QueryString": sql, "WorkGroup": ref(WORKGROUP)},
            "ResultSelector": {"id.$": "$.QueryExecutionId"}, "ResultPath": "$.query",
            "Retry": retry(policy), "Next": wait, "Catch": catch_all("Alert"),
        },
        wait: {"Type": "Wait", "Seconds": poll_seconds, "Next": poll},
        poll: {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:athena:getQueryExecution",
            "Parameters": {"QueryExecutionId.$": "$.query.id"},
            "ResultSelector": {"id.$": "$.QueryExecution.QueryExecutionId",
                               "state.$": "$.QueryExecution.Status.State"},
            "ResultPath": "$.query", "Retry": retry(policy), "Next": done, "Catch": catch_all("Alert"),
        },
        done: {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.query.state", "StringEquals": "SUCCEEDED", "Next": nxt},
                {"Or": [{"Variable": "$.query.state", "StringEquals": s} for s in ("FAILED", "CANCELLED")],
                 "Next": failed},
            ],
            "Default": wait,
        },
        failed: {
            "Type": "Pass", "Next": "Alert", "ResultPath": "$.failure",
            "Parameters": {"Error": "AthenaQueryFailed",
                           "Cause.$": f"States.Format('{name}: Athena query {{}} ended {{}}', "
                                      "$.query.id, $.query.state)"},
        },
    }

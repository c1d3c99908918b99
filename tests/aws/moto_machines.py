"""Run synthesized state machines under moto's ASL interpreter.

Every `${Key}` of a machine's DefinitionSubstitutions becomes a real moto resource: a Lambda function, a
Glue job, the SNS topic (with an SQS queue subscribed, to count alerts), the DynamoDB loads table. A
Lambda invocation runs what the test says that function does (`behaviours`); the plan function runs
its real handler. Only moto's AWS is simulated: the definition text is exactly what CDK synthesized.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

import boto3
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_glue
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition

REGION, ACCOUNT = "eu-west-1", "123456789012"
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


class FunctionError(Exception):
    """Raised by a behaviour: the invocation fails with this error type, as a Lambda function error does."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type, self.message = error_type, message


Behaviour = Callable[[dict], dict]


@dataclass
class Calls:
    """Every Lambda invocation, in order: (function role, payload)."""

    items: list[tuple[str, dict]] = field(default_factory=list)

    def of(self, role: str) -> list[dict]:
        return [payload for r, payload in self.items if r == role]


def patch_sync_tasks(monkeypatch) -> None:
    """moto crashes on `.sync` Glue tasks without a callback endpoint; giving Glue tasks the task-token
    pattern as well makes one exist (the TOOLCHAIN `.sync` patch)."""
    patterns = set(state_task_service_glue._SUPPORTED_INTEGRATION_PATTERNS) | {ResourceCondition.WaitForTaskToken}
    monkeypatch.setattr(state_task_service_glue, "_SUPPORTED_INTEGRATION_PATTERNS", patterns)


def patch_lambda(monkeypatch, functions: dict[str, str], behaviours: dict[str, Behaviour], calls: Calls) -> None:
    """Route moto Lambda invocations by function name to the test's behaviour for that role."""
    roles = {name: role for role, name in functions.items()}

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        name = function_name.rsplit(":", 1)[-1] if function_name.startswith("arn:") else function_name
        role = roles[name]
        payload = json.loads(body or "{}")
        calls.items.append((role, payload))
        try:
            result = behaviours[role](payload)
        except FunctionError as err:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": err.error_type, "errorMessage": err.message}).encode()
        return json.dumps(result).encode()

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", invoke)


@dataclass
class Deployed:
    arn: str
    functions: dict[str, str]   # role -> function name
    topic_queue: str
    loads_table: str

    def alerts(self) -> list[dict]:
        sqs = boto3.client("sqs", region_name=REGION)
        out = []
        while True:
            got = sqs.receive_message(QueueUrl=self.topic_queue, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for message in got:
                out.append(json.loads(json.loads(message["Body"])["Message"]))
                sqs.delete_message(QueueUrl=self.topic_queue, ReceiptHandle=message["ReceiptHandle"])


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def shared_resources() -> dict[str, str]:
    """The topic, queue and loads table every machine of a stack shares."""
    sns, sqs, ddb = (boto3.client(s, region_name=REGION) for s in ("sns", "sqs", "dynamodb"))
    topic = sns.create_topic(Name="paging")["TopicArn"]
    queue = sqs.create_queue(QueueName="paging-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    ddb.create_table(TableName="loads", KeySchema=[{"AttributeName": "source", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "source", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    return {"AlertTopic": topic, "queue": queue, "LoadsTable": "loads", "Workgroup": "primary", "AccountId": ACCOUNT}


def deploy(resource: dict, shared: dict[str, str]) -> Deployed:
    """Create the machine of one synthesized AWS::StepFunctions::StateMachine resource in moto."""
    props = resource["Properties"]
    text = props["DefinitionString"]
    lam, glue, iam = (boto3.client(s, region_name=REGION) for s in ("lambda", "glue", "iam"))
    try:
        role = iam.create_role(RoleName="machine", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName="machine")["Role"]["Arn"]
    functions = {}
    for key in props.get("DefinitionSubstitutions", {}):
        if key.startswith("Function_"):
            name = key.removeprefix("Function_")
            try:
                arn = lam.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="handler.handler",
                                          Code={"ZipFile": _zip()})["FunctionArn"]
            except lam.exceptions.ResourceConflictException:
                arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
            functions[name] = name
            value = arn
        elif key.startswith("Job_"):
            value = f"lakeward-{key.removeprefix('Job_')}"
            try:
                glue.create_job(Name=value, Role=role, Command={"Name": "glueetl", "ScriptLocation": "s3://x/y.py"})
            except glue.exceptions.AlreadyExistsException:
                pass
        elif key.startswith("SqlFile_"):
            value = key.removeprefix("SqlFile_") + ".sql"
        else:
            value = shared[key]
        text = text.replace("${" + key + "}", value)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.create_state_machine(name=props["StateMachineName"], definition=text, roleArn=role)["stateMachineArn"]
    return Deployed(arn, functions, shared["queue"], shared["LoadsTable"])


def execute(machine: Deployed, payload: dict, timeout: float = 120) -> dict:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    execution = sfn.start_execution(stateMachineArn=machine.arn, input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.2)
    raise AssertionError(f"execution {execution} still running after {timeout}s")

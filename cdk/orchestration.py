"""Step Functions state machines generated from the definition (one per source cadence, one for the
marts), the loads table the marts machine checks, and one EventBridge Scheduler schedule per machine."""

from __future__ import annotations

import json
from datetime import timedelta

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk.functions import camel, log_retention
from cdk.ingestion import Ingestion
from cdk.naming import Naming
from cdk.settings import Settings
from lakeward.aws.deployment import cadence_groups
from lakeward.definition import Definition
from step_functions import asl, load_machine, marts_machine


class Orchestration(Construct):
    def __init__(self, scope: Construct, cid: str, *, defn: Definition, settings: Settings, naming: Naming,
                 key: kms.IKey, ingestion: Ingestion, topic: sns.ITopic, workgroup: str,
                 athena_access: list[iam.PolicyStatement]):
        super().__init__(scope, cid)
        self.settings, self.naming, self.key = settings, naming, key
        self.loads = dynamodb.TableV2(
            self, "Loads", table_name=naming.table("loads"),
            partition_key=dynamodb.Attribute(name="source", type=dynamodb.AttributeType.STRING),
            encryption=dynamodb.TableEncryptionV2.customer_managed_key(key),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        common = {
            asl.ALERT_TOPIC: topic.topic_arn, asl.LOADS_TABLE: self.loads.table_name, asl.WORKGROUP: workgroup,
            asl.ACCOUNT: cdk.Aws.ACCOUNT_ID,
            **{asl.function_key(role): fn.function_arn for role, fn in ingestion.functions.items()},
            **{asl.job_key(role): job.ref for role, job in ingestion.jobs.items()},
            **{asl.sql_file_key(table): name for table, name in ingestion.sql_files.items()},
        }
        self.machines: dict[str, sfn.StateMachine] = {}
        self.used: dict[str, set[str]] = {}  # the substitution keys each machine's definition uses
        for group in cadence_groups(defn):
            body = load_machine.build(group, settings.retry, settings.map_concurrency)
            # Backfills run many windows: the timeout is generous; freshness alarms catch a slow hourly run.
            timeout = max(group.cadence * 2, timedelta(hours=24))
            machine = self._machine(f"load-{group.name}", body, common, timeout=timeout)
            self._schedule(f"load-{group.name}", machine, _rate(group.cadence), {
                "mode": "incremental", "end": scheduler.ContextAttribute.scheduled_time})
        if defn.marts:
            body = marts_machine.build(defn, settings.retry, settings.marts_align, settings.quicksight_datasets,
                                       settings.athena_poll_seconds)
            machine = self._machine("marts", body, common, timeout=timedelta(hours=2))
            self._schedule("marts", machine, scheduler.ScheduleExpression.expression(settings.marts_schedule),
                           {"end": scheduler.ContextAttribute.scheduled_time})
            for statement in athena_access:
                machine.add_to_role_policy(statement)
            if settings.quicksight_datasets:
                machine.add_to_role_policy(iam.PolicyStatement(actions=["quicksight:CreateIngestion"], resources=[
                    f"arn:{cdk.Aws.PARTITION}:quicksight:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:dataset/{d}/ingestion/*"
                    for d in settings.quicksight_datasets]))
        for role, machine in self.machines.items():
            used = self.used[role]
            topic.grant_publish(machine)
            self.loads.grant_read_write_data(machine)
            for fn_role, fn in ingestion.functions.items():
                if asl.function_key(fn_role) in used:
                    fn.grant_invoke(machine)
            jobs = [job.ref for job_role, job in ingestion.jobs.items() if asl.job_key(job_role) in used]
            if jobs:
                machine.add_to_role_policy(iam.PolicyStatement(
                    actions=["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
                    resources=[f"arn:{cdk.Aws.PARTITION}:glue:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:job/{job}"
                               for job in jobs]))
            if role.startswith("load-"):
                machine.add_to_role_policy(iam.PolicyStatement(
                    actions=["cloudwatch:PutMetricData"], resources=["*"],  # PutMetricData has no resource ARNs
                    conditions={"StringEquals": {"cloudwatch:namespace": load_machine.METRIC_NAMESPACE}}))

    def _machine(self, role: str, body: dict, substitutions: dict[str, str], timeout: timedelta) -> sfn.StateMachine:
        log_group = logs.LogGroup(
            self, f"Logs{camel(role)}", log_group_name=f"/aws/vendedlogs/states/{self.naming.state_machine(role)}",
            retention=log_retention(self.settings.log_retention_days), encryption_key=self.key,
            removal_policy=cdk.RemovalPolicy.DESTROY)
        text = json.dumps(body)
        used = {k: v for k, v in substitutions.items() if asl.ref(k) in text}
        self.used[role] = set(used)
        machine = sfn.StateMachine(
            self, f"Machine{camel(role)}", state_machine_name=self.naming.state_machine(role),
            definition_body=sfn.DefinitionBody.from_string(json.dumps(body, indent=1)),
            definition_substitutions=used, timeout=cdk.Duration.seconds(int(timeout.total_seconds())),
            tracing_enabled=True, encryption_configuration=sfn.CustomerManagedEncryptionConfiguration(self.key),
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        self.machines[role] = machine
        return machine

    def _schedule(self, role: str, machine: sfn.StateMachine, expression: scheduler.ScheduleExpression,
                  payload: dict) -> None:
        scheduler.Schedule(
            self, f"Schedule{camel(role)}", schedule_name=self.naming.schedule(role), schedule=expression,
            description=f"Start {self.naming.state_machine(role)}",
            target=targets.StepFunctionsStartExecution(
                machine, input=scheduler.ScheduleTargetInput.from_object(payload),
                retry_attempts=2, max_event_age=cdk.Duration.minutes(30)),
        )


def _rate(cadence: timedelta) -> scheduler.ScheduleExpression:
    return scheduler.ScheduleExpression.rate(cdk.Duration.seconds(int(cadence.total_seconds())))

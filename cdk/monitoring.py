"""Paging: an SNS topic that every alarm and every state machine alert goes to, the alarms themselves
(one runbook page each in docs/runbooks/), and a CloudWatch dashboard of the pipeline."""

from __future__ import annotations

from datetime import timedelta

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as event_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk.naming import Naming
from cdk.settings import Settings
from lakeward.definition import Definition
from step_functions.load_machine import FRESHNESS_METRIC, METRIC_NAMESPACE

RUNBOOKS = "docs/runbooks"


class Monitoring(Construct):
    def __init__(self, scope: Construct, cid: str, *, settings: Settings, naming: Naming, key: kms.IKey):
        super().__init__(scope, cid)
        self.naming = naming
        self.topic = sns.Topic(self, "Paging", topic_name=naming.topic("paging"), master_key=key,
                               enforce_ssl=True, display_name="Lakeward paging")
        for principal in ("cloudwatch.amazonaws.com", "events.amazonaws.com"):
            key.grant_encrypt_decrypt(iam.ServicePrincipal(principal))
        if settings.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=naming.dashboard())

    def _alarm(self, cid: str, name: str, metric: cloudwatch.IMetric, threshold: float, runbook: str,
               comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
               missing=cloudwatch.TreatMissingData.NOT_BREACHING) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self, cid, alarm_name=self.naming.alarm(name), metric=metric, threshold=threshold,
            evaluation_periods=1, comparison_operator=comparison, treat_missing_data=missing,
            alarm_description=f"Runbook: {RUNBOOKS}/{runbook}.md")
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        return alarm

    def watch(self, defn: Definition, machines: dict[str, sfn.StateMachine],
              functions: dict[str, lambda_.IFunction], jobs: list[str]) -> None:
        five = cdk.Duration.minutes(5)
        for role, machine in machines.items():
            self._alarm(f"Failed{role}", f"{role}-failed", machine.metric_failed(period=five), 1,
                        "state-machine-failed")
            self._alarm(f"TimedOut{role}", f"{role}-timed-out", machine.metric_timed_out(period=five), 1,
                        "state-machine-timed-out")
        for role, fn in functions.items():
            self._alarm(f"Errors{role}", f"{role}-errors", fn.metric_errors(period=five), 1, "lambda-errors")
        for source, src in defn.sources.items():
            sla = min(src.cadence, timedelta(days=1))
            metric = cloudwatch.Metric(namespace=METRIC_NAMESPACE, metric_name=FRESHNESS_METRIC,
                                       dimensions_map={"Source": source}, statistic="Sum",
                                       period=cdk.Duration.seconds(int(sla.total_seconds())))
            self._alarm(f"Stale{source}", f"{source}-stale", metric, 1, "source-stale",
                        comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                        missing=cloudwatch.TreatMissingData.BREACHING)
        quality = cloudwatch.Metric(namespace=METRIC_NAMESPACE, metric_name="QualityFailures",
                                    dimensions_map={"service": "quality"}, statistic="Sum", period=five)
        self._alarm("QualityFailures", "quality-failed", quality, 1, "quality-failed")
        if jobs:
            rule = events.Rule(
                self, "GlueJobFailed", rule_name=self.naming.alarm("glue-job-failed"),
                description=f"Glue job runs that fail, time out or stop. Runbook: {RUNBOOKS}/glue-job-failed.md",
                event_pattern=events.EventPattern(
                    source=["aws.glue"], detail_type=["Glue Job State Change"],
                    detail={"jobName": jobs, "state": ["FAILED", "TIMEOUT", "STOPPED", "ERROR"]}))
            rule.add_target(event_targets.SnsTopic(self.topic))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="State machine failures", width=12,
                                   left=[m.metric_failed() for m in machines.values()]),
            cloudwatch.GraphWidget(title="Loads succeeded per source", width=12, left=[
                cloudwatch.Metric(namespace=METRIC_NAMESPACE, metric_name=FRESHNESS_METRIC,
                                  dimensions_map={"Source": s}, statistic="Sum") for s in defn.sources]),
            cloudwatch.GraphWidget(title="Lambda errors", width=12,
                                   left=[f.metric_errors() for f in functions.values()]),
            cloudwatch.GraphWidget(title="Rows extracted", width=12, left=[
                cloudwatch.Metric(namespace=METRIC_NAMESPACE, metric_name="RowsExtracted",
                                  dimensions_map={"Source": s, "service": f"extract-{src.kind}"}, statistic="Sum")
                for s, src in defn.sources.items()]),
            cloudwatch.AlarmStatusWidget(title="Alarms", width=24, alarms=self.alarms),
        )

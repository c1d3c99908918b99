"""The Lambda handlers' shared wiring (aws-lambda-powertools): JSON logs, EMF metrics and idempotency
keyed by (source, object, window, mode), so a retried or re-driven task returns the first result instead
of reading the source again. The files in lambdas/ each pick one of these.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import requests
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent,
)

from lakeward.aws import run_input, run_step
from lakeward.aws.runtime import AwsRuntime

NAMESPACE = "Lakeward"
IDEMPOTENCY_KEY = "[source, object, window.start, window.end, mode]"


class TransientError(RuntimeError):
    """A failure worth retrying (throttling, a dropped connection); the state machine retries it by name."""


def _logger(service: str) -> Logger:
    # Connection values never reach a log line: tasks carry references and windows only.
    return Logger(service=service)


def _idempotency(expires_seconds: int) -> tuple[DynamoDBPersistenceLayer, IdempotencyConfig]:
    store = DynamoDBPersistenceLayer(table_name=os.environ["LAKEWARD_IDEMPOTENCY_TABLE"])
    config = IdempotencyConfig(event_key_jmespath=IDEMPOTENCY_KEY, raise_on_no_idempotency_key=True,
                               expires_after_seconds=expires_seconds)
    return store, config


def extract_handler(kind: str) -> Callable:
    """The handler of one API source kind: extract a window of one object into S3 landing."""
    logger, metrics = _logger(f"extract-{kind}"), Metrics(namespace=NAMESPACE, service=f"extract-{kind}")
    store, config = _idempotency(int(os.environ.get("LAKEWARD_IDEMPOTENCY_SECONDS", "3600")))

    @metrics.log_metrics
    @logger.inject_lambda_context(log_event=False)
    @idempotent(config=config, persistence_store=store)
    def handler(event: dict, context) -> dict:
        rt = AwsRuntime.from_env()
        kind_of = rt.definition().sources.get(event.get("source"))
        if kind_of is None or kind_of.kind != kind:  # type: ignore[attr-defined]
            raise run_step.TaskError(f"the {kind} function cannot extract source {event.get('source')!r}")
        logger.append_keys(source=event["source"], object=event["object"], window=event.get("window"))
        try:
            result = run_step.extract(event, rt, rt.catalog())
        except (ConnectionError, TimeoutError, requests.ConnectionError, requests.Timeout) as err:
            raise TransientError(f"{event['source']}.{event['object']}: {type(err).__name__}: {err}") from err
        metrics.add_dimension(name="Source", value=event["source"])
        metrics.add_metric(name="RowsExtracted", unit=MetricUnit.Count, value=result["rows"])
        logger.info("extracted", extra={"rows": result["rows"], "batch_id": result["batch_id"],
                                        "reused_landing": result["reused_landing"]})
        return result

    return handler


def step_handler(kind: str) -> Callable:
    """The handler of a graph step after extraction: `stage` or `quality`."""
    logger, metrics = _logger(kind), Metrics(namespace=NAMESPACE, service=kind)

    @metrics.log_metrics
    @logger.inject_lambda_context(log_event=False)
    def handler(event: dict, context) -> dict:
        from lakeward.quality.gate import QualityGateError

        rt = AwsRuntime.from_env()
        logger.append_keys(step=kind, source=event.get("source"), object=event.get("object"),
                           mart=event.get("mart"), window=event.get("window"))
        try:
            result = run_step.run(kind, event, rt, rt.catalog())
        except QualityGateError:
            metrics.add_metric(name="QualityFailures", unit=MetricUnit.Count, value=1)
            raise
        metrics.add_metric(name=f"Rows{kind.title()}", unit=MetricUnit.Count, value=result["rows_out"] or 0)
        logger.info(kind, extra=result)
        return result

    return handler


def plan_handler() -> Callable:
    logger = _logger("plan")

    @logger.inject_lambda_context(log_event=True)
    def handler(event: dict, context) -> dict:
        from datetime import datetime

        now = datetime.fromisoformat(event["now"]) if event.get("now") else None
        return run_input.plan(event.get("input") or {}, now)

    return handler


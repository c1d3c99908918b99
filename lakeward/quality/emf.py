"""Quality results as CloudWatch Embedded Metric Format lines: one metric set per table and rule, for alarms.

A Lambda or Glue job writes these to stdout; CloudWatch Logs turns them into metrics with no API call.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from lakeward.quality.store import ResultRow

NAMESPACE = "Lakeward/Quality"


def enabled() -> bool:
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or os.environ.get("GLUE_JOB_NAME")
                or os.environ.get("LAKEWARD_EMF") == "1")


def records(results: Iterable[ResultRow], now: datetime | None = None) -> list[dict]:
    stamp = int((now or datetime.now(UTC)).timestamp() * 1000)
    out = []
    for r in results:
        out.append({
            "_aws": {"Timestamp": stamp, "CloudWatchMetrics": [{
                "Namespace": NAMESPACE, "Dimensions": [["table", "rule"]],
                "Metrics": [{"Name": "RuleFailed", "Unit": "Count"}, {"Name": "RuleObserved", "Unit": "None"}],
            }]},
            "table": r.table_name, "rule": r.rule, "RuleFailed": 1 if r.fired else 0,
            "RuleObserved": r.observed if r.observed is not None else 0.0,
            "severity": r.severity, "status": r.status, "run_id": r.run_id, "message": r.message,
        })
    return out


def emit(results: Iterable[ResultRow], write: Callable[[str], object] = sys.stdout.write) -> int:
    lines = records(results)
    for line in lines:
        write(json.dumps(line, default=str) + "\n")
    return len(lines)

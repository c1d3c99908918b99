"""CloudWatch EMF lines: one metric set per table and rule, with the dimensions alarms select on."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from lakeward.quality import emf
from lakeward.quality.store import ResultRow

NOW = datetime(2026, 10, 20, 18, tzinfo=UTC)


def result(rule: str, status: str, observed: float) -> ResultRow:
    return ResultRow("run-1", "staging.postgres__orders", "b1", rule, "unique", "id", "block", status, observed,
                     None, 0.0, f"{rule} {status}", NOW, NOW)


def test_one_emf_record_per_table_and_rule():
    lines: list[str] = []
    n = emf.emit([result("unique:id", "fail", 3), result("schema", "pass", 0)], lines.append)
    assert n == 2
    records = [json.loads(line) for line in lines]
    for record in records:
        spec = record["_aws"]["CloudWatchMetrics"][0]
        assert spec["Namespace"] == "Lakeward/Quality" and spec["Dimensions"] == [["table", "rule"]]
        for metric in spec["Metrics"]:
            assert metric["Name"] in record  # every declared metric has its value in the record
        assert record["table"] == "staging.postgres__orders"
    assert [(r["rule"], r["RuleFailed"], r["RuleObserved"]) for r in records] == [("unique:id", 1, 3), ("schema", 0, 0)]


def test_emitted_only_inside_aws_or_when_asked(monkeypatch):
    for name in ("AWS_LAMBDA_FUNCTION_NAME", "GLUE_JOB_NAME", "LAKEWARD_EMF"):
        monkeypatch.delenv(name, raising=False)
    assert not emf.enabled()
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "lakeward-quality")
    assert emf.enabled()

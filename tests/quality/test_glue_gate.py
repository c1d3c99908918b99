"""The Deequ gate of the Glue jobs on local pyspark. There is no Deequ jar here, so the one call that needs it
(`run_suite`) is replaced by a stand-in that measures each compiled constraint with plain Spark and answers
in Deequ's check-result shape; which rules must fail comes from the faults each test puts in the data."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from glue_jobs import compact_events, snapshot_postgres
from lakeward.compaction.compact import EVENT_COLUMNS
from lakeward.quality.anomaly import Bounds
from lakeward.quality.deequ import Compiled, check_name
from lakeward.quality.glue_gate import DeequGateError, gate, rules_for
from lakeward.quality.rules import RuleFile, TableRules
from tests.quality import scenario
from tests.quality.test_metrics_query import STATUSES, orders_rules

ORDERS = "staging.postgres__orders"
ORDER_COLUMNS = ("id long, user_id long, status string, currency string, subtotal decimal(12,2), "
                 "shipping decimal(12,2), total_amount decimal(12,2), created_at timestamp, updated_at timestamp")
START = datetime(2026, 10, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def spark():
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[1]").appName("lakeward-deequ-gate-test")
               .config("spark.driver.host", "127.0.0.1").config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "1").config("spark.sql.session.timeZone", "UTC").getOrCreate())
    yield session
    session.stop()


def clean_orders(n: int = 60) -> list[dict]:
    rows = []
    for i in range(n):
        subtotal, shipping = Decimal(i % 40) + Decimal("0.99"), Decimal("4.99")
        at = START + timedelta(minutes=11 * i)
        rows.append({"id": i, "user_id": i % 9, "status": STATUSES[i % 6], "currency": "EUR", "subtotal": subtotal,
                     "shipping": shipping, "total_amount": subtotal + shipping, "created_at": at, "updated_at": at})
    return rows


def deequ_stand_in(calls: list):
    """What Deequ answers for a compiled suite, measured on the frame's collected rows (and a `satisfies`
    expression by Spark SQL itself); `calls` records each frame seen."""
    from collections import Counter

    def run(spark, frame, compiled: Compiled) -> list[dict]:
        data = [r.asDict() for r in frame.collect()]
        calls.append((frame.columns, len(data), [(c.rule, c.method) for c in compiled.constraints]))
        n, rows = len(data), []
        for c in compiled.constraints:
            column = c.method not in ("satisfies", "hasSize", "hasUniqueness")
            values = [r[c.args[0]] for r in data] if column else []
            if c.method == "hasSize":
                value = float(n)
            elif c.method == "hasUniqueness":
                keys = Counter(tuple(r[k] for k in c.args[0]) for r in data)
                value = sum(1 for count in keys.values() if count == 1) / n
            elif c.method in ("isComplete", "hasCompleteness"):
                value = sum(v is not None for v in values) / n
            elif c.method == "isContainedIn":
                value = sum(v is None or str(v) in c.args[1] for v in values) / n
            elif c.method in ("hasMin", "hasMax"):
                value = float((min if c.method == "hasMin" else max)(v for v in values if v is not None))
            else:
                assert c.method == "satisfies"
                value = sum(bool(r.ok) for r in frame.selectExpr(f"({c.args[0]}) AS ok").collect()) / n
            holds = c.assertion(value) if c.assertion else value == 1.0
            rows.append({"check": check_name(compiled.table, c.level), "check_level": c.level,
                         "constraint": f"{c.method}{c.args}", "constraint_status": "Success" if holds else "Failure",
                         "constraint_message": "" if holds else
                         f"Value: {value} does not meet the constraint requirement! {c.rule}"})
        # Deequ lists results check by check; the warning check first here, to show order across checks is free.
        return sorted(rows, key=lambda r: r["check_level"] != "Warning")

    return run


def frame(spark, rows: list[dict]):
    return spark.createDataFrame(rows, schema=ORDER_COLUMNS)


def test_a_clean_batch_passes_every_compiled_constraint(spark):
    calls, logged = [], []
    decision = gate(spark, frame(spark, clean_orders()), orders_rules(), run=deequ_stand_in(calls), log=logged.append)
    assert decision.blocking == [] and decision.warnings == []
    (columns, rows, constraints), = calls
    assert rows == 60 and "total_amount" in columns
    assert ("unique:id", "hasUniqueness") in constraints and ("currencies", "isContainedIn") in constraints
    # What Deequ cannot judge is said once, not silently dropped.
    assert any("references:user_id" in line and "left to lakeward" in line for line in logged)


def test_a_failed_block_rule_stops_with_its_message_and_a_warn_rule_is_only_logged(spark):
    rows = clean_orders()
    rows[7]["id"] = rows[6]["id"]  # one duplicate key: two of 60 rows are not unique
    rows[12]["currency"] = "JPY"
    logged = []
    band = {"row_count": Bounds(100.0, 200.0, "test")}  # 60 rows: below the band, a warn rule
    with pytest.raises(DeequGateError) as failed:
        gate(spark, frame(spark, rows), orders_rules(), band, run=deequ_stand_in([]), log=logged.append)
    message = str(failed.value)
    assert f"{ORDERS}: rule 'unique:id' failed in Deequ (hasUniqueness on id): Value: {58 / 60}" in message
    assert "rule 'currencies' failed in Deequ (isContainedIn on currency)" in message
    assert message.count("rule '") == 2  # nothing that holds is blamed
    warnings = [line for line in logged if line.startswith("warning: ")]
    assert warnings == [f"warning: {ORDERS}: rule 'row_count' failed in Deequ (hasSize on the row count): "
                        "Value: 60.0 does not meet the constraint requirement! row_count"]


def test_constraints_on_columns_the_frame_lacks_are_left_to_lakeward(spark):
    calls, logged = [], []
    frame_without = frame(spark, clean_orders()).drop("shipping")
    gate(spark, frame_without, orders_rules(), run=deequ_stand_in(calls), log=logged.append)
    dropped = {"not_null:shipping", "total_is_subtotal_plus_shipping"}  # the SQL rule reads shipping too
    assert not dropped & {rule for rule, _ in calls[0][2]} and ("unique:id", "hasUniqueness") in calls[0][2]
    for rule in dropped:
        assert f"{ORDERS}: rule '{rule}' is left to lakeward's gate: column shipping is not in the DataFrame" in logged


def test_the_snapshot_job_audits_the_landed_parquet_of_its_table(spark, tmp_path, monkeypatch):
    defn = scenario.write(tmp_path)
    monkeypatch.setenv("LAKEWARD_DEFINITION", str(defn.path))
    batch = tmp_path / "landing" / "postgres" / "orders" / "b1"
    batch.mkdir(parents=True)
    rows = clean_orders()
    rows[3]["total_amount"] = Decimal("-5.00")  # below the declared range, and not subtotal + shipping
    pq.write_table(pa.Table.from_pylist(rows), batch / "part-00-00000.parquet")
    (batch / "manifest.json").write_text("{}")  # beside the data, not Parquet: must not be read
    args = {"source": "postgres", "object": "orders", "LAKEWARD_LANDING_BUCKET": "landing"}
    assert snapshot_postgres.landed_files(args, {"manifest": "postgres/orders/b1/manifest.json"}) == \
        "s3://landing/postgres/orders/b1/part-*.parquet"
    with pytest.raises(DeequGateError) as failed:
        snapshot_postgres.audit_landed(spark, args, str(batch / "part-*.parquet"), run=deequ_stand_in([]),
                                       log=lambda _: None)
    assert "rule 'range:total_amount' failed in Deequ (hasMin on total_amount)" in str(failed.value)
    assert "rule 'total_is_subtotal_plus_shipping' failed" in str(failed.value)
    assert str(failed.value).count("rule '") == 2


def events(spark, duplicate: bool):
    rows = [{c: None for c in EVENT_COLUMNS} | {"event_id": f"e-{i}", "event_type": "login", "status": "loaded",
                                                 "file": "f.json", "line_number": i} for i in range(5)]
    rows.append(dict(rows[0], status="duplicate"))  # the compaction's own duplicates are not loaded
    if duplicate:
        rows[1]["event_id"] = "e-0"
    schema = ", ".join(f"{c} string" for c in EVENT_COLUMNS) + ", status string, file string, line_number long"
    return spark.createDataFrame(rows, schema=schema)


def test_the_compaction_job_does_not_reach_its_merge_when_a_block_rule_fails(spark):
    rules = TableRules(table="staging.events__app_events",
                       rules=RuleFile.model_validate({"rules": [{"kind": "unique", "columns": ["event_id"]}]}).rules)
    calls = []
    with pytest.raises(DeequGateError, match="rule 'unique:event_id' failed in Deequ"):
        compact_events.commit_checked(spark, events(spark, duplicate=True), "glue_catalog.staging.events__app_events",
                                      "0" * 20, rules, run=deequ_stand_in(calls), log=lambda _: None)
    assert calls[0][0] == list(EVENT_COLUMNS) and calls[0][1] == 5  # the loaded rows only, as the merge takes them
    # A clean batch goes on to the merge, which is what fails here (no Iceberg catalog in local Spark).
    with pytest.raises(Exception) as merged:
        compact_events.commit_checked(spark, events(spark, duplicate=False), "glue_catalog.staging.events__app_events",
                                      "0" * 20, rules, run=deequ_stand_in([]), log=lambda _: None)
    assert not isinstance(merged.value, DeequGateError) and "glue_catalog" in str(merged.value)


def test_a_job_for_an_undeclared_table_names_what_the_definition_publishes(tmp_path):
    defn = scenario.write(tmp_path)
    with pytest.raises(DeequGateError, match=r"'staging.nowhere' is not a table the definition publishes \(it "
                                             r"publishes: .*staging.postgres__orders"):
        rules_for(defn.path, "staging.nowhere")

"""The mart quality gate as the quality function runs it in AWS: the declared rules of marts.daily_revenue
(quality/marts.daily_revenue.yaml) compile into one query sent to Athena (moto), the returned row is judged
as locally, and the verdicts land in the audit tables. moto runs no SQL; here it answers each query with what
the query returns over the same Iceberg rows (the Trino text run by the local engine), so the text Athena got
is what is exercised. Expected verdicts come from the rows written below, checked by hand."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from decimal import Decimal

import boto3
import pyarrow as pa
import pytest
from moto import mock_aws
from moto.athena.models import AthenaBackend, QueryResults

from lakeward.aws import run_step
from lakeward.aws.athena_quality import AthenaQueryError, run_query
from lakeward.aws.runtime import AwsRuntime
from lakeward.home import Home
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from lakeward.quality.gate import QualityGateError
from tests.conftest import REPO

REGION = "eu-west-1"
MONEY = pa.decimal128(18, 2)
SCHEMA = pa.schema([("revenue_date", pa.date32()), ("currency", pa.string()), ("gross_amount", MONEY),
                    ("orders", pa.int64()), ("buyers", pa.int64()), ("refund_amount", MONEY), ("net_amount", MONEY)])
GOOD = [(date(2026, 10, 1), "USD", Decimal("100.00"), 2, 2, Decimal("10.00"), Decimal("90.00")),
        (date(2026, 10, 1), "EUR", Decimal("50.00"), 1, 1, Decimal("0.00"), Decimal("50.00"))]
# A currency outside [USD, EUR, GBP], and a net that is not gross less refunds: one violation of each rule.
BAD = (date(2026, 10, 2), "JPY", Decimal("30.00"), 1, 1, Decimal("0.00"), Decimal("25.00"))


@pytest.fixture
def lake(tmp_path, monkeypatch):
    """A local Iceberg catalog holding the mart, moto's Athena answering from it, the quality function's env."""
    catalog = open_catalog(Home(tmp_path / "home"))
    queries: list[str] = []
    original = AthenaBackend.start_query_execution

    def start(self, query, context, config, workgroup, execution_parameters):
        queries.append(query)
        try:
            result = engine.query(catalog, query)
        except engine.QueryError:  # the query ends FAILED, as Athena reports an error in it
            query_id = original(self, query, context, config, workgroup, execution_parameters)
            self.executions[query_id].status = "FAILED"
            return query_id
        cells = [[{"VarCharValue": name} for name in result.column_names]]
        cells += [[{} if v is None else {"VarCharValue": str(v)} for v in row.values()] for row in result.to_pylist()]
        self.query_results_queue.append(QueryResults(
            rows=[{"Data": row} for row in cells],
            column_info=[{"Name": n, "Label": n, "Type": "double"} for n in result.column_names]))
        return original(self, query, context, config, workgroup, execution_parameters)

    with mock_aws():
        monkeypatch.setattr(AthenaBackend, "start_query_execution", start)
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        monkeypatch.setenv("LAKEWARD_WORKGROUP", "lakeward-dev")
        boto3.client("athena", region_name=REGION).create_work_group(Name="lakeward-dev")
        rt = AwsRuntime("landing", "lake", REPO / "pipeline.yaml", tmp_path / "scratch")
        yield catalog, rt, queries


def publish(catalog, rows) -> None:
    table = catalog.create_table("marts.daily_revenue", schema=SCHEMA)
    table.append(pa.Table.from_pylist([dict(zip(SCHEMA.names, r, strict=True)) for r in rows], SCHEMA))


def results(catalog, run_id: str) -> dict[str, tuple[str, float | None]]:
    rows = engine.query(catalog, f"SELECT rule, status, observed FROM audit.quality_results "
                                 f"WHERE run_id = '{run_id}' AND table_name = 'marts.daily_revenue'").to_pylist()
    return {r["rule"]: (r["status"], r["observed"]) for r in rows}


def gate(rt, catalog, run_id: str) -> dict:
    return run_step.run("quality", {"mart": "daily_revenue", "run_id": run_id}, rt, catalog)


def test_a_clean_mart_passes_on_one_athena_query_over_the_mart(lake):
    catalog, rt, queries = lake
    publish(catalog, GOOD)
    outcome = gate(rt, catalog, "run-clean")
    assert outcome["rows_in"] == len(GOOD)
    assert len(queries) == 1 and '"marts"."daily_revenue"' in queries[0]
    athena = boto3.client("athena", region_name=REGION)
    (execution,) = athena.list_query_executions(WorkGroup="lakeward-dev")["QueryExecutionIds"]
    assert athena.get_query_execution(QueryExecutionId=execution)["QueryExecution"]["Query"] == queries[0]
    verdicts = results(catalog, "run-clean")
    for rule in ("net_is_gross_less_refunds", "currencies"):
        assert verdicts[rule] == ("pass", 0.0), rule
    assert {status for status, _ in verdicts.values()} <= {"pass", "learning"}


def test_violations_counted_by_athena_block_the_mart_revert_its_build_and_are_recorded(lake):
    catalog, rt, _ = lake
    publish(catalog, GOOD)
    table = catalog.load_table("marts.daily_revenue")
    before = table.current_snapshot()
    started = datetime.fromtimestamp((before.timestamp_ms + 1) / 1000, UTC)  # the marts machine starts
    time.sleep(0.01)  # its build commits after that moment, as Athena's MERGE would
    table.append(pa.Table.from_pylist([dict(zip(SCHEMA.names, r, strict=True)) for r in [BAD]], SCHEMA))
    with pytest.raises(QualityGateError) as failed:
        run_step.run("quality", {"mart": "daily_revenue", "run_id": "run-bad", "started": started.isoformat()},
                     rt, catalog)
    verdicts = results(catalog, "run-bad")
    assert verdicts["net_is_gross_less_refunds"] == ("fail", 1.0)
    assert verdicts["currencies"] == ("fail", 1.0)
    assert "currency" in str(failed.value)
    table = catalog.load_table("marts.daily_revenue")
    assert table.current_snapshot().snapshot_id == before.snapshot_id
    assert sorted(table.scan().to_arrow().column("currency").to_pylist()) == sorted(r[1] for r in GOOD)


def test_a_failed_athena_query_stops_the_gate_instead_of_judging_nothing(lake):
    with pytest.raises(AthenaQueryError, match="ended FAILED"):
        run_query(boto3.client("athena", region_name=REGION), 'SELECT count(*) AS "m0" FROM marts.nope',
                  "lakeward-dev", poll_seconds=0)

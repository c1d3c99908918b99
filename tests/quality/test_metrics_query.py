"""One metrics query per table: ten rules, one scan of the table, values equal to a plain-Python count."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyarrow as pa

from lakeward.lake import engine
from lakeward.quality.compile_metrics import compile_query, to_duckdb
from lakeward.quality.rules import RuleFile, TableRules, defaults, merge_rules
from tests.quality.scenario import ORDER_RULES

END = datetime(2026, 10, 20, 18, tzinfo=UTC)
STATUSES = ["pending", "paid", "shipped", "delivered", "cancelled", "refunded"]


def orders_rules() -> TableRules:
    declared = RuleFile.model_validate({"rules": ORDER_RULES}).rules
    rules = merge_rules(defaults(["id"], "updated_at", timedelta(days=1)), declared)
    return TableRules(table="staging.postgres__orders", rules=rules, cursor="updated_at")


def orders(n: int = 200) -> list[dict]:
    rows = []
    for i in range(n):
        created = END - timedelta(minutes=7 * i)
        subtotal = Decimal(i % 50) + Decimal("0.99")
        shipping = None if i % 41 == 0 else Decimal("4.99")
        total = subtotal + (shipping or 0) + (Decimal("1.00") if i % 37 == 0 else 0)  # some break the sum
        rows.append({
            "id": i if i % 53 else i - 1,  # a few duplicate keys
            "user_id": 10_000 + i if i % 29 == 0 else i % 20,  # a few orphans
            "status": "lost" if i % 31 == 0 else STATUSES[i % 6],
            "currency": "USD", "subtotal": subtotal, "shipping": shipping,
            "total_amount": -total if i % 43 == 0 else total,
            "created_at": created, "updated_at": created,
        })
    return rows


def test_ten_rules_scan_the_table_once_and_measure_what_python_counts():
    rules = orders_rules()
    assert len(rules.rules) == 10
    rows = orders()
    candidate = pa.Table.from_pylist(rows)
    text, metrics = compile_query(rules, "candidate", set(candidate.column_names), END)
    con = engine.duck()
    con.register("_rows", candidate)
    con.execute("CREATE TABLE candidate AS SELECT * FROM _rows")
    con.execute("CREATE SCHEMA staging")
    con.execute("CREATE TABLE staging.postgres__users AS SELECT range AS id FROM range(20)")

    plan = json.loads(con.execute("EXPLAIN (FORMAT json) " + to_duckdb(text)).fetchall()[0][1])
    scans: list[str] = []

    def walk(node: dict) -> None:
        # Stored tables only: DuckDB may materialize an intermediate result once and read it as CTE_SCAN.
        if "SCAN" in node["name"] and "Table" in node.get("extra_info", {}):
            scans.append(node["extra_info"]["Table"])
        for child in node.get("children", []):
            walk(child)

    for root in plan:
        walk(root)
    assert sorted(scans) == ["memory.main.candidate", "memory.staging.postgres__users"]

    values = dict(zip([m.name for m in metrics], con.execute(to_duckdb(text)).fetchone(), strict=True))
    ids = [r["id"] for r in rows]
    grace_from = END - timedelta(hours=1)
    orphans = [r for r in rows if r["user_id"] >= 20]
    assert values["rows"] == len(rows)
    assert values["duplicates:id"] == len(ids) - len(set(ids))
    assert values["nulls:shipping"] == sum(r["shipping"] is None for r in rows)
    assert values["violations:accepted_values:status"] == sum(r["status"] not in STATUSES for r in rows)
    assert values["violations:currencies"] == 0
    assert values["violations:range:total_amount"] == sum(r["total_amount"] < 0 for r in rows)
    assert values["violations:total_is_subtotal_plus_shipping"] == sum(
        r["shipping"] is None or r["total_amount"] != r["subtotal"] + r["shipping"] for r in rows)
    assert values["orphans:references:user_id"] == len(orphans)
    assert values["orphans_in_grace:references:user_id"] == sum(r["created_at"] >= grace_from for r in orphans)
    assert values["newest:updated_at"] == max(r["updated_at"] for r in rows).timestamp()
    assert all(values[f"nulls:{c}"] == 0 for c in ("id", "user_id", "status", "currency", "total_amount"))

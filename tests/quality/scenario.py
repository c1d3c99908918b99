"""A small marketplace pipeline with declared rules, and a fortnight of seeded days with weekly seasonality."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import yaml

from lakeward.definition import Definition
from lakeward.demo import marketplace
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from lakeward.load_definition import load_definition
from tests.conftest import REPO

D0 = datetime(2026, 10, 5, tzinfo=UTC)  # a Monday
SEED, SCALE = 5, 1.0
OPEN_HOUR, RUN_HOUR = 9, 18  # business from 09:00 UTC; every day's run ends at 18:00, after it



def pipeline(objects: tuple[str, ...] = ("users", "orders"), marts: bool = False) -> dict:
    raw = {
        "version": 1,
        "sources": {"postgres": {
            "kind": "postgres", "connection": "env:LAKEWARD_PG_DSN", "cadence": "1d",
            "initial_start": (D0 - timedelta(days=3)).isoformat(),
            "objects": {name: {"primary_key": ["id"], "cursor": "updated_at"} for name in objects},
        }},
    }
    if marts:
        raw["marts"] = {"daily_revenue": {
            "sql": str(REPO / "sql/marts/daily_revenue.sql"),
            "key": ["revenue_date", "currency"], "grain": "one row per UTC day and currency"}}
    return raw


ORDER_RULES = [
    {"kind": "schema", "required": ["id", "user_id", "status", "currency", "total_amount"]},
    {"kind": "freshness", "column": "updated_at", "sla": "6h"},
    {"kind": "row_count", "seasonality": "weekday"},
    {"kind": "references", "column": "user_id", "table": "staging.postgres__users", "grace": "1h",
     "grace_column": "created_at"},
    {"kind": "accepted_values", "column": "status",
     "values": ["pending", "paid", "shipped", "delivered", "cancelled", "refunded"]},
    {"kind": "accepted_values", "name": "currencies", "column": "currency", "values": ["USD", "EUR", "GBP"]},
    {"kind": "range", "column": "total_amount", "min": 0, "max": 100000},
    {"kind": "not_null", "column": "shipping"},
    {"kind": "sql", "name": "total_is_subtotal_plus_shipping", "expect": "total_amount = subtotal + shipping"},
]
RULES = {
    "staging.postgres__orders": ORDER_RULES,
    "staging.postgres__users": [
        # Names are optional: about 5% are missing. A batch where most are missing is broken.
        {"kind": "not_null", "column": "full_name", "max_null_rate": 0.9, "spike": True,
         "anomaly": {"floor": 0.25}},
        {"kind": "row_count", "seasonality": "weekday"},
    ],
    "staging.postgres__payments": [
        {"kind": "row_count", "seasonality": "weekday"},
        {"kind": "accepted_values", "column": "status", "values": ["succeeded", "failed"]},
    ],
}


def write(folder: Path, rules: dict | None = None, raw: dict | None = None) -> Definition:
    (folder / "quality").mkdir(exist_ok=True)
    raw = raw or pipeline()
    published = {f"staging.postgres__{o}" for o in raw["sources"]["postgres"]["objects"]} | {
        f"marts.{m}" for m in raw.get("marts", {})}
    for table, declared in (RULES if rules is None else rules).items():
        if table in published:
            (folder / "quality" / f"{table}.yaml").write_text(yaml.safe_dump({"rules": declared}, sort_keys=False))
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_definition(folder / "pipeline.yaml")


def fill_history(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        marketplace.create_schema(conn)
        marketplace.generate_history(conn, seed=SEED, scale=SCALE, start=D0 - timedelta(days=3), end=D0)


def day_end(day: int) -> datetime:
    return D0 + timedelta(days=day, hours=RUN_HOUR)


def business_hours(day: int) -> int:
    """Weekly seasonality: eight busy hours on weekdays, four on weekends."""
    return 4 if (D0 + timedelta(days=day)).weekday() >= 5 else 8


def simulate_day(dsn: str, day: int, scale: float = SCALE) -> None:
    with psycopg.connect(dsn) as conn:
        for hour in range(business_hours(day)):
            start = D0 + timedelta(days=day, hours=OPEN_HOUR + hour)
            marketplace.simulate_hour(conn, seed=SEED, scale=scale, hour_start=start)


def results(home, run_id: str) -> list[dict]:
    return engine.query(open_catalog(home), f"""
        SELECT table_name, rule, kind, column_name, severity, status, observed, lower, upper, message
        FROM audit.quality_results WHERE run_id = '{run_id}' ORDER BY table_name, rule""").to_pylist()


def fired(home, run_id: str) -> list[dict]:
    return [r for r in results(home, run_id) if r["status"] in ("warn", "fail")]

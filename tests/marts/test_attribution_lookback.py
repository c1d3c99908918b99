"""The attribution lookback at its boundary: a touch exactly the window before the order counts, one second
earlier does not; a touch at the order's instant counts, one second after it does not.

The inputs are written as Iceberg staging tables holding just these sessions and orders, so every credited
row below is worked out by hand from the rule in docs/metrics.md."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from lakeward import materialize
from lakeward.lake import engine
from lakeward.lake.catalog import ensure_table, open_catalog
from tests.conftest import REPO, write_definition

ORDER_AT = datetime(2026, 9, 20, 12, 0, tzinfo=UTC)
TS = pa.timestamp("us", tz="UTC")


SQL = REPO / "sql/marts/marketing_attribution.sql"
PARAM = re.compile(r"(\d+) AS lookback_days")


def lookback(path: Path) -> timedelta:
    """The window as configured in the mart's SQL (its `params` row)."""
    return timedelta(days=int(PARAM.search(path.read_text()).group(1)))


def write(catalog, identifier: str, rows: list[dict], schema: pa.Schema) -> None:
    table = ensure_table(catalog, identifier, schema)
    table.append(pa.Table.from_pylist(rows, schema))


@pytest.mark.parametrize("days", [None, 7], ids=["as_shipped", "set_to_7_days"])
def test_a_touch_exactly_at_the_lookback_limit_counts_and_one_second_more_does_not(tmp_path, home, days):
    sql_path = SQL
    if days is not None:  # the one place the window is configured
        sql_path = tmp_path / "marketing_attribution.sql"
        sql_path.write_text(PARAM.sub(f"{days} AS lookback_days", SQL.read_text(), count=1))
    window = lookback(sql_path)
    assert days is None or window == timedelta(days=days)
    catalog = open_catalog(home)
    touches = [  # (session, user, campaign, medium, touched at)
        ("s-edge", 1, "at_limit", "email", ORDER_AT - window),
        ("s-out", 1, "one_second_out", "social", ORDER_AT - window - timedelta(seconds=1)),
        ("s-now", 2, "same_instant", "cpc", ORDER_AT),
        ("s-after", 2, "one_second_after", "cpc", ORDER_AT + timedelta(seconds=1)),
        ("s-late", 3, "one_second_out", "social", ORDER_AT - window - timedelta(seconds=1)),
    ]
    write(catalog, "staging.events__app_events", [
        {"session_id": s, "user_id": u, "utm_campaign": c, "utm_medium": m, "occurred_at": t}
        for s, u, c, m, t in touches],
        pa.schema([("session_id", pa.string()), ("user_id", pa.int64()), ("utm_campaign", pa.string()),
                   ("utm_medium", pa.string()), ("occurred_at", TS)]))
    write(catalog, "staging.ga4__events", [], pa.schema([
        ("session_key", pa.string()), ("app_user_id", pa.int64()), ("session__campaign", pa.string()),
        ("session__medium", pa.string()), ("session__campaign_id", pa.string()), ("event_time", TS)]))
    write(catalog, "staging.postgres__orders", [
        {"id": 10 + u, "user_id": u, "created_at": ORDER_AT, "currency": "EUR"} for u in (1, 2, 3)],
        pa.schema([("id", pa.int64()), ("user_id", pa.int64()), ("created_at", TS), ("currency", pa.string())]))
    write(catalog, "staging.postgres__payments", [
        {"order_id": 10 + u, "amount": Decimal(a), "status": "succeeded"}
        for u, a in ((1, "12.34"), (2, "50.00"), (3, "7.00"))],
        pa.schema([("order_id", pa.int64()), ("amount", pa.decimal128(12, 2)), ("status", pa.string())]))
    write(catalog, "staging.salesforce__opportunity", [], pa.schema([
        ("is_won", pa.bool_()), ("is_deleted", pa.bool_()), ("currency_iso_code", pa.string()),
        ("amount", pa.float64()), ("campaign_id", pa.string())]))
    write(catalog, "marts.dim_campaign", [], pa.schema([
        ("campaign_key", pa.string()), ("utm_medium", pa.string()), ("salesforce_campaign_id", pa.string())]))

    defn = write_definition(
        tmp_path, lambda raw: raw["marts"]["marketing_attribution"].update(sql=str(sql_path)), sources=None)
    materialize.build(defn, catalog, "marketing_attribution", run_id="lookback")
    got = engine.query(catalog, """SELECT model, campaign_key, channel, credited_minor, credited_touches
        FROM marts.marketing_attribution WHERE conversion_type = 'order' AND currency = 'EUR'""").to_pylist()

    # user 1: only the touch exactly at the limit is in the window; user 2: only the one at the order's
    # instant; user 3: nothing in the window, so '(none)'.
    expected = {(model, campaign, channel): (amount, 1)
                for model in ("first_touch", "last_touch", "linear")
                for campaign, channel, amount in (("at_limit", "email", 1234), ("same_instant", "cpc", 5000),
                                                  ("(none)", "(none)", 700))}
    assert {(r["model"], r["campaign_key"], r["channel"]): (r["credited_minor"], r["credited_touches"])
            for r in got} == expected

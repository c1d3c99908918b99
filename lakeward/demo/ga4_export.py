"""The GA4 BigQuery export as files: `events_YYYYMMDD` and `events_intraday_YYYYMMDD` tables written to a
bucket folder as Parquet shards, nested and repeated fields kept, as an EXPORT DATA job to GCS/S3 leaves them.

A table is one folder (`<dataset>/events_20261001/000000000000.parquet`); re-exporting it replaces its shards,
and a daily table's arrival deletes the day's intraday folder, as GA4 does in BigQuery.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SHARD_ROWS = 100_000
DATASET = "analytics_284713950"  # BigQuery names the export dataset after the GA4 property id


def _struct(**fields: pa.DataType) -> pa.StructType:
    return pa.struct([pa.field(name, kind) for name, kind in fields.items()])


def _key_values(**extra: pa.DataType) -> pa.ListType:
    value = _struct(string_value=pa.string(), int_value=pa.int64(), float_value=pa.float64(),
                    double_value=pa.float64(), **extra)
    return pa.list_(_struct(key=pa.string(), value=value))


S, N, F = pa.string(), pa.int64(), pa.float64()  # text, integer, float
ITEM = _struct(item_id=S, item_name=S, item_brand=S, item_variant=S, item_category=S, price_in_usd=F, price=F,
               quantity=N, item_revenue_in_usd=F, item_revenue=F, coupon=S, affiliation=S, item_list_name=S,
               item_list_index=S)
CAMPAIGN = _struct(campaign_id=S, campaign_name=S, source=S, medium=S, term=S, content=S)

# The columns of the GA4 export schema this company's web stream fills (app_info, publisher: app streams only).
SCHEMA = pa.schema([
    ("event_date", S), ("event_timestamp", N), ("event_name", S), ("event_params", _key_values()),
    ("event_previous_timestamp", N), ("event_value_in_usd", F), ("event_bundle_sequence_id", N),
    ("event_server_timestamp_offset", N), ("user_id", S), ("user_pseudo_id", S),
    ("privacy_info", _struct(analytics_storage=S, ads_storage=S, uses_transient_token=S)),
    ("user_properties", _key_values(set_timestamp_micros=N)), ("user_first_touch_timestamp", N),
    ("user_ltv", _struct(revenue=F, currency=S)),
    ("device", _struct(category=S, mobile_brand_name=S, mobile_model_name=S, operating_system=S,
                       operating_system_version=S, language=S, is_limited_ad_tracking=S,
                       web_info=_struct(browser=S, browser_version=S, hostname=S))),
    ("geo", _struct(city=S, country=S, continent=S, region=S, sub_continent=S, metro=S)),
    ("traffic_source", _struct(name=S, medium=S, source=S)), ("stream_id", S), ("platform", S),
    ("ecommerce", _struct(total_item_quantity=N, purchase_revenue_in_usd=F, purchase_revenue=F,
                          shipping_value_in_usd=F, shipping_value=F, tax_value_in_usd=F, tax_value=F,
                          unique_items=N, transaction_id=S)),
    ("items", pa.list_(ITEM)),
    ("collected_traffic_source", _struct(manual_campaign_id=S, manual_campaign_name=S, manual_source=S,
                                         manual_medium=S, manual_term=S, manual_content=S, gclid=S)),
    ("is_active_user", pa.bool_()), ("batch_event_index", N), ("batch_page_id", N), ("batch_ordering_id", N),
    ("session_traffic_source_last_click", _struct(manual_campaign=CAMPAIGN)),
])


def table_name(day: date, intraday: bool) -> str:
    return f"events_{'intraday_' if intraday else ''}{day:%Y%m%d}"


def write_table(root: Path, day: date, intraday: bool, rows: list[dict]) -> Path:
    """(Re-)export one table: its shards replace the folder's previous ones in one rename."""
    folder = root / DATASET / table_name(day, intraday)
    staging = folder.with_name("." + folder.name + ".writing")  # dot-names are not listed by readers
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    for n, start in enumerate(range(0, max(table.num_rows, 1), SHARD_ROWS)):
        pq.write_table(table.slice(start, SHARD_ROWS), staging / f"{n:012d}.parquet", compression="snappy")
    old = folder.with_name("." + folder.name + ".old")
    if folder.exists():
        folder.rename(old)
    staging.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def drop_table(root: Path, day: date, intraday: bool) -> bool:
    folder = root / DATASET / table_name(day, intraday)
    if not folder.exists():
        return False
    shutil.rmtree(folder)
    return True

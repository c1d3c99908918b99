"""Salesforce extraction (REST and Bulk API 2.0 -> landing Parquet) against the emulator's own serving speed.

The ceiling is a plain HTTP client paging the same queryAll through nextRecordsUrl and throwing the JSON
away: no connector can read the emulator faster. Lakeward reads the same window with its REST path
(keyset chunks, typed through describe()) and its Bulk path (one job, CSV pages), writes zstd Parquet and
checksums it. Ratios are lakeward rows/s over ceiling rows/s, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import requests

from lakeward.definition import Limits, ObjectSpec, SalesforceSource
from lakeward.demo.salesforce_world import SECRET_VARIABLE
from lakeward.emulators.salesforce_api import SalesforceEmulator
from lakeward.emulators.salesforce_org import Org, record_id
from lakeward.lake import landing
from lakeward.sources import extract_salesforce
from lakeward.sources.target import Target

T0 = datetime(2026, 10, 1, tzinfo=UTC)
STAGES = ("Prospecting", "Qualification", "Closed Won", "Closed Lost")


def fill(org: Org, rows: int) -> None:
    for n in range(1, rows + 1):
        at = T0 + timedelta(seconds=n // 5)  # five records per SystemModstamp, like bulk updates
        stage = STAGES[n % 4]
        org.put("Opportunity", {
            "Id": record_id("Opportunity", n), "CreatedDate": at, "LastModifiedDate": at, "SystemModstamp": at,
            "IsDeleted": n % 50 == 0, "AccountId": record_id("Account", n % 997), "Name": f"Deal {n}",
            "StageName": stage, "Amount": Decimal(n % 90_000) / 4, "Probability": 10 * (n % 10),
            "CloseDate": at.date(), "IsClosed": stage.startswith("Closed"), "IsWon": stage == "Closed Won",
            "CurrencyIsoCode": ("USD", "EUR", "GBP")[n % 3], "OwnerId": record_id("User", 1 + n % 6)})


def ceiling(emulator: SalesforceEmulator, token: str, soql: str) -> tuple[float, int]:
    session, rows = requests.Session(), 0
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    page = session.get(f"{emulator.url}/services/data/v62.0/queryAll/", params={"q": soql}, headers=headers).json()
    rows += len(page["records"])
    while not page["done"]:
        page = session.get(emulator.url + page["nextRecordsUrl"], headers=headers).json()
        rows += len(page["records"])
    return time.perf_counter() - started, rows


def lakeward_extract(target: Target, window: landing.Window, root: Path, chunk_rows: int) -> tuple[float, int, str]:
    started = time.perf_counter()
    writer = landing.BatchWriter(root, "salesforce", "opportunity", window).begin()
    schema, stats = extract_salesforce.extract(target, window, writer, Limits(chunk_rows=chunk_rows, concurrency=1))
    manifest = writer.commit(schema, stats)
    elapsed = time.perf_counter() - started
    shutil.rmtree(root, ignore_errors=True)
    return elapsed, manifest.row_count, stats["transport"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunk-rows", type=int, default=10_000)
    args = parser.parse_args()

    org = Org()
    fill(org, args.rows)
    emulator = SalesforceEmulator(org, client_id="bench", client_secret="bench-secret").start()
    os.environ[SECRET_VARIABLE] = json.dumps(
        {"instance_url": emulator.url, "client_id": "bench", "client_secret": "bench-secret"})
    token = requests.post(f"{emulator.url}/services/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": "bench", "client_secret": "bench-secret"}).json()
    window = landing.Window(T0, T0 + timedelta(days=30))
    fields = ", ".join(org.fields["Opportunity"])
    soql = (f"SELECT {fields} FROM Opportunity WHERE SystemModstamp >= {extract_salesforce.soql_time(window.start)}"
            f" AND SystemModstamp < {extract_salesforce.soql_time(window.end)}")
    spec = ObjectSpec(primary_key=["id"], cursor="system_modstamp")
    results: dict[str, list[float]] = {"ceiling": [], "rest": [], "bulk": []}
    try:
        for _ in range(args.repeat):
            seconds, rows = ceiling(emulator, token["access_token"], soql)
            assert rows == args.rows, rows
            results["ceiling"].append(seconds)
            for threshold in (args.rows + 1, 1):  # REST, then Bulk API 2.0
                source = SalesforceSource(kind="salesforce", connection=f"env:{SECRET_VARIABLE}", cadence="4h",
                                          bulk_threshold=threshold, bulk_poll=timedelta(seconds=0.05),
                                          objects={"opportunity": spec})
                target = Target("salesforce", source, "opportunity", spec, "bench")
                seconds, rows, transport = lakeward_extract(target, window, Path(tempfile.mkdtemp()), args.chunk_rows)
                assert rows == args.rows, (transport, rows)
                results[transport].append(seconds)
    finally:
        emulator.stop()
    best = {k: args.rows / statistics.median(v) for k, v in results.items()}
    print(f"Salesforce emulator, {args.rows:,} Opportunity records, median of {args.repeat}:")
    print(f"plain HTTP paging (ceiling), JSON discarded: {best['ceiling']:>10,.0f} rows/s")
    print(f"lakeward REST -> landing Parquet:           {best['rest']:>10,.0f} rows/s  "
          f"ratio {best['rest'] / best['ceiling']:.2f}")
    print(f"lakeward Bulk API 2.0 -> landing Parquet:   {best['bulk']:>10,.0f} rows/s  "
          f"ratio {best['bulk'] / best['ceiling']:.2f}")


if __name__ == "__main__":
    main()

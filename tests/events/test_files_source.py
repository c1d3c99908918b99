"""The generic `files` kind on CSV and Parquet: contract checks that name the file and column, incremental
reading by file (a rewritten file is read again, a seen one is not), replay of a window, and S3 via moto."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto.server import ThreadedMotoServer

from lakeward import runner
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from tests.conftest import warehouse_fingerprint
from tests.events.conftest import events_definition

DAY1 = datetime(2026, 11, 2, tzinfo=UTC)
COLUMNS = {"sku": {"type": "string", "required": True}, "qty": {"type": "int64", "required": True},
           "updated_at": {"type": "timestamp", "required": True}, "note": "string"}


def _definition(folder: Path, fmt: str = "csv"):
    def add_stock(raw: dict) -> None:
        raw["sources"] = {"shop": {
            "kind": "files", "connection": "env:LAKEWARD_SHOP_FILES", "cadence": "1d",
            "initial_start": DAY1.isoformat(),
            "objects": {"stock": {
                "primary_key": ["sku"], "cursor": "updated_at", "lookback": "2d", "prefix": "stock",
                "pattern": f"dt=%Y-%m-%d/*.{fmt}", "format": fmt, "columns": COLUMNS}}}}

    return events_definition(folder, add_stock)


def _write_csv(root: Path, day: datetime, name: str, rows: list[dict]) -> Path:
    folder = root / "stock" / f"dt={day:%Y-%m-%d}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _stock(home) -> dict[str, tuple]:
    con = engine.connect(open_catalog(home), ["staging.shop__stock"])
    return {r[0]: r[1:] for r in con.execute("SELECT sku, qty, note FROM staging.shop__stock").fetchall()}


@pytest.fixture
def shop_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    monkeypatch.setenv("LAKEWARD_SHOP_FILES", root.as_uri())
    return root


def test_csv_files_load_incrementally_by_file(tmp_path, home, shop_root):
    defn = _definition(tmp_path)
    _write_csv(shop_root, DAY1, "a.csv", [{"sku": "A", "qty": 3, "updated_at": "2026-11-02T08:00:00Z", "note": ""},
                                          {"sku": "B", "qty": 5, "updated_at": "2026-11-02T09:00:00Z", "note": "x"}])
    assert runner.run(defn, home, end=DAY1 + timedelta(days=1), triggered_by="test").ok
    assert _stock(home) == {"A": (3, None), "B": (5, "x")}
    before = warehouse_fingerprint(home)
    assert runner.run(defn, home, start=DAY1, end=DAY1 + timedelta(days=1), reextract=True,
                      triggered_by="test").ok
    assert warehouse_fingerprint(home) == before

    # Day 2: a new file, and day 1's file rewritten late; the 2-day lookback sees both, reads only those.
    _write_csv(shop_root, DAY1 + timedelta(days=1), "b.csv",
               [{"sku": "C", "qty": 1, "updated_at": "2026-11-03T10:00:00Z", "note": ""}])
    _write_csv(shop_root, DAY1, "late.csv", [{"sku": "A", "qty": 4, "updated_at": "2026-11-03T11:00:00Z",
                                             "note": "recount"}])
    result = runner.run(defn, home, end=DAY1 + timedelta(days=2), triggered_by="test")
    assert result.ok, result.failed()
    details = result.results["extract:shop.stock"].outcome.details
    assert (details["files"], details["files_already_processed"]) == (2, 1)
    assert _stock(home) == {"A": (4, "recount"), "B": (5, "x"), "C": (1, None)}


@pytest.mark.parametrize(("fmt", "bad", "column", "problem"), [
    ("csv", {"sku": "Z", "qty": "lots", "updated_at": "2026-11-02T08:00:00Z", "note": ""}, "qty", "int64"),
    ("csv", {"sku": "Z", "qty": 1, "note": ""}, "updated_at", "required by the contract but missing"),
    ("parquet", {"sku": "Z", "qty": "7", "updated_at": datetime(2026, 11, 2, 8, tzinfo=UTC), "note": 1.5},
     "qty", "declared int64, found string"),
])
def test_a_file_breaking_the_contract_fails_the_batch_by_name(tmp_path, home, shop_root, fmt, bad, column,
                                                              problem):
    defn = _definition(tmp_path, fmt)
    good = {"sku": "A", "qty": 3, "updated_at": "2026-11-02T08:00:00Z", "note": "ok"}
    if fmt == "csv":
        _write_csv(shop_root, DAY1, "good.csv", [good])
        _write_csv(shop_root, DAY1, "bad.csv", [bad])
    else:
        folder = shop_root / "stock" / f"dt={DAY1:%Y-%m-%d}"
        folder.mkdir(parents=True)
        good["updated_at"] = datetime(2026, 11, 2, 8, tzinfo=UTC)
        pq.write_table(pa.Table.from_pylist([good]), folder / "good.parquet")
        pq.write_table(pa.Table.from_pylist([bad]), folder / "bad.parquet")
    result = runner.run(defn, home, end=DAY1 + timedelta(days=1), triggered_by="test")
    failed = result.failed()
    assert [f.step.id for f in failed] == ["extract:shop.stock"]
    message = failed[0].error
    assert f"stock/dt=2026-11-02/bad.{fmt}" in message and f"column '{column}'" in message and problem in message
    assert message.count("\n") == 0
    assert "staging.shop__stock" not in warehouse_fingerprint(home)  # nothing of the batch was staged


def test_files_on_s3_are_read_with_their_etags(tmp_path, home, monkeypatch):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{server._server.server_port}"
        for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                            "AWS_REGION": "us-east-1", "LAKEWARD_SHOP_FILES": "s3://shop-drop/exports"}.items():
            monkeypatch.setenv(name, value)
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="shop-drop")
        body = b"sku,qty,updated_at,note\nA,3,2026-11-02T08:00:00Z,\nB,5,2026-11-02T09:00:00Z,s3\n"
        s3.put_object(Bucket="shop-drop", Key="exports/stock/dt=2026-11-02/a.csv", Body=body)
        s3.put_object(Bucket="shop-drop", Key="exports/stock/dt=2026-11-09/later.csv", Body=body)
        defn = _definition(tmp_path)
        result = runner.run(defn, home, end=DAY1 + timedelta(days=1), triggered_by="test")
        assert result.ok, result.failed()
        assert _stock(home) == {"A": (3, None), "B": (5, "s3")}
        listed = (home.landing / "shop" / "stock").glob("*/source_files.json")
        etag = s3.head_object(Bucket="shop-drop", Key="exports/stock/dt=2026-11-02/a.csv")["ETag"].strip('"')
        assert [etag] == [f.read_text().split('"etag": "')[1].split('"')[0] for f in listed]
    finally:
        server.stop()

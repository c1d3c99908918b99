"""Paging and transports: shared SystemModstamps across page and chunk boundaries, REST versus Bulk API 2.0."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lakeward.home import Home
from lakeward.lake.catalog import load_table, open_catalog
from lakeward.runner import run
from tests.conftest import NIGHT
from tests.salesforce.conftest import OBJECTS, T0, sf_definition, synthetic_customers


def test_500_records_sharing_one_systemmodstamp_across_page_boundaries_all_arrive(tmp_path, home, salesforce):
    org, world = salesforce.org, salesforce.world
    stamp = T0 - timedelta(hours=5)
    for n in range(1, 521):  # 500 touched by one bulk update, then 20 a second later
        at = stamp if n <= 500 else stamp + timedelta(seconds=1)
        org.put("Account", world.new_record("Account", at) | {"Name": f"Bulk {n}", "Type": "Customer"})
    defn = sf_definition(tmp_path, objects=("account",))  # pages of 50 records, keyset chunks of 120
    result = run(defn, home, end=T0, now=NIGHT)
    assert result.ok, [r.error for r in result.failed()]
    extract = result.results["extract:salesforce.account"].outcome
    assert extract.rows_out == 520 and extract.details["transport"] == "rest"
    assert salesforce.emulator.calls["query_more"] >= 500 // 50 - 5  # nextRecordsUrl pages inside each chunk
    assert salesforce.emulator.calls["query"] == 1 + 5  # the count, then chunks of 120, 120, 120, 120, 40
    staged = load_table(open_catalog(home), "staging.salesforce__account").scan().to_arrow()
    assert sorted(staged["id"].to_pylist()) == sorted(org.records["Account"])


@pytest.fixture
def history(salesforce):
    people = synthetic_customers(25, T0 - timedelta(days=3))
    salesforce.world.generate(people, T0 - timedelta(days=2), T0)
    return salesforce


def test_rest_and_bulk_land_identical_staging_rows(tmp_path, home, history):
    assert history.world.ids("Lead", deleted=True)  # deleted records travel both ways too
    rest_defn = sf_definition(tmp_path / "rest", bulk_threshold=1_000_000)
    bulk_defn = sf_definition(tmp_path / "bulk", bulk_threshold=1, limits={"chunk_rows": 40, "concurrency": 2})
    bulk_home = Home(tmp_path / "bulk-home").ensure()
    rest = run(rest_defn, home, end=T0, now=NIGHT)
    bulk = run(bulk_defn, bulk_home, end=T0, now=NIGHT)
    assert rest.ok and bulk.ok, [r.error for r in rest.failed() + bulk.failed()]
    assert history.emulator.calls["bulk_results"] > len(OBJECTS)  # Sforce-Locator pages of 40 rows
    for obj in OBJECTS:
        assert rest.results[f"extract:salesforce.{obj}"].outcome.details["transport"] == "rest"
        assert bulk.results[f"extract:salesforce.{obj}"].outcome.details["transport"] == "bulk"
        tables = [load_table(open_catalog(h), f"staging.salesforce__{obj}").scan().to_arrow().sort_by("id")
                  for h in (home, bulk_home)]
        assert tables[0].num_rows > 0 and tables[0].equals(tables[1]), obj

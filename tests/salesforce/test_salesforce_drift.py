"""describe() on every run: added fields evolve staging, removed ones turn null, a type change refuses the batch."""

from __future__ import annotations

import logging
from datetime import timedelta

from lakeward import watermark
from lakeward.lake.catalog import load_table, open_catalog
from lakeward.runner import run
from tests.conftest import NIGHT, warehouse_fingerprint
from tests.salesforce.conftest import T0, sf_definition, staging, synthetic_customers


def touch(org, sobject: str, ids: list[str], at, **values) -> None:
    for rid in ids:
        org.change(sobject, rid, at, **values)


def test_schema_drift_added_removed_and_changed_fields(tmp_path, home, salesforce, caplog):
    org, world = salesforce.org, salesforce.world
    world.generate(synthetic_customers(10, T0 - timedelta(days=2)), T0 - timedelta(days=1), T0)
    defn = sf_definition(tmp_path, ("lead",))
    assert run(defn, home, end=T0, now=NIGHT).ok
    leads = sorted(world.ids("Lead", deleted=False))[:4]

    org.add_field("Lead", "Lead_Score__c", "int")
    touch(org, "Lead", leads, T0 + timedelta(minutes=5), Lead_Score__c=42)
    added = run(defn, home, end=T0 + timedelta(hours=1), now=NIGHT)
    assert added.ok
    assert added.results["extract:salesforce.lead"].outcome.details["drift"] == {"added": ["Lead_Score__c"]}
    assert added.results["stage:salesforce.lead"].outcome.details["columns_added"] == ["lead_score__c"]
    scored = staging(home, "lead", "id, lead_score__c", "lead_score__c IS NOT NULL").to_pylist()
    assert {r["id"]: r["lead_score__c"] for r in scored} == dict.fromkeys(leads, 42)

    org.remove_field("Lead", "Rating")
    touch(org, "Lead", leads[:2], T0 + timedelta(hours=1, minutes=5))
    with caplog.at_level(logging.WARNING, logger="lakeward.sources.salesforce_drift"):
        removed = run(defn, home, end=T0 + timedelta(hours=2), now=NIGHT)
    assert removed.ok
    assert removed.results["extract:salesforce.lead"].outcome.details["drift"] == {"removed": ["Rating"]}
    assert "Salesforce Lead.Rating was removed" in caplog.text
    rated = staging(home, "lead", "id, rating").to_pylist()
    assert {r["id"] for r in rated if r["rating"] is None} == set(leads[:2])
    assert all(r["rating"] is not None for r in rated if r["id"] not in leads[:2])

    before = warehouse_fingerprint(home)
    mark = watermark.read(load_table(open_catalog(home), "staging.salesforce__lead"))
    org.change_type("Lead", "ConvertedDate", "string", convert=lambda d: d.strftime("%d/%m/%Y"))
    touch(org, "Lead", leads[:1], T0 + timedelta(hours=2, minutes=5))
    changed = run(defn, home, end=T0 + timedelta(hours=3), now=NIGHT)
    error = changed.results["extract:salesforce.lead"].error
    assert error is not None and "Salesforce Lead.ConvertedDate changed type from date to string" in error
    assert changed.results["stage:salesforce.lead"].status == "skipped"
    assert warehouse_fingerprint(home) == before
    assert watermark.read(load_table(open_catalog(home), "staging.salesforce__lead")) == mark
    again = run(defn, home, end=T0 + timedelta(hours=4), now=NIGHT)  # refused again until someone acts
    assert "changed type from date to string" in (again.results["extract:salesforce.lead"].error or "")

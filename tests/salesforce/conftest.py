"""An emulated Salesforce org on real HTTP, its generator, and a definition that reads only it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from lakeward.definition import Definition
from lakeward.demo.salesforce_world import SECRET_VARIABLE, Customer, SalesforceWorld
from lakeward.emulators.salesforce_api import SalesforceEmulator
from lakeward.emulators.salesforce_org import Org
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from tests.conftest import write_definition

T0 = datetime(2026, 10, 1, tzinfo=UTC)
OBJECTS = {"account": "Account", "contact": "Contact", "lead": "Lead", "opportunity": "Opportunity",
           "opportunity_line_item": "OpportunityLineItem", "campaign": "Campaign",
           "campaign_member": "CampaignMember", "user": "User"}


@dataclass
class Salesforce:
    org: Org
    world: SalesforceWorld
    emulator: SalesforceEmulator


def synthetic_customers(n: int, since: datetime) -> list[Customer]:
    """Customers as identities.STRIPE_CUSTOMERS_SQL returns them, without the marketplace behind them."""
    return [(uid, f"user{uid}@example.com", f"Customer {uid}", ("US", "GB", "DE")[uid % 3],
             since + timedelta(minutes=7 * uid)) for uid in range(1, n + 1)]


@pytest.fixture
def salesforce(monkeypatch):
    org = Org()
    emulator = SalesforceEmulator(org, client_id="etl", client_secret="s3cr3t-value", page_size=50).start()
    monkeypatch.setenv(SECRET_VARIABLE, json.dumps(
        {"instance_url": emulator.url, "client_id": "etl", "client_secret": "s3cr3t-value"}))
    yield Salesforce(org, SalesforceWorld(org, seed=7, scale=1.0), emulator)
    emulator.stop()


def sf_definition(folder, objects: tuple[str, ...] | None = None, edit=None, **source) -> Definition:
    """Only the salesforce source (no marts) and its `objects` (None: all), fast retries and polls,
    with `source` keys overridden, then `edit(raw)` if given."""
    def only_salesforce(raw):
        raw["marts"] = {}
        if objects:
            raw["sources"]["salesforce"]["objects"] = {
                name: spec for name, spec in raw["sources"]["salesforce"]["objects"].items() if name in objects}
        raw["sources"]["salesforce"].update(
            {"retry": {"attempts": 8, "base_delay": 0.005, "max_delay": 0.05}, "bulk_poll": 0.01,
             "limits": {"chunk_rows": 120, "concurrency": 2}} | source)
        if edit:
            edit(raw)
    folder.mkdir(parents=True, exist_ok=True)
    return write_definition(folder, only_salesforce, sources=("salesforce",))


def staging(home, obj: str, columns: str = "*", where: str = "true"):
    return engine.query(open_catalog(home), f"SELECT {columns} FROM staging.salesforce__{obj} WHERE {where}")


def staged_ids(home, obj: str, deleted: bool) -> set[str]:
    rows = staging(home, obj, "id", f"is_deleted = {str(deleted).lower()}")
    return set(rows["id"].to_pylist())

"""Throttling, server errors, outages and bad credentials: complete with correct data, or fail clearly."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lakeward import watermark
from lakeward.demo.salesforce_world import SECRET_VARIABLE
from lakeward.emulators.server import Faults
from lakeward.lake.catalog import load_table, open_catalog
from lakeward.runner import run
from lakeward.sources.salesforce_client import Client
from tests.conftest import NIGHT, warehouse_fingerprint
from tests.salesforce.conftest import T0, sf_definition, staged_ids, synthetic_customers

OBJECTS = ("account", "lead", "opportunity")
PATIENT = {"attempts": 16, "base_delay": 0.002, "max_delay": 0.02}


@pytest.mark.parametrize("throttle_status", [429, 403])  # 403 REQUEST_LIMIT_EXCEEDED is Salesforce's own
def test_a_throttling_storm_plus_20_percent_5xx_completes_with_correct_data(tmp_path, home, salesforce,
                                                                             throttle_status):
    world, emulator = salesforce.world, salesforce.emulator
    world.generate(synthetic_customers(20, T0 - timedelta(days=2)), T0 - timedelta(days=1), T0)
    emulator.throttle_status = throttle_status
    emulator.faults = Faults(storm=0.25, server_errors=0.2, seed=5)
    for bulk_threshold in (1_000_000, 1):  # REST, then Bulk API 2.0 over the same window
        defn = sf_definition(tmp_path / str(bulk_threshold), OBJECTS, retry=PATIENT, bulk_threshold=bulk_threshold)
        result = run(defn, home, start=T0 - timedelta(days=1), end=T0, reextract=True, now=NIGHT)
        assert result.ok, [r.error for r in result.failed()]
        assert sum(result.results[f"extract:salesforce.{o}"].outcome.details["retries"] for o in OBJECTS) > 0
    for obj, sobject in (("account", "Account"), ("lead", "Lead"), ("opportunity", "Opportunity")):
        assert staged_ids(home, obj, deleted=False) == world.ids(sobject, deleted=False)
        assert staged_ids(home, obj, deleted=True) == world.ids(sobject, deleted=True)


def test_a_total_outage_fails_clearly_and_changes_nothing(tmp_path, home, salesforce):
    world, emulator = salesforce.world, salesforce.emulator
    people = synthetic_customers(10, T0 - timedelta(days=2))
    world.generate(people, T0 - timedelta(days=1), T0)
    defn = sf_definition(tmp_path, OBJECTS, retry={"attempts": 3, "base_delay": 0.002, "max_delay": 0.01})
    assert run(defn, home, end=T0, now=NIGHT).ok
    before = warehouse_fingerprint(home)
    for hour in range(3):
        world.hour(people, T0 + timedelta(hours=hour))
    emulator.faults = Faults(outage=True)
    result = run(defn, home, end=T0 + timedelta(hours=3), now=NIGHT)
    assert not result.ok
    failed = {r.step.id: r.error for r in result.failed()}
    assert set(failed) == {f"extract:salesforce.{o}" for o in OBJECTS}
    assert "ExtractError: Salesforce Lead: extraction failed: Salesforce Lead describe: gave up after 3 attempt(s)" \
        in failed["extract:salesforce.lead"]
    assert "503" in failed["extract:salesforce.lead"]
    assert all(result.results[f"stage:salesforce.{o}"].status == "skipped" for o in OBJECTS)
    catalog = open_catalog(home)
    assert {watermark.read(load_table(catalog, f"staging.salesforce__{o}")) for o in OBJECTS} == {T0}
    assert warehouse_fingerprint(home) == before

    emulator.faults = Faults()  # the org is back: the next run catches up from the unmoved watermark
    assert run(defn, home, end=T0 + timedelta(hours=3), now=NIGHT).ok
    assert staged_ids(home, "lead", deleted=False) == world.ids("Lead", deleted=False)


@pytest.mark.parametrize("secret, expected", [
    ("not json at all", "connection 'env:LAKEWARD_SALESFORCE_SECRET' is not a JSON object"),
    ('{"instance_url": "URL", "client_id": "etl"}', "connection 'env:LAKEWARD_SALESFORCE_SECRET' lacks client_secret"),
    ('{"instance_url": "URL", "client_id": "etl", "client_secret": "wrong-guess"}',
     "login with connection 'env:LAKEWARD_SALESFORCE_SECRET' was refused (HTTP 400 invalid_client)"),
])
def test_bad_credentials_fail_with_one_message_and_no_secret(tmp_path, home, salesforce, monkeypatch,
                                                            secret, expected):
    monkeypatch.setenv(SECRET_VARIABLE, secret.replace("URL", salesforce.emulator.url))
    result = run(sf_definition(tmp_path, ("user",)), home, end=T0, now=NIGHT)
    error = result.results["extract:salesforce.user"].error
    assert error is not None and expected in error and "sources.salesforce.connection" in error
    assert all(value not in error for value in ("wrong-guess", "s3cr3t-value", "not json at all"))


def test_an_expired_session_logs_in_again(tmp_path, salesforce):
    source = sf_definition(tmp_path, ("user",)).sources["salesforce"]
    client = Client(source, "sources.salesforce.connection")
    assert client.describe("User")["name"] == "User"
    salesforce.emulator.expire_sessions()  # the next call gets 401 INVALID_SESSION_ID
    assert client.count("SELECT count() FROM User", "User") == 0
    assert client.retries == 1 and salesforce.emulator.calls == {"describe": 1, "query": 1}

"""Salesforce end to end over real HTTP: the emulator, simple-salesforce, the runner, real Iceberg files."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import psycopg

from lakeward import watermark
from lakeward.demo import identities
from lakeward.demo.campaigns import CAMPAIGNS
from lakeward.demo.salesforce_world import customers
from lakeward.lake import engine
from lakeward.lake.catalog import load_table, open_catalog
from lakeward.runner import run
from tests.conftest import NIGHT, warehouse_fingerprint
from tests.salesforce.conftest import OBJECTS, T0, sf_definition, staged_ids, staging, synthetic_customers


def versions_in_org(org, sobject: str) -> set[tuple[str, object]]:
    return {(r["Id"], r["SystemModstamp"]) for r in org.rows(sobject)}


def versions_in_staging(home, obj: str) -> set[tuple[str, object]]:
    rows = staging(home, obj, "id, system_modstamp").to_pylist()
    return {(r["id"], r["system_modstamp"]) for r in rows}


def test_initial_load_then_incremental_runs_over_simulated_days(tmp_path, marketplace_db, home, salesforce):
    """Accounts come from the marketplace's Stripe customers; every 4h run keeps staging equal to the org."""
    world, org = salesforce.world, salesforce.org
    start = T0 - timedelta(days=2)
    world.generate(customers(marketplace_db, T0), start, T0)
    defn = sf_definition(tmp_path)
    first = run(defn, home, end=T0, now=NIGHT)
    assert first.ok, [r.error for r in first.failed()]
    for obj, sobject in OBJECTS.items():
        assert versions_in_staging(home, obj) == versions_in_org(org, sobject), obj

    for hour in range(48):  # two days, loaded twice a day
        at = T0 + timedelta(hours=hour)
        world.hour(customers(marketplace_db, at + timedelta(hours=1)), at)
        if (hour + 1) % 12 == 0:
            assert run(defn, home, end=at + timedelta(hours=1), now=NIGHT).ok
    end = T0 + timedelta(hours=48)
    for obj, sobject in OBJECTS.items():
        assert versions_in_staging(home, obj) == versions_in_org(org, sobject), obj
        assert staged_ids(home, obj, deleted=False) == world.ids(sobject, deleted=False), obj
        assert staged_ids(home, obj, deleted=True) == world.ids(sobject, deleted=True), obj
        assert watermark.read(load_table(open_catalog(home), f"staging.salesforce__{obj}")) == end
    assert world.ids("Lead", deleted=True) and world.ids("Opportunity", deleted=False)

    # The same customers as the marketplace: the Account carries the Stripe customer and app user ids.
    with psycopg.connect(marketplace_db) as conn:
        users = [r[0] for r in conn.execute(identities.STRIPE_CUSTOMERS_SQL, {"as_of": end}).fetchall()]
    accounts = staging(home, "account", "id, stripe_customer_id__c, app_user_id__c").to_pylist()
    assert sorted((a["id"], a["stripe_customer_id__c"], a["app_user_id__c"]) for a in accounts) == sorted(
        (identities.salesforce_account_id(u), identities.stripe_customer_id(u), u) for u in users)
    campaigns = staging(home, "campaign", "id, utm_campaign__c").to_pylist()
    expected = {(c.salesforce_id, c.utm_campaign) for c in CAMPAIGNS}
    assert {(c["id"], c["utm_campaign__c"]) for c in campaigns} == expected

    won = engine.query(open_catalog(home), """
        SELECT campaign_id, sum(amount) AS amount FROM staging.salesforce__opportunity
        WHERE is_won AND NOT is_deleted GROUP BY campaign_id""").to_pylist()
    truth = world.closed_won_by_campaign()
    assert truth and {r["campaign_id"]: r["amount"] for r in won} == truth
    assert all(isinstance(v, Decimal) for v in truth.values())


def test_deleted_records_are_flagged_with_when(tmp_path, home, salesforce):
    world, org = salesforce.world, salesforce.org
    world.generate(synthetic_customers(12, T0 - timedelta(days=2)), T0 - timedelta(days=1), T0)
    defn = sf_definition(tmp_path, objects=("lead",))
    assert run(defn, home, end=T0, now=NIGHT).ok
    doomed = sorted(world.ids("Lead", deleted=False))[:5]
    gone_at = T0 + timedelta(minutes=10)
    for lead in doomed:
        org.delete("Lead", lead, gone_at)
    assert run(defn, home, end=T0 + timedelta(hours=1), now=NIGHT).ok
    rows = staging(home, "lead", "id, is_deleted, deleted_at", "is_deleted").to_pylist()
    flagged = {r["id"]: r["deleted_at"] for r in rows}
    assert {k: v for k, v in flagged.items() if k in doomed} == dict.fromkeys(doomed, gone_at)
    assert set(flagged) == world.ids("Lead", deleted=True)
    live = staging(home, "lead", "count(*) AS n, count(deleted_at) AS stamped", "NOT is_deleted").to_pylist()
    assert live == [{"n": len(world.ids("Lead", deleted=False)), "stamped": 0}]


def test_rerunning_any_window_leaves_staging_unchanged(tmp_path, home, salesforce):
    world = salesforce.world
    people = synthetic_customers(15, T0 - timedelta(days=2))
    world.generate(people, T0 - timedelta(days=1), T0)
    defn = sf_definition(tmp_path, objects=("lead", "opportunity", "campaign_member"))
    assert run(defn, home, end=T0, now=NIGHT).ok
    for hour in range(6):
        world.hour(people, T0 + timedelta(hours=hour))
    second = run(defn, home, end=T0 + timedelta(hours=6), now=NIGHT)
    assert second.ok
    before = warehouse_fingerprint(home)
    assert before["staging.salesforce__lead"][0] > 0

    window = second.results["extract:salesforce.lead"].outcome.window
    replay = run(defn, home, start=window.start, end=window.end, now=NIGHT)
    assert replay.results["extract:salesforce.lead"].outcome.details["reused_landing"] is True
    assert warehouse_fingerprint(home) == before
    again = run(defn, home, start=window.start, end=window.end, reextract=True, now=NIGHT)
    assert again.results["extract:salesforce.lead"].outcome.details["reused_landing"] is False
    assert again.results["stage:salesforce.lead"].outcome.rows_out == 0
    assert warehouse_fingerprint(home) == before
    older = run(defn, home, start=T0 - timedelta(days=1), end=T0, reextract=True, now=NIGHT)  # the first window
    assert older.ok and warehouse_fingerprint(home) == before

"""A customer deleted in Stripe after its load is flagged in staging (is_deleted, deleted_at); nothing else moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

from lakeward.demo.stripe_payloads import ts
from lakeward.demo.stripe_world import Rates, StripeWorld
from tests.conftest import warehouse_fingerprint
from tests.stripe.conftest import KEY, OCT1, mismatches, run, staging, stripe_definition

OCT2 = OCT1 + timedelta(days=1)
BOOKKEEPING = {"is_deleted", "deleted_at", "version_at", "_lw_batch_id"}


def test_deleted_customer_is_flagged_and_nothing_else_changes(account, tmp_path, home):
    defn = stripe_definition(tmp_path, objects=("customers", "charges"))
    assert run(defn, home, OCT1).ok
    before = {obj: staging(home, obj) for obj in ("customers", "charges")}
    assert before["customers"] and not any(r["is_deleted"] for r in before["customers"].values())
    gone = sorted(before["customers"])[3]
    at = OCT1 + timedelta(hours=5)
    account.world.account.delete("customers", gone, ts(at))
    account.world.account.clock = OCT2
    reply = requests.get(f"{account.api.url}/v1/customers/{gone}", headers={"Authorization": f"Bearer {KEY}"})
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "resource_missing"

    result = run(defn, home, OCT2)
    assert result.ok, [r.error for r in result.failed()]
    assert result.results["extract:stripe.customers"].outcome.details["deleted"] == 1
    after = {obj: staging(home, obj) for obj in ("customers", "charges")}
    row = after["customers"][gone]
    assert row["is_deleted"] is True and row["deleted_at"] == at
    assert {k: v for k, v in row.items() if k not in BOOKKEEPING} == \
        {k: v for k, v in before["customers"][gone].items() if k not in BOOKKEEPING}
    assert {i: r for i, r in after["customers"].items() if i != gone} == \
        {i: r for i, r in before["customers"].items() if i != gone}
    assert after["charges"] == before["charges"]
    assert mismatches(home, account.world, "charges") == []

    # The same window read again from Stripe leaves the flag (and everything else) as it is.
    settled = warehouse_fingerprint(home)
    assert run(defn, home, OCT2, start=OCT1, reextract=True).ok
    assert warehouse_fingerprint(home) == settled


def test_the_generator_erases_only_customers_who_never_paid(marketplace_db):
    import psycopg

    world = StripeWorld(seed=11, rates=Rates(delete_per_day=0.5))
    day = datetime(2026, 9, 1, tzinfo=UTC)
    with psycopg.connect(marketplace_db) as conn:
        while day < OCT1:
            world.advance(conn, day, day + timedelta(days=1))
            day += timedelta(days=1)
    deletions = [e for e in world.account.events if e["type"] == "customer.deleted"]
    assert deletions
    objects = world.account.objects
    for event in deletions:
        gone = event["data"]["object"]["id"]
        assert gone not in objects["customers"]
        # Erased only when nothing was ever paid or subscribed before the deletion.
        assert not [s for s in objects["subscriptions"].values() if s["customer"] == gone]
        assert not [c for c in objects["charges"].values()
                    if c["customer"] == gone and c["status"] == "succeeded" and c["created"] <= event["created"]]

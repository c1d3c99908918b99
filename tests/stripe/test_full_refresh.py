"""A subscription changed 40 days after creation, its event since aged out of Stripe's 30 days: only the
configured full refresh can see the change."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from lakeward.demo.stripe_payloads import ts
from lakeward.demo.stripe_world import Rates
from lakeward.home import Home
from tests.stripe.conftest import OCT1, run, staging, start_account, stripe_definition

QUIET = Rates(change_per_day=0, cancel_per_day=0, renewal_fails=0)  # only the change this test makes


def test_full_refresh_catches_a_change_older_than_the_events_horizon(marketplace_db, monkeypatch, tmp_path):
    sep20 = datetime(2026, 9, 20, tzinfo=UTC)
    account = start_account(marketplace_db, monkeypatch, history_end=sep20, rates=QUIET)
    try:
        world = account.world
        customer = sorted(world.current("customers"))[0]
        sub = world.subscribe(customer, ts(sep20) - 60, random.Random(1), interval="year", quantity=1)
        account.advance(sep20, OCT1, marketplace_too=False)
        plain = stripe_definition(tmp_path / "plain", lambda s: s["objects"]["subscriptions"].pop("full_refresh"),
                                  objects=("subscriptions",))
        refreshing = stripe_definition(tmp_path / "refreshing", objects=("subscriptions",))
        homes = {name: Home(tmp_path / name / "home").ensure() for name in ("plain", "refreshing")}
        for name, defn in (("plain", plain), ("refreshing", refreshing)):
            assert run(defn, homes[name], OCT1).ok
            assert staging(homes[name], "subscriptions")[sub["id"]]["quantity"] == 1

        changed_at = datetime.fromtimestamp(sub["created"], UTC) + timedelta(days=40)
        account.advance(OCT1, changed_at, marketplace_too=False)
        world.change_subscription(sub["id"], ts(changed_at), quantity=3)
        resume = changed_at + timedelta(days=35)  # the pipeline was down: the change's event is gone
        account.advance(changed_at, resume, marketplace_too=False)
        assert not [e for e in account.api.account.visible_events() if e["data"]["object"]["id"] == sub["id"]]

        for name, defn in (("plain", plain), ("refreshing", refreshing)):
            result = run(defn, homes[name], resume)
            assert result.ok, [r.error for r in result.failed()]
        assert staging(homes["plain"], "subscriptions")[sub["id"]]["quantity"] == 1  # events alone miss it
        row = staging(homes["refreshing"], "subscriptions")[sub["id"]]
        assert row["quantity"] == 3
        assert row["items"] is not None and '"quantity": 3' in row["items"]
        assert row["version_at"] == resume
        details = result.results["extract:stripe.subscriptions"].outcome.details
        assert details["full_refresh"] >= 1 and details["events_gap"] is True
    finally:
        account.api.stop()

"""Throttling, server errors and a total outage, over real HTTP against the emulator."""

from __future__ import annotations

from datetime import timedelta

from lakeward import watermark
from lakeward.emulators.server import Faults
from lakeward.lake.catalog import load_table, open_catalog
from tests.conftest import warehouse_fingerprint
from tests.stripe.conftest import KEY, OCT1, mismatches, run, start_account, stripe_definition

OBJECTS = ("customers", "charges", "refunds", "balance_transactions")


def test_429_storm_and_20_percent_5xx_still_load_exactly_the_account(marketplace_db, monkeypatch, tmp_path, home):
    faults = Faults(storm=0.15, server_errors=0.2, seed=7)
    account = start_account(marketplace_db, monkeypatch, faults=faults)
    account.api.storm_retry_after = 1
    try:
        defn = stripe_definition(tmp_path, objects=OBJECTS)
        result = run(defn, home, OCT1)
        assert result.ok, [r.error for r in result.failed()]
        for obj in OBJECTS:
            assert mismatches(home, account.world, obj) == [], obj
        retries = sum(result.results[f"extract:stripe.{o}"].outcome.details["retries"] for o in OBJECTS)
        assert retries > 0  # the faults really hit the extraction
    finally:
        account.api.stop()


def test_total_outage_fails_clearly_and_changes_nothing(marketplace_db, monkeypatch, tmp_path, home):
    account = start_account(marketplace_db, monkeypatch)
    try:
        defn = stripe_definition(tmp_path, lambda s: s.update(retry={"attempts": 3, "base_delay": 0.01}),
                                 objects=OBJECTS)
        assert run(defn, home, OCT1).ok
        before = warehouse_fingerprint(home)
        account.advance(OCT1, OCT1 + timedelta(days=1))
        account.api.faults.outage = True
        result = run(defn, home, OCT1 + timedelta(days=1))
        assert not result.ok
        errors = {r.step.id: r.error for r in result.failed()}
        assert set(errors) == {f"extract:stripe.{o}" for o in OBJECTS}
        message = errors["extract:stripe.charges"]
        assert message.startswith("ExtractError: stripe.charges: GET /v1/")
        assert "gave up after 3 attempts" in message and "HTTP 503" in message
        assert KEY not in message and KEY[-4:] not in message
        assert warehouse_fingerprint(home) == before
        catalog = open_catalog(home)
        for obj in OBJECTS:
            assert watermark.read(load_table(catalog, f"staging.stripe__{obj}")) == OCT1
        account.api.faults.outage = False  # back up: the next run catches up the whole day
        assert run(defn, home, OCT1 + timedelta(days=1)).ok
        for obj in OBJECTS:
            assert mismatches(home, account.world, obj) == [], obj
    finally:
        account.api.stop()

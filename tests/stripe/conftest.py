"""A Stripe account mirroring the seeded marketplace, served over real HTTP, and a Stripe-only definition."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from lakeward import runner
from lakeward.demo import marketplace
from lakeward.demo.stripe_world import SECRET_VARIABLE, Rates, StripeWorld
from lakeward.emulators.server import Faults, RateLimit
from lakeward.emulators.stripe_api import StripeAPI
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from tests.conftest import copy_quality_rules, write_definition

SEP1, OCT1 = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)
KEY = "sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc"


class Account:
    """The world, its emulator and the marketplace database it mirrors, moved forward together."""

    def __init__(self, dsn: str, world: StripeWorld, api: StripeAPI):
        self.dsn, self.world, self.api = dsn, world, api

    def advance(self, start: datetime, end: datetime, marketplace_too: bool = True) -> None:
        with psycopg.connect(self.dsn) as conn:
            hour = start
            while marketplace_too and hour < end:
                marketplace.simulate_hour(conn, seed=11, scale=0.1, hour_start=hour)
                hour += timedelta(hours=1)
            self.world.advance(conn, start, end)


def start_account(dsn: str, monkeypatch, history_end: datetime = OCT1, rates: Rates | None = None,
                  faults: Faults | None = None) -> Account:
    world = StripeWorld(seed=11, rates=rates or Rates())
    with psycopg.connect(dsn) as conn:
        world.advance(conn, SEP1, history_end)
    api = StripeAPI(world.account, KEY, rate_limit=RateLimit(100, 25), faults=faults).start()
    monkeypatch.setenv(SECRET_VARIABLE, json.dumps({"api_key": KEY, "api_base": api.url}))
    return Account(dsn, world, api)


@pytest.fixture
def account(marketplace_db, monkeypatch):
    acct = start_account(marketplace_db, monkeypatch)
    yield acct
    acct.api.stop()


def stripe_definition(folder, edit=None, objects: tuple[str, ...] | None = None):
    """pipeline.yaml with only its stripe source (and no marts), optionally edited and cut to `objects`."""
    def only_stripe(raw: dict) -> None:
        if objects:
            raw["sources"]["stripe"]["objects"] = {
                k: v for k, v in raw["sources"]["stripe"]["objects"].items() if k in objects}
        raw["sources"]["stripe"]["initial_start"] = "2026-08-01T00:00:00Z"
        raw["sources"]["stripe"]["retry"] = {"attempts": 8, "base_delay": 0.05, "max_delay": 1}
        raw["marts"] = {}
        if edit:
            edit(raw["sources"]["stripe"])
    folder.mkdir(parents=True, exist_ok=True)
    return copy_quality_rules(write_definition(folder, only_stripe, sources=("stripe",)))


@pytest.fixture
def stripe_defn(tmp_path):
    return stripe_definition(tmp_path)


def run(defn, home, end: datetime, **kwargs) -> runner.RunResult:
    return runner.run(defn, home, end=end, now=end, triggered_by="test", **kwargs)


def staging(home, obj: str) -> dict[str, dict]:
    """Every row of staging.stripe__<obj>, by id."""
    identifier = f"staging.stripe__{obj}"
    con = engine.connect(open_catalog(home), [identifier])
    rows = con.sql(f"SELECT * FROM {identifier}").to_arrow_table().to_pylist()
    return {r["id"]: r for r in rows}


def mismatches(home, world: StripeWorld, obj: str) -> list[str]:
    """Where staging differs from the true current state of every object (field by top-level field)."""
    truth, rows = world.current(obj), staging(home, obj)
    problems = [f"{obj}: ids missing {sorted(set(truth) - set(rows))[:5]}, extra {sorted(set(rows) - set(truth))[:5]}"
                ] if set(truth) != set(rows) else []
    for obj_id in sorted(set(truth) & set(rows)):
        row = rows[obj_id]
        for field, value in truth[obj_id].items():
            have = row.get(field)
            if isinstance(value, dict | list):
                have = None if have is None else json.loads(have)
            elif isinstance(have, datetime):
                value = datetime.fromtimestamp(value, UTC)
            if have != value:
                problems.append(f"{obj}.{obj_id}.{field}: staging {have!r}, truth {value!r}")
    return problems

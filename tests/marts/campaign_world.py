"""A day of app events and GA4 sessions from the marketplace, a Salesforce org with campaigns and won deals,
all loaded with the marketplace itself: the inputs of dim_campaign and marketing_attribution."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from lakeward import runner
from lakeward.demo import events_world, ga4_world
from lakeward.demo.campaigns import CAMPAIGNS
from tests.conftest import write_definition
from tests.marts.test_funnel import AS_OF, DAY
from tests.salesforce.conftest import Salesforce, synthetic_customers

__all__ = ["AS_OF", "DAY", "DELETED_CAMPAIGN", "CampaignWorld", "campaign_world"]
DELETED_CAMPAIGN = CAMPAIGNS[-1]  # a deleted Campaign leaves only its UTM sessions


@dataclass
class CampaignWorld:
    home: object
    app_events: list[dict]      # every app event the generator wrote
    ga4_rows: list[dict]        # every GA4 export row known at AS_OF
    salesforce: Salesforce
    definition: object


@pytest.fixture
def campaign_world(marketplace_db, tmp_path: Path, monkeypatch, home, salesforce) -> CampaignWorld:
    events_root, ga4_root = tmp_path / "events", tmp_path / "ga4"
    events_root.mkdir()
    ga4_root.mkdir()
    monkeypatch.setenv(events_world.ROOT_VARIABLE, str(events_root))
    monkeypatch.setenv(ga4_world.ROOT_VARIABLE, str(ga4_root))
    with psycopg.connect(marketplace_db) as conn:
        activity = events_world.read_activity(conn, DAY - timedelta(days=1), DAY + timedelta(days=1))
    truth = events_world.generate(events_root, activity, seed=5, scale=0.3, start=DAY - timedelta(days=1),
                                  end=DAY + timedelta(days=1))  # two days, so 30-day users outnumber a day's
    web = ga4_world.Ga4World(ga4_root, seed=5, scale=0.1)
    users = ga4_world.app_users(marketplace_db, DAY)
    for hour in range(24):
        web.hour(users, DAY + timedelta(hours=hour))
    web.export(AS_OF)
    salesforce.world.generate(synthetic_customers(20, DAY - timedelta(days=2)), DAY - timedelta(days=2), DAY)
    salesforce.org.change("Campaign", DELETED_CAMPAIGN.salesforce_id, DAY + timedelta(hours=2), IsDeleted=True)

    def edit(raw: dict) -> None:
        raw["sources"]["salesforce"]["retry"] = {"attempts": 8, "base_delay": 0.005, "max_delay": 0.05}

    defn = write_definition(tmp_path, edit, sources=("postgres", "events", "ga4", "salesforce"))
    assert {"dim_campaign", "marketing_attribution"} <= set(defn.marts)
    result = runner.run(defn, home, end=AS_OF, now=AS_OF, triggered_by="test")
    assert result.ok, [r.error for r in result.failed()]
    ga4_rows = [e.row for day_events in web.pending.values() for e in day_events if e.arrival <= AS_OF]
    return CampaignWorld(home, list(truth.events.values()), ga4_rows, salesforce, defn)

"""dim_campaign from Salesforce, GA4 export files and app-event files, against the generators' own records."""

from __future__ import annotations

from collections import Counter, defaultdict

from lakeward.demo.campaigns import CAMPAIGNS
from lakeward.lake import engine
from lakeward.lake.catalog import open_catalog
from tests.marts.campaign_world import DELETED_CAMPAIGN, campaign_world  # noqa: F401  (fixture)
from tests.salesforce.conftest import salesforce  # noqa: F401  (fixture)


def test_dim_campaign_equals_generators(campaign_world):  # noqa: F811
    pairs: dict[str, Counter] = defaultdict(Counter)
    for event in campaign_world.app_events:
        props = event["properties"]
        if props.get("utm_campaign") is not None:
            pairs[props["utm_campaign"]][(props.get("utm_source"), props.get("utm_medium"))] += 1
    for row in campaign_world.ga4_rows:
        manual = row["session_traffic_source_last_click"]["manual_campaign"]
        if manual["campaign_name"] is not None:
            pairs[manual["campaign_name"]][(manual["source"], manual["medium"])] += 1
    utm = {}
    for slug, counts in pairs.items():
        (top, n), *rest = counts.most_common()
        assert not rest or rest[0][1] < n, f"{slug}: no single most frequent source/medium"
        utm[slug] = top
    live = {str(c["UTM_Campaign__c"]): (str(c["Id"]), c["Name"])
            for c in campaign_world.salesforce.org.rows("Campaign") if not c.get("IsDeleted")}
    expected = {slug: (*live.get(slug, (None, None)), *utm.get(slug, (None, None))) for slug in {*live, *utm}}
    got = engine.query(open_catalog(campaign_world.home), """SELECT campaign_key, salesforce_campaign_id,
        campaign_name, utm_source, utm_medium FROM marts.dim_campaign""").to_pylist()
    assert {r["campaign_key"]: tuple(r.values())[1:] for r in got} == expected
    for c in CAMPAIGNS:  # the campaigns' declared UTM tags, where sessions carried them
        if c.utm_campaign in utm and c != DELETED_CAMPAIGN:
            assert expected[c.utm_campaign] == (c.salesforce_id, c.name, c.utm_source, c.utm_medium)
    assert expected[DELETED_CAMPAIGN.utm_campaign][0] is None
    assert sum(1 for v in expected.values() if v[0] and v[2]) >= 3

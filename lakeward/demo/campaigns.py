"""BrightCart's marketing campaigns: one list that the Salesforce, GA4 and app-event generators share,
so a UTM campaign in a web session matches a Salesforce Campaign and attribution can join them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Campaign:
    salesforce_id: str  # 18-character Campaign id, prefix 701
    name: str           # Salesforce Campaign.Name
    channel: str        # the marketplace's signup_channel vocabulary
    utm_source: str
    utm_medium: str
    utm_campaign: str   # equal to the Salesforce Campaign's UTM_Campaign__c


def _campaign(n: int, name: str, channel: str, source: str, medium: str, slug: str) -> Campaign:
    return Campaign(f"701Dn00000{n:04d}AAA", name, channel, source, medium, slug)


CAMPAIGNS: tuple[Campaign, ...] = (
    _campaign(1, "Autumn Sale Search", "paid_search", "google", "cpc", "autumn_sale"),
    _campaign(2, "Brand Search", "paid_search", "google", "cpc", "brand"),
    _campaign(3, "Home Refresh Social", "social", "instagram", "paid_social", "home_refresh"),
    _campaign(4, "Kitchen Creators", "social", "tiktok", "paid_social", "kitchen_creators"),
    _campaign(5, "Weekly Newsletter", "email", "newsletter", "email", "weekly_digest"),
    _campaign(6, "Win-back Email", "email", "crm", "email", "winback"),
    _campaign(7, "Partner Blogs", "referral", "partners", "referral", "partner_blogs"),
)

# Traffic with no campaign: (source, medium) as GA4 reports it.
ORGANIC = ("google", "organic")
DIRECT = ("(direct)", "(none)")


def by_channel(channel: str | None) -> tuple[Campaign, ...]:
    return tuple(c for c in CAMPAIGNS if c.channel == channel)

"""BrightCart's web analytics as GA4 exports it to BigQuery, then to the bucket the pipeline reads.

Sessions come from the shared campaigns (campaigns.py), organic search or direct visits; a logged-in visitor
carries the marketplace user id from PostgreSQL as `user_id`. Most events reach GA4 within seconds, some
up to 72 hours after their day ends: the intraday table of a day is kept up to date until its daily table is
exported (DAILY_EXPORT_AFTER past midnight) and deleted a little later (INTRADAY_KEPT: for a while both exist),
and the daily table is re-exported while its late events keep arriving.
Everything comes from (seed, scale, hour); `truth` holds every event a day really had.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import psycopg

from lakeward.demo import ga4_export
from lakeward.demo.campaigns import CAMPAIGNS, DIRECT, ORGANIC, by_channel

ROOT_VARIABLE = "LAKEWARD_GA4_ROOT"
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
LATE_HORIZON = timedelta(hours=72)     # GA4 still adds events to a daily table this long after its day
DAILY_EXPORT_AFTER = timedelta(hours=6)  # the first daily export of a day, after its midnight
INTRADAY_KEPT = timedelta(hours=2)       # the intraday table outlives the first daily export this long
LATE_SHARE = 0.06
SITE = "https://www.brightcart.example"
PRODUCTS = (("SKU-1001", "Nordic Lamp", "home", 49.0), ("SKU-1002", "Eco Kettle", "kitchen", 35.5),
            ("SKU-1003", "Urban Backpack", "outdoor", 79.0), ("SKU-1004", "Classic Hoodie", "apparel", 55.0),
            ("SKU-1005", "Compact Dock", "tech", 89.9), ("SKU-1006", "Vintage Mug", "kitchen", 12.5))
DEVICES = (("desktop", "Windows", "Chrome"), ("desktop", "Macintosh", "Safari"), ("mobile", "iOS", "Safari"),
           ("mobile", "Android", "Chrome"), ("tablet", "iOS", "Safari"))
CITIES = {"US": ("New York", "Americas"), "GB": ("London", "Europe"), "DE": ("Berlin", "Europe"),
          "FR": ("Paris", "Europe"), "NL": ("Amsterdam", "Europe"), "ES": ("Madrid", "Europe")}
EUR_USD = {"US": 1.0, "GB": 1.27, "DE": 1.08, "FR": 1.08, "NL": 1.08, "ES": 1.08}


@dataclass(frozen=True)
class AppUser:
    id: int
    country: str
    signup_channel: str | None
    created_at: datetime


@dataclass
class Event:
    arrival: datetime
    row: dict


@dataclass
class Ga4World:
    root: Path
    seed: int
    scale: float
    pending: dict[date, list[Event]] = field(default_factory=dict)  # days whose tables may still change
    truth: dict[date, Counter] = field(default_factory=dict)         # every event of a day, by event_name
    exported: dict[tuple[date, bool], int] = field(default_factory=dict)  # rows in each table as last written

    def hour(self, users: list[AppUser], hour_start: datetime) -> dict[str, int]:
        """Generate the sessions that start in this hour (their events may run past it)."""
        h0 = hour_start.astimezone(UTC)
        rng = random.Random(f"brightcart-ga4:{self.seed}:{self.scale}:{h0.isoformat()}")
        known = [u for u in users if u.created_at < h0]
        diurnal = 0.35 + 0.65 * max(0.0, 1 - abs(h0.hour - 15) / 10)
        sessions = int(40 * self.scale * diurnal + rng.random())
        events = 0
        for n in range(sessions):
            for event in self._session(rng, known, h0 + timedelta(seconds=rng.randrange(3600)), n):
                day = _day(event.row)
                self.pending.setdefault(day, []).append(event)
                self.truth.setdefault(day, Counter())[event.row["event_name"]] += 1
                events += 1
        return {"ga4_sessions": sessions, "ga4_events": events}

    def counts(self, day: date, as_of: datetime | None = None) -> Counter:
        """Events of `day` by name: all of them, or those GA4 had received by `as_of`."""
        if as_of is None or day not in self.pending:
            return Counter(self.truth.get(day, Counter()))
        return Counter(e.row["event_name"] for e in self.pending[day] if e.arrival <= as_of)

    def export(self, as_of: datetime) -> dict[str, int]:
        """Write every table whose content changed by `as_of`; forget days no late event can reach."""
        written = Counter()
        for day in sorted(self.pending):
            midnight = datetime.combine(day + DAY, time(0), tzinfo=UTC)
            daily = as_of >= midnight + DAILY_EXPORT_AFTER
            rows = sorted((e.row for e in self.pending[day] if e.arrival <= as_of),
                          key=lambda r: (r["event_timestamp"], r["user_pseudo_id"], r["batch_ordering_id"]))
            if rows and self.exported.get((day, not daily)) != len(rows):
                ga4_export.write_table(self.root, day, intraday=not daily, rows=rows)
                self.exported[(day, not daily)] = len(rows)
                written["ga4_daily_exports" if daily else "ga4_intraday_exports"] += 1
            if as_of >= midnight + DAILY_EXPORT_AFTER + INTRADAY_KEPT and self.exported.pop((day, True), None):
                ga4_export.drop_table(self.root, day, intraday=True)
            if as_of >= midnight + LATE_HORIZON and daily:
                del self.pending[day]
                self.exported.pop((day, False), None)
        return dict(written)

    def _session(self, rng: random.Random, users: list[AppUser], start: datetime, n: int) -> list[Event]:
        user = rng.choice(users) if users and rng.random() < 0.45 else None
        if user:
            pseudo = _pseudo_id(self.seed, f"user:{user.id}", user.created_at)
            channel, country = user.signup_channel, user.country
        else:
            visitor = rng.randrange(int(2000 * max(self.scale, 0.05)))
            # The same visitor keeps one first-visit day (and so one client id) for 60 days at a time.
            first = start.date() - timedelta(days=(start.date().toordinal() + visitor) % 60)
            pseudo = _pseudo_id(self.seed, f"visitor:{visitor}", datetime.combine(first, time(0), tzinfo=UTC))
            channel = rng.choice(("paid_search", "social", "email", "referral", "organic", None))
            country = rng.choices(tuple(CITIES), (45, 15, 15, 10, 7, 8))[0]
        campaigns = by_channel(channel) or (CAMPAIGNS if rng.random() < 0.3 else ())
        campaign = rng.choice(campaigns) if campaigns and rng.random() < 0.7 else None
        source, medium = (campaign.utm_source, campaign.utm_medium) if campaign else (
            ORGANIC if rng.random() < 0.55 else DIRECT)
        name = campaign.utm_campaign if campaign else ("(organic)" if medium == "organic" else "(direct)")
        first_touch = int(pseudo.split(".")[1]) * 1_000_000
        session_id = int(start.timestamp())
        number = 1 + (session_id - first_touch // 1_000_000) // 86400 // 3
        device = rng.choice(DEVICES)
        base = {
            "user_id": str(user.id) if user else None, "user_pseudo_id": pseudo, "stream_id": "4102938475",
            "platform": "WEB", "privacy_info": {"analytics_storage": "Yes", "ads_storage": "Yes",
                                                "uses_transient_token": "No"},
            "user_first_touch_timestamp": first_touch, "is_active_user": True, "items": [],
            "device": {"category": device[0], "operating_system": device[1], "language": "en-us",
                       "is_limited_ad_tracking": "No",
                       "web_info": {"browser": device[2], "hostname": "www.brightcart.example"}},
            "geo": {"country": country, "city": CITIES[country][0], "continent": CITIES[country][1]},
            "traffic_source": self._first_touch(pseudo),
            "collected_traffic_source": {"manual_campaign_name": campaign.utm_campaign if campaign else None,
                                         "manual_source": source if campaign else None,
                                         "manual_medium": medium if campaign else None},
            "session_traffic_source_last_click": {"manual_campaign": {
                "campaign_id": campaign.salesforce_id if campaign else None, "campaign_name": name,
                "source": source, "medium": medium}},
            "user_properties": [{"key": "signup_channel", "value": {"string_value": channel,
                                                                     "set_timestamp_micros": first_touch}}]
            if user else [],
        }
        landing = f"{SITE}/?utm_source={source}&utm_medium={medium}&utm_campaign={name}" if campaign else SITE + "/"
        common = {"ga_session_id": session_id, "ga_session_number": number}
        steps: list[tuple[str, dict, dict]] = [
            ("session_start", {"page_location": landing, "campaign": name, "source": source, "medium": medium}, {}),
            ("page_view", {"page_location": landing, "page_title": "BrightCart", "campaign": name,
                           "source": source, "medium": medium, "entrances": 1}, {})]
        if number == 1:
            steps.insert(0, ("first_visit", {"page_location": landing}, {}))
        if user:
            steps.append(("login", {"method": "email", "page_location": f"{SITE}/login"}, {}))
        steps += self._funnel(rng, user, country, session_id, n)
        steps.append(("user_engagement", {"engagement_time_msec": rng.randrange(2_000, 400_000),
                                          "session_engaged": "1"}, {}))
        events, clock = [], start
        page_id = session_id * 1000 + n
        for i, (event_name, params, extra) in enumerate(steps):
            clock += timedelta(seconds=rng.randrange(0, 5) if i == 0 else rng.randrange(4, 90),
                               microseconds=rng.randrange(1_000_000))
            micros = int(clock.timestamp()) * 1_000_000 + clock.microsecond
            row = base | extra | {
                "event_date": clock.strftime("%Y%m%d"), "event_timestamp": micros, "event_name": event_name,
                "event_params": [_param(k, v) for k, v in (common | params).items()],
                "batch_page_id": page_id, "batch_ordering_id": i + 1, "batch_event_index": 0,
                "event_bundle_sequence_id": page_id * 100 + i, "event_server_timestamp_offset": rng.randrange(900),
            }
            events.append(Event(self._arrival(rng, clock), row))
        return events

    def _funnel(self, rng: random.Random, user: AppUser | None, country: str, session_id: int, n: int
                ) -> list[tuple[str, dict, dict]]:
        """view_item -> add_to_cart -> begin_checkout -> purchase, each step taken by fewer sessions."""
        sku, title, category, price = rng.choice(PRODUCTS)
        quantity = rng.randint(1, 3)
        item = {"item_id": sku, "item_name": title, "item_category": category, "item_brand": "BrightCart",
                "price": price, "price_in_usd": round(price * EUR_USD[country], 2), "quantity": quantity}
        out: list[tuple[str, dict, dict]] = []
        for step, chance in (("view_item", 0.75), ("add_to_cart", 0.45), ("begin_checkout", 0.6), ("purchase", 0.7)):
            if rng.random() >= chance or (step == "purchase" and user is None and rng.random() < 0.5):
                break
            params = {"page_location": f"{SITE}/p/{sku.lower()}", "currency": "USD" if country == "US" else "EUR"}
            extra: dict = {"items": [item]}
            if step == "purchase":
                revenue = round(price * quantity, 2)
                transaction = f"T{hashlib.sha1(f'{self.seed}:{session_id}:{n}'.encode()).hexdigest()[:12]}"
                params |= {"transaction_id": transaction, "value": revenue}
                extra |= {"event_value_in_usd": round(revenue * EUR_USD[country], 2), "ecommerce": {
                    "transaction_id": transaction, "purchase_revenue": revenue,
                    "purchase_revenue_in_usd": round(revenue * EUR_USD[country], 2), "total_item_quantity": quantity,
                    "unique_items": 1, "shipping_value": 0.0, "tax_value": 0.0}}
            out.append((step, params, extra))
        return out

    def _first_touch(self, pseudo: str) -> dict:
        """The user's first acquisition, fixed per visitor (GA4's user-scoped traffic_source)."""
        pick = int(hashlib.sha1(pseudo.encode()).hexdigest()[:8], 16) % (len(CAMPAIGNS) + 2)
        if pick < len(CAMPAIGNS):
            c = CAMPAIGNS[pick]
            return {"name": c.utm_campaign, "source": c.utm_source, "medium": c.utm_medium}
        return {"name": "(organic)", "source": ORGANIC[0], "medium": ORGANIC[1]} if pick == len(CAMPAIGNS) else {
            "name": "(direct)", "source": DIRECT[0], "medium": DIRECT[1]}

    @staticmethod
    def _arrival(rng: random.Random, at: datetime) -> datetime:
        """Seconds after the event, or late: any time in the 72 hours after its day ends."""
        if rng.random() >= LATE_SHARE:
            return at + timedelta(seconds=rng.randrange(1, 30))
        day_end = datetime.combine(at.date() + DAY, time(0), tzinfo=UTC)
        return day_end + timedelta(seconds=rng.randrange(int(LATE_HORIZON.total_seconds())))


def _param(key: str, value: object) -> dict:
    slot = {str: "string_value", int: "int_value", float: "double_value"}[type(value)]
    return {"key": key, "value": {slot: value}}


def _pseudo_id(seed: int, who: str, first_seen: datetime) -> str:
    """GA4's client id: a random number and the first-visit time in seconds."""
    number = int(hashlib.sha1(f"{seed}:{who}".encode()).hexdigest()[:9], 16) % 2_000_000_000
    return f"{number}.{int(first_seen.timestamp())}"


def _day(row: dict) -> date:
    return datetime.strptime(row["event_date"], "%Y%m%d").date()


USERS_SQL = "SELECT id, country, signup_channel, created_at FROM users WHERE created_at < %s ORDER BY id"


def app_users(dsn: str, before: datetime) -> list[AppUser]:
    with psycopg.connect(dsn) as conn:
        return [AppUser(*row) for row in conn.execute(USERS_SQL, (before,)).fetchall()]


class Ga4System:
    """The GA4 export bucket, a local folder exported as LAKEWARD_GA4_ROOT."""

    name = "ga4"

    def __init__(self, root: Path | None = None):
        self.root = root
        self.world: Ga4World | None = None

    def start(self, company) -> None:  # type: ignore[no-untyped-def]
        self.root = self.root or company.home.root / "ga4_export"
        self.root.mkdir(parents=True, exist_ok=True)
        self.world = Ga4World(self.root, company.seed, company.scale)
        os.environ[ROOT_VARIABLE] = str(self.root)

    def generate_history(self, company, start: datetime, end: datetime) -> dict[str, int]:  # type: ignore[no-untyped-def]
        assert self.world is not None, "start() first"
        users, counts, hour = app_users(company.pg_dsn, end), Counter(), start.astimezone(UTC)
        while hour < end:
            counts.update(self.world.hour(users, hour))
            hour += HOUR
            if hour.hour == 0 or hour >= end:  # export daily as GA4 would, so memory holds only open days
                counts.update(self.world.export(hour))
        return dict(counts)

    def simulate_hour(self, company, hour_start: datetime) -> dict[str, int]:  # type: ignore[no-untyped-def]
        assert self.world is not None, "start() first"
        counts = Counter(self.world.hour(app_users(company.pg_dsn, hour_start + HOUR), hour_start))
        counts.update(self.world.export(hour_start + HOUR))
        return dict(counts)

    def stop(self) -> None:
        pass

"""BrightCart's app event logs: gzip NDJSON under an hourly arrival prefix, as a firehose writes them to S3.

Events retell what the marketplace database did: a purchase event carries the PostgreSQL order's id,
total and currency, logged-in events carry the app user id, signups happen when users were created, and
landing page views carry the UTMs of the shared campaigns. Delivery is at-least-once and messy on purpose:
some lines are repeated, some arrive hours after they happened, a few are malformed. `Truth` records
what a correct compaction must end with.
"""

from __future__ import annotations

import gzip
import json
import os
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from lakeward.demo.campaigns import CAMPAIGNS, by_channel

ROOT_VARIABLE = "LAKEWARD_EVENTS_ROOT"
PREFIX = "events"
HOUR = timedelta(hours=1)
LINES_PER_FILE = 50_000
DEVICES = ({"platform": "ios", "os": "iOS 18.1", "app_version": "5.2.0"},
           {"platform": "android", "os": "Android 15", "app_version": "5.1.3"},
           {"platform": "web", "os": "macOS", "app_version": "web-2026.11"},
           {"platform": "web", "os": "Windows 11", "app_version": "web-2026.11"})
SEARCHES = ("lamp", "kettle", "rug", "mug set", "desk", "throw pillow", "plant pot")


@dataclass(frozen=True)
class Faults:
    duplicate: float = 0.03  # share of events delivered twice
    late: float = 0.04       # share of events arriving 1 to 6 hours after their hour
    malformed: float = 0.004  # malformed lines per event


@dataclass
class Activity:
    """What the marketplace did in a window, as the app saw it."""

    users: list[int]                                    # users who existed before the window
    products: list[int]
    signups: list[tuple[int, datetime, str | None]]      # (user id, created_at, signup_channel)
    orders: list[tuple[int, int, datetime, float, str, list[int]]]  # id, user, at, total, currency, products


@dataclass
class Truth:
    """The events a correct compaction keeps, when each first arrived, and the noise around them."""

    events: dict[str, dict] = field(default_factory=dict)
    arrival: dict[str, datetime] = field(default_factory=dict)
    lines: int = 0
    duplicates: int = 0
    malformed: int = 0

    def loaded_by(self, end: datetime) -> dict[str, dict]:
        """Events whose first copy arrived in an hour folder before `end`."""
        return {eid: ev for eid, ev in self.events.items() if self.arrival[eid] < end}


def read_activity(conn: psycopg.Connection, start: datetime, end: datetime) -> Activity:
    users = [u for (u,) in conn.execute("SELECT id FROM users WHERE created_at < %s ORDER BY id", (start,))]
    products = [p for (p,) in conn.execute("SELECT id FROM products WHERE created_at < %s ORDER BY id", (end,))]
    signups = conn.execute("SELECT id, created_at, signup_channel FROM users WHERE created_at >= %s "
                           "AND created_at < %s ORDER BY id", (start, end)).fetchall()
    orders = conn.execute("""
        SELECT o.id, o.user_id, o.created_at, o.total_amount::float8, o.currency,
               array_agg(i.product_id ORDER BY i.id)
        FROM orders o JOIN order_items i ON i.order_id = o.id
        WHERE o.created_at >= %s AND o.created_at < %s GROUP BY o.id ORDER BY o.id""", (start, end)).fetchall()
    return Activity(users, products, signups, orders)


class _Sessions:
    """Builds the events of one window's sessions from a seeded generator."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.events: list[dict] = []

    def _id(self, prefix: str = "") -> str:
        return prefix + f"{self.rng.getrandbits(128):032x}"

    def session(self, user_id: int | None, at: datetime, steps: list[tuple[str, dict]], landing: bool) -> None:
        rng = self.rng
        anonymous_id, session_id, device = self._id("a-"), self._id("s-"), rng.choice(DEVICES)
        t = at
        for n, (event_type, properties) in enumerate(steps):
            page = "https://brightcart.example/" + (f"p/{properties['product_id']}" if "product_id" in properties
                                                    else event_type.replace("_", "-"))
            if n == 0 and landing and rng.random() < 0.6:
                campaign = rng.choice(CAMPAIGNS)
                properties = {**properties, "utm_source": campaign.utm_source, "utm_medium": campaign.utm_medium,
                              "utm_campaign": campaign.utm_campaign}
                page += f"?utm_campaign={campaign.utm_campaign}"
            self.events.append({
                "event_id": self._id(), "event_type": event_type, "occurred_at": _iso(t),
                "user_id": user_id,
                "anonymous_id": anonymous_id, "session_id": session_id, "page_url": page,
                "properties": properties, "device": device,
            })
            t += timedelta(seconds=rng.randint(5, 90))

    def purchase(self, order: tuple, user_id: int) -> None:
        order_id, _, created, total, currency, products = order
        lead = timedelta(seconds=self.rng.randint(4, 12) * 90)
        steps = [("login", {})] if self.rng.random() < 0.5 else []
        steps += [("product_view", {"product_id": p}) for p in products]
        steps += [("add_to_cart", {"product_id": p}) for p in products] + [("checkout_started", {})]
        self.session(user_id, created - lead, steps, landing=False)
        self.events.append({
            **self.events[-1], "event_id": self._id(), "event_type": "purchase", "occurred_at": _iso(created),
            "page_url": "https://brightcart.example/checkout/done",
            "properties": {"order_id": order_id, "amount": round(total, 2), "currency": currency},
        })

    def signup(self, user_id: int, created: datetime, channel: str | None) -> None:
        campaigns = by_channel(channel)
        steps = [("page_view", {}), ("signup", {"method": "email"})]
        self.session(None, created - timedelta(minutes=3), steps, landing=False)
        landing, signup = self.events[-2], self.events[-1]
        signup["user_id"] = user_id
        if campaigns:  # the landing view carries the campaign the user signed up through
            c = self.rng.choice(campaigns)
            landing["properties"] = {"utm_source": c.utm_source, "utm_medium": c.utm_medium,
                                     "utm_campaign": c.utm_campaign}
        signup["occurred_at"] = _iso(created)

    def browse(self, user_id: int | None, at: datetime, products: list[int]) -> None:
        rng = self.rng
        steps: list[tuple[str, dict]] = [("login", {})] if user_id else []
        steps.append(("page_view", {}))
        if rng.random() < 0.4:
            steps.append(("search", {"search_query": rng.choice(SEARCHES)}))
        for p in rng.sample(products, min(len(products), rng.randint(1, 3))):
            steps.append(("product_view", {"product_id": p}))
        if rng.random() < 0.2 and products:
            steps.append(("add_to_cart", {"product_id": rng.choice(products)}))
        if user_id and rng.random() < 0.5:
            steps.append(("logout", {}))
        self.session(user_id, at, steps, landing=not user_id)


def events_for(activity: Activity, rng: random.Random, start: datetime, end: datetime,
               browsing_per_hour: float) -> list[dict]:
    sessions = _Sessions(rng)
    for user_id, created, channel in activity.signups:
        sessions.signup(user_id, created, channel)
    for order in activity.orders:
        sessions.purchase(order, order[1])
    hours = max(1, round((end - start) / HOUR))
    known = activity.users or [u for u, _, _ in activity.signups]
    for _ in range(max(1, round(browsing_per_hour * hours))):
        at = start + (end - start - timedelta(minutes=10)) * rng.random()
        user = rng.choice(known) if known and rng.random() < 0.35 else None
        sessions.browse(user, at, activity.products)
    return sessions.events


def _malformed(rng: random.Random, event: dict) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        return _line(event)[: rng.randint(5, 40)]  # cut JSON
    if kind == 1:
        return _line({k: v for k, v in event.items() if k != "event_id"})
    if kind == 2:
        return _line({**event, "event_id": event["event_id"][::-1], "occurred_at": "yesterday"})
    return _line({**event, "event_id": event["event_id"][::-1], "user_id": "guest"})


def deliver(events: list[dict], rng: random.Random, start: datetime, faults: Faults,
            truth: Truth) -> dict[datetime, list[bytes]]:
    """Lines per arrival hour: an event arrives in its own hour (never before `start`), some later, some twice."""
    floor = _hour(start)
    hours: dict[datetime, list[bytes]] = defaultdict(list)
    for event in sorted(events, key=lambda e: e["occurred_at"]):
        line = _line(event)
        arrival = max(_hour(datetime.fromisoformat(event["occurred_at"])), floor)
        if rng.random() < faults.late:
            arrival += HOUR * rng.randint(1, 6)
        hours[arrival].append(line)
        truth.events[event["event_id"]] = event
        truth.arrival[event["event_id"]] = arrival
        if rng.random() < faults.duplicate:
            hours[arrival + HOUR * rng.randint(0, 1)].append(line)
            truth.duplicates += 1
        if rng.random() < faults.malformed:
            hours[arrival].append(_malformed(rng, event))
            truth.malformed += 1
    truth.lines += sum(len(lines) for lines in hours.values())
    return hours


def write_hours(root: Path, hours: dict[datetime, list[bytes]], tag: str, level: int = 6) -> list[Path]:
    """gzip NDJSON files `events/dt=YYYY-MM-DD/hour=HH/part-<tag>-NNNN.json.gz`; never overwrites another tag."""
    written = []
    for hour, lines in sorted(hours.items()):
        folder = root / PREFIX / f"dt={hour:%Y-%m-%d}" / f"hour={hour:%H}"
        folder.mkdir(parents=True, exist_ok=True)
        for n, first in enumerate(range(0, len(lines), LINES_PER_FILE)):
            path = folder / f"part-{tag}-{n:04d}.json.gz"
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(gzip.compress(b"\n".join(lines[first:first + LINES_PER_FILE]) + b"\n", level))
            tmp.replace(path)  # a listing never sees a half-written file
            written.append(path)
    return written


def _line(event: dict) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def generate(root: Path, activity: Activity, *, seed: int, scale: float, start: datetime, end: datetime,
             faults: Faults = Faults(), truth: Truth | None = None) -> Truth:
    """Write the window's events; returns (and adds to) the ground truth."""
    truth = truth if truth is not None else Truth()
    rng = random.Random(f"brightcart-events:{seed}:{scale}:{start.isoformat()}:{end.isoformat()}")
    events = events_for(activity, rng, start, end, browsing_per_hour=40 * scale)
    write_hours(root, deliver(events, rng, start, faults, truth), f"{start:%Y%m%dT%H%M}")
    return truth


class EventsSystem:
    """The app's event firehose, writing under <LAKEWARD_HOME>/sources unless LAKEWARD_EVENTS_ROOT is set."""

    name = "events"

    def __init__(self) -> None:
        self.truth = Truth()
        self.root: Path | None = None

    def start(self, company) -> None:
        if not os.environ.get(ROOT_VARIABLE):
            os.environ[ROOT_VARIABLE] = str(company.home.root / "sources")
        self.root = Path(os.environ[ROOT_VARIABLE])
        self.root.mkdir(parents=True, exist_ok=True)

    def _window(self, company, start: datetime, end: datetime) -> dict[str, int]:
        assert self.root is not None
        with psycopg.connect(company.pg_dsn) as conn:
            activity = read_activity(conn, start, end)
        before = (len(self.truth.events), self.truth.lines)
        generate(self.root, activity, seed=company.seed, scale=company.scale, start=start, end=end,
                 truth=self.truth)
        return {"events": len(self.truth.events) - before[0], "lines": self.truth.lines - before[1]}

    def generate_history(self, company, start: datetime, end: datetime) -> dict[str, int]:
        return self._window(company, start, end)

    def simulate_hour(self, company, hour_start: datetime) -> dict[str, int]:
        return self._window(company, hour_start, hour_start + HOUR)

    def stop(self) -> None:
        pass

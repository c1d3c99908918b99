"""A Stripe-compatible read API over an in-memory account, for the demo and the tests.

It answers like api.stripe.com for what the extractor uses: list endpoints (newest first, `limit` up to
100, `starting_after`/`ending_before`, `created[gt|gte|lt|lte]`, `has_more`, `url`), retrieve by id and
the Events API, which, as in Stripe, returns only the last 30 days. A deleted object answers 404
(resource_missing) and leaves every list; only its `<object>.deleted` event remains. Bearer auth, Stripe's error shapes,
429 at Stripe's documented read limits (100 requests/s, 25/s per endpoint) and injected faults come from
the shared emulator plumbing. The account's clock is the simulated time its generator last wrote up to.
"""

from __future__ import annotations

import copy
import fnmatch
import itertools
import json
import threading
import uuid
from datetime import datetime, timedelta

from lakeward.emulators.server import Emulator, Faults, RateLimit, Request, Response

# The list resources and the `object` name each one holds.
RESOURCES = {
    "customers": "customer", "products": "product", "prices": "price", "subscriptions": "subscription",
    "invoices": "invoice", "charges": "charge", "refunds": "refund",
    "balance_transactions": "balance_transaction", "disputes": "dispute", "payouts": "payout",
}
EVENTS_HORIZON = timedelta(days=30)  # Stripe returns events of the last 30 days only
MAX_LIMIT = 100
DEFAULT_VERSION = "2025-03-31.basil"
# List filters the emulator honours besides created/pagination, by resource (Stripe's names).
FILTERS = {"customers": ("email",), "prices": ("product", "currency"), "subscriptions": ("customer", "status", "price"),
           "invoices": ("customer", "status", "subscription"), "charges": ("customer",), "refunds": ("charge",),
           "balance_transactions": ("type", "currency", "source"), "disputes": ("charge",), "payouts": ("status",)}


class StripeAccount:
    """The account's objects (their current state) and its event log; safe to read while written."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, dict]] = {r: {} for r in RESOURCES}
        self.events: list[dict] = []
        self.clock: datetime | None = None  # simulated now: events older than clock - 30d are gone
        self.lock = threading.RLock()
        self._sorted: dict[str, tuple[list[dict], dict[str, int]]] = {}

    def create(self, resource: str, obj: dict, event: str | None = None) -> dict:
        with self.lock:
            self.objects[resource][obj["id"]] = obj
            self._sorted.pop(resource, None)
            if event:
                self.emit(event, obj, obj["created"])
        return obj

    def update(self, resource: str, obj_id: str, changes: dict, at: int, event: str | None) -> dict:
        """Apply top-level changes; the event carries the new object and the previous attributes."""
        with self.lock:
            obj = self.objects[resource][obj_id]
            previous = {k: copy.deepcopy(obj.get(k)) for k in changes}
            obj.update(changes)
            if event:
                self.emit(event, obj, at, previous)
        return obj

    def delete(self, resource: str, obj_id: str, at: int) -> dict:
        """Stripe deletes customers, products, prices and draft invoices: gone from lists and retrieves
        (404), announced by a `<object>.deleted` event carrying the object's last state."""
        with self.lock:
            obj = self.objects[resource].pop(obj_id)
            self._sorted.pop(resource, None)
            self.emit(f"{RESOURCES[resource]}.deleted", obj, at)
        return obj

    def emit(self, kind: str, obj: dict, at: int, previous: dict | None = None) -> None:
        with self.lock:
            data: dict = {"object": copy.deepcopy(obj)}
            if previous is not None:
                data["previous_attributes"] = previous
            self.events.append({
                "id": f"evt_{len(self.events) + 1:014d}", "object": "event", "api_version": DEFAULT_VERSION,
                "created": at, "data": data, "livemode": False, "pending_webhooks": 0,
                "request": {"id": None, "idempotency_key": None}, "type": kind,
            })

    def get(self, resource: str, obj_id: str) -> dict | None:
        with self.lock:
            if resource == "events":
                found = next((e for e in self.visible_events() if e["id"] == obj_id), None)
            else:
                found = self.objects[resource].get(obj_id)
            return copy.deepcopy(found)

    def visible_events(self) -> list[dict]:
        horizon = int((self.clock - EVENTS_HORIZON).timestamp()) if self.clock else None
        return [e for e in self.events if horizon is None or e["created"] >= horizon]

    def newest_first(self, resource: str) -> tuple[list[dict], dict[str, int]]:
        """Stripe's list order (created desc, then id desc) and each id's position, cached until a create."""
        with self.lock:
            if resource == "events":
                rows = sorted(self.visible_events(), key=lambda o: (o["created"], o["id"]), reverse=True)
                return rows, {o["id"]: i for i, o in enumerate(rows)}
            if resource not in self._sorted:
                rows = sorted(self.objects[resource].values(), key=lambda o: (o["created"], o["id"]), reverse=True)
                self._sorted[resource] = (rows, {o["id"]: i for i, o in enumerate(rows)})
            return self._sorted[resource]


class StripeAPI(Emulator):
    def __init__(self, account: StripeAccount, api_key: str, *, rate_limit: RateLimit | None = None,
                 faults: Faults | None = None, storm_retry_after: int = 1):
        super().__init__(rate_limit=rate_limit or RateLimit(100, 25), faults=faults)
        self.account, self.api_key, self.storm_retry_after = account, api_key, storm_retry_after
        for resource in (*RESOURCES, "events"):
            # One rate-limit bucket per endpoint, as Stripe counts them.
            self.route("GET", f"/v1/{resource}", self._list, bucket=resource)
            self.route("GET", f"/v1/{resource}/(?P<id>[A-Za-z0-9_]+)", self._retrieve, bucket=resource)

    def error(self, status: int, message: str, kind: str, **extra: str) -> Response:
        body = {"type": kind, "message": message, **extra}
        if status >= 500 or status == 429:
            body["request_log_url"] = None
        return Response(status, {"error": body}, headers={"Request-Id": _request_id()})

    def rate_limited(self) -> Response:
        reply = self.error(429, "Request rate limit exceeded. Learn more about rate limits here "
                           "https://stripe.com/docs/rate-limits.", "invalid_request_error", code="rate_limit")
        reply.headers["Retry-After"] = str(self.storm_retry_after)
        return reply

    def authorize(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header:
            return self.error(401, "You did not provide an API key. You need to provide your API key in the "
                              "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
                              "invalid_request_error")
        given = header.removeprefix("Bearer ").strip()
        if given != self.api_key:
            return self.error(401, f"Invalid API Key provided: {_masked(given)}", "invalid_request_error",
                              code="api_key_invalid")
        return None

    def _reply(self, request: Request, body: dict | str) -> Response:
        version = request.headers.get("stripe-version", DEFAULT_VERSION)
        return Response(200, body, headers={"Stripe-Version": version, "Request-Id": _request_id()})

    def _retrieve(self, request: Request) -> Response:
        resource = request.path.split("/")[2]
        found = self.account.get(resource, request.params["id"])
        if found is None:
            name = RESOURCES.get(resource, "event")
            return self.error(404, f"No such {name}: '{request.params['id']}'", "invalid_request_error",
                              code="resource_missing", param="id")
        return self._reply(request, found)

    def _list(self, request: Request) -> Response:
        resource = request.path.split("/")[2]
        try:
            limit = int(request.arg("limit", "10"))
            bounds = {op: int(v) for op in ("gt", "gte", "lt", "lte") if (v := request.arg(f"created[{op}]"))}
            if (exact := request.arg("created")) is not None:
                bounds["gte"] = bounds["lte"] = int(exact)
        except ValueError as err:
            return self.error(400, f"Invalid integer: {err}", "invalid_request_error")
        if not 1 <= limit <= MAX_LIMIT:
            return self.error(400, f"Invalid limit: must be between 1 and {MAX_LIMIT}", "invalid_request_error",
                              param="limit")
        rows, position = self.account.newest_first(resource)
        after, before = request.arg("starting_after"), request.arg("ending_before")
        for cursor, param in ((after, "starting_after"), (before, "ending_before")):
            if cursor is not None and cursor not in position:
                return self.error(400, f"Invalid {param}: no such object '{cursor}'", "invalid_request_error",
                                  param=param)
        # Walk away from the cursor and stop at limit + 1 matches (enough to know has_more).
        if before:
            walk = (rows[i] for i in range(position[before] - 1, -1, -1))
        else:
            walk = (rows[i] for i in range((position[after] + 1) if after else 0, len(rows)))
        matches = list(itertools.islice(
            (o for o in walk if _created_in(o["created"], bounds) and self._filtered(resource, o, request)),
            limit + 1))
        page = matches[:limit][::-1] if before else matches[:limit]
        with self.account.lock:  # serialised under the lock: the reply is a snapshot, as a copy would be
            body = json.dumps({"object": "list", "data": page, "has_more": len(matches) > limit,
                               "url": f"/v1/{resource}"})
        return self._reply(request, body)

    def _filtered(self, resource: str, obj: dict, request: Request) -> bool:
        if resource == "events":
            kind = request.arg("type")
            kinds = [v for k, v in request.query if k.startswith("types[")]
            return (kind is None or fnmatch.fnmatchcase(obj["type"], kind)) and (not kinds or obj["type"] in kinds)
        if resource == "subscriptions":  # Stripe leaves canceled subscriptions out unless asked for
            status = request.arg("status")
            if (obj["status"] == "canceled") if status is None else (status != "all" and obj["status"] != status):
                return False
        for name in FILTERS.get(resource, ()):
            wanted = request.arg(name)
            if wanted is None or (resource, name) == ("subscriptions", "status"):
                continue
            if name == "price":
                if wanted not in [item["price"]["id"] for item in obj["items"]["data"]]:
                    return False
            elif str(obj.get(name)) != wanted:
                return False
        return True


def _created_in(created: int, bounds: dict[str, int]) -> bool:
    return (created > bounds.get("gt", created - 1) and created >= bounds.get("gte", created)
            and created < bounds.get("lt", created + 1) and created <= bounds.get("lte", created))


def _masked(key: str) -> str:
    """Stripe shows only a key's prefix and last four characters."""
    return f"{key[:8]}****{key[-4:]}" if len(key) > 12 else "****"


def _request_id() -> str:
    return f"req_{uuid.uuid4().hex[:14]}"

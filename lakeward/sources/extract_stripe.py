"""Incremental extraction of one Stripe object with the official SDK, at the API version the definition pins.

Stripe objects change without a new `created` and carry no update time, so a window is read three ways:
1. the Events API for the window names objects that changed; each is re-fetched whole at the pinned
   version (an event's payload is at the account's version and may be stale);
2. objects created in the window are listed, 100 per page;
3. where the definition asks, a periodic full refresh re-lists mutable objects created before the
   30-day events horizon, whose changes the Events API can no longer show.
A deleted customer, product, price or draft invoice can no longer be fetched: its `<object>.deleted`
event's payload (the last state) becomes a soft delete (`is_deleted`, `deleted_at`).
Each row gets `version_at`, the latest moment known to be reflected in it (its creation, the newest
event naming it, or the refresh's window end): staging keeps the row with the highest, so a refund
weeks later updates its charge and a replayed window never regresses one.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pyarrow as pa
import stripe

from lakeward.definition import Limits, StripeObject, StripeSource
from lakeward.emulators.stripe_api import EVENTS_HORIZON, RESOURCES
from lakeward.lake.landing import BatchWriter, Window
from lakeward.sources import http_retry
from lakeward.sources.connections import UnresolvedConnection, resolve
from lakeward.sources.stripe_columns import ColumnError, empty_table, page_columns, to_table
from lakeward.sources.stripe_pacing import pacer
from lakeward.sources.target import Target

PAGE = 100
STREAMS = 4  # concurrent slices of a window's created range, per object
# The event types whose data.object may be of each resource (Stripe's `type` filter takes one wildcard).
EVENT_TYPES = {"customers": "customer.*", "products": "product.*", "prices": "price.*",
               "subscriptions": "customer.subscription.*", "invoices": "invoice.*", "charges": "charge.*",
               "refunds": "refund.*", "disputes": "charge.dispute.*", "payouts": "payout.*",
               "balance_transactions": None}  # immutable: Stripe sends no events for them


class ExtractError(RuntimeError):
    """Stripe could not be read; names the object and the reason, never the key."""


def extract(
    target: Target, window: Window, writer: BatchWriter, limits: Limits,
    permits: threading.Semaphore | None = None, on_rows: Callable[[int], None] = lambda n: None,
) -> tuple[pa.Schema, dict]:
    """Read every object of the window (created, changed or due a refresh) into `writer`."""
    source, spec, resource = target.source, target.spec, target.object_name
    assert isinstance(source, StripeSource) and isinstance(spec, StripeObject)
    api = _Api(target, permits or threading.Semaphore(limits.concurrency))
    started = time.perf_counter()
    lo, hi = math.ceil(window.start.timestamp()), math.ceil(window.end.timestamp())
    found: dict[str, tuple[dict, int, int, int | None]] = {}
    lock = threading.Lock()

    def keep(objs: list[dict], version: Callable[[dict], int], deleted_at: int | None = None) -> None:
        page = page_columns(objs, spec, resource)  # in the stream's thread, while other streams wait on the network
        with lock:
            for i, obj in enumerate(objs):
                at = version(obj)
                if deleted_at is not None or obj["id"] not in found or found[obj["id"]][2] < at:
                    found[obj["id"]] = (page, i, at, deleted_at)

    # Events first: a change made while the listing runs then shows in the next window's overlap.
    changed, deleted = api.changed(resource, lo, hi)
    refresh: list[dict] = []
    if spec.full_refresh and _refresh_due(spec, window):
        horizon = math.ceil((window.end - EVENTS_HORIZON).timestamp())
        refresh = [{**spec.full_refresh.params, "created": {"lt": min(horizon, lo)}}]

    def listing(numbered: tuple[int, dict]) -> int:
        part, params = numbered
        count = 0
        for objs in api.pages(resource, params):
            # A refreshed object is known as of the window's end; a new one as of its newest event.
            keep(objs, (lambda obj: hi) if part >= len(parts) else
                 (lambda obj: max(obj["created"], changed.get(obj["id"], 0))))
            count += len(objs)
        return count

    # Several streams per object, each paging one slice of the window: one request in flight per
    # stream could not reach the per-endpoint limit at real-world latencies.
    parts = [{"created": {"gte": a, "lt": b}} for a, b in _slices(lo, hi, STREAMS)]
    stale: list[str] = []
    try:
        with ThreadPoolExecutor(max_workers=len(parts) + len(refresh), thread_name_prefix="stripe") as pool:
            counts = list(pool.map(listing, enumerate(parts + refresh)))
        stale = [obj_id for obj_id in changed if obj_id not in found and obj_id not in deleted]
        with ThreadPoolExecutor(max_workers=limits.concurrency, thread_name_prefix="stripe") as pool:
            for obj_id, obj in zip(stale, pool.map(lambda i: api.retrieve(resource, i), stale), strict=True):
                if obj is not None:
                    keep([obj], lambda obj, at=changed[obj_id]: at)
        for at, last in deleted.values():
            # Gone from Stripe (a retrieve answers 404): its last state, flagged, as of its deletion.
            keep([last], lambda obj, at=at: at, deleted_at=at)
        rows = sorted(found.values(), key=lambda row: (row[0]["created"][row[1]], row[0]["id"][row[1]]))
        table, source_columns = to_table(rows, spec, resource) if rows else (empty_table(spec), [])
    except ColumnError as err:
        raise ExtractError(str(err)) from None
    refreshed = sum(counts[len(parts):])
    for batch in table.to_batches(max_chunksize=limits.chunk_rows):
        writer.write(batch)
        on_rows(batch.num_rows)
    stats = {"requests": api.requests, "retries": api.retries, "events_changed": len(changed),
             "refetched": len(stale), "deleted": len(deleted), "full_refresh": refreshed,
             "api_version": source.api_version,
             "events_gap": window.start.timestamp() < (window.end - EVENTS_HORIZON).timestamp(),
             "source_columns": source_columns, "seconds": round(time.perf_counter() - started, 3)}
    return table.schema, stats


def _slices(lo: int, hi: int, parts: int) -> list[tuple[int, int]]:
    """[lo, hi) cut into up to `parts` contiguous slices of whole seconds."""
    edges = sorted({lo + (hi - lo) * i // parts for i in range(parts)} | {hi})
    return list(zip(edges, edges[1:], strict=False))


def _refresh_due(spec: StripeObject, window: Window) -> bool:
    """Once per `every`: in the window whose new part (past the lookback overlap) crosses a multiple of it."""
    every = spec.full_refresh.every.total_seconds()
    fresh_from = min(window.start + spec.lookback, window.end).timestamp()
    return window.end.timestamp() - window.start.timestamp() >= every or \
        math.floor(window.end.timestamp() / every) > math.floor(fresh_from / every)


class _Api:
    """The SDK client, paced inside Stripe's limits, each call retried with jittered backoff."""

    def __init__(self, target: Target, permits: threading.Semaphore):
        source = target.source
        assert isinstance(source, StripeSource)
        where = f"sources.{target.source_name}.connection"
        secret = _secret(resolve(source.connection, where), source.connection, where)
        addresses = {"api": secret["api_base"]} if secret.get("api_base") else None
        self.client = stripe.StripeClient(
            secret["api_key"], stripe_version=source.api_version, base_addresses=addresses,
            max_network_retries=0,  # retries are ours: bounded, jittered, honouring Retry-After
            http_client=stripe.RequestsClient(timeout=source.timeout.total_seconds()))
        self.source, self.name, self.permits = source, f"{target.source_name}.{target.object_name}", permits
        self.pacer = pacer(target.source_name, source.rate_limit)
        self.requests = self.retries = 0
        self._lock = threading.Lock()

    def _call(self, endpoint: str, what: str, fn: Callable[[], object], missing_ok: bool = False) -> object:
        def attempt() -> object:
            self.pacer.wait(endpoint)
            with self.permits:
                with self._lock:
                    self.requests += 1
                return fn()

        def retried(err: Exception, delay: float) -> None:
            with self._lock:
                self.retries += 1

        try:
            return http_retry.call(attempt, what=what, policy=self.source.retry, transient=_transient,
                                   on_retry=retried)
        except http_retry.RetryExhausted as err:
            raise ExtractError(f"{self.name}: {what}: gave up after {err.attempts} attempts; "
                               f"last error: {_reason(err.last)}") from None
        except stripe.StripeError as err:
            if missing_ok and getattr(err, "code", None) == "resource_missing":
                return None  # deleted since the event named it: nothing left to update
            raise ExtractError(f"{self.name}: {what}: {_reason(err)}") from None

    def _get(self, path: str, params: dict) -> dict:
        # The SDK's raw request: its auth, versioning, encoding and typed errors, with the reply kept as
        # plain JSON (building StripeObjects only to turn them back into dicts costs most of a page's time).
        return self.client.raw_request("get", path, **params).data

    def pages(self, resource: str, params: dict) -> Iterator[list[dict]]:
        """Every page of a list call, newest first, following `starting_after`."""
        after = None
        while True:
            query = {**params, "limit": PAGE, **({"starting_after": after} if after else {})}
            page = self._call(resource, f"GET /v1/{resource}", lambda q=query: self._get(f"/v1/{resource}", q))
            if page["data"]:
                yield page["data"]
            if not page["has_more"] or not page["data"]:
                return
            after = page["data"][-1]["id"]

    def changed(self, resource: str, lo: int, hi: int) -> tuple[dict[str, int], dict[str, tuple[int, dict]]]:
        """The objects of this resource that events in [lo, hi) name, with the newest such event's time; and
        those deleted, with the deletion's time and the object's last state."""
        kind = EVENT_TYPES[resource]
        if kind is None:
            return {}, {}
        newest: dict[str, int] = {}
        deleted: dict[str, tuple[int, dict]] = {}
        gone = f"{RESOURCES[resource]}.deleted"  # customer.subscription.deleted is a cancellation, not this
        for events in self.pages("events", {"created": {"gte": lo, "lt": hi}, "type": kind}):
            for event in events:
                obj = event["data"]["object"]
                if obj.get("object") == RESOURCES[resource]:
                    newest[obj["id"]] = max(newest.get(obj["id"], 0), event["created"])
                    if event["type"] == gone:
                        deleted[obj["id"]] = (event["created"], obj)
        return newest, deleted

    def retrieve(self, resource: str, obj_id: str) -> dict | None:
        path = f"/v1/{resource}/{quote(obj_id, safe='')}"
        return self._call(resource, f"GET {path}", lambda: self._get(path, {}), missing_ok=True)


def _secret(value: str, reference: str, where: str) -> dict:
    """The connection's JSON secret: {"api_key": ..., "api_base": optional}. Its value is never shown."""
    try:
        secret = json.loads(value)
    except json.JSONDecodeError:
        secret = None
    if not isinstance(secret, dict) or not isinstance(secret.get("api_key"), str) or not secret["api_key"]:
        raise UnresolvedConnection(
            f"{where}: connection '{reference}' must hold a JSON object with a non-empty \"api_key\" "
            "(and optionally \"api_base\")")
    return secret


def _transient(err: Exception) -> float | None:
    """Seconds to wait at least before retrying, or None when retrying cannot help."""
    status = getattr(err, "http_status", None)
    if isinstance(err, stripe.RateLimitError) or status == 429:
        headers = {k.lower(): v for k, v in (getattr(err, "headers", None) or {}).items()}
        try:
            return float(headers.get("retry-after") or 0)
        except ValueError:
            return 0.0
    if isinstance(err, stripe.APIConnectionError) or (isinstance(err, stripe.StripeError) and (status or 0) >= 500):
        return 0.0
    return None


def _reason(err: Exception) -> str:
    status = getattr(err, "http_status", None)
    if isinstance(err, stripe.AuthenticationError):  # Stripe's message quotes part of the key
        return f"AuthenticationError (HTTP {status}): the API key was refused"
    message = getattr(err, "user_message", None) or str(err)
    return f"{type(err).__name__}" + (f" (HTTP {status})" if status else "") + f": {message}"


"""Stripe extraction throughput against the emulator's rate limit, as a utilisation ratio.

The emulator runs in its own process (as api.stripe.com would be elsewhere) and enforces Stripe's read
limits: 100 requests/s overall, 25/s per endpoint. All ten objects are extracted at once, as the hourly
schedule does, so the overall limit is the ceiling. Utilisation = requests served per second / 100; the
goal is at least 0.9. A baseline measured in the same run sends bare paced GETs (no SDK, no Arrow, no
landing) to the same server: what the machine allows, whatever the extractor does.

The clock starts once the definition is loaded (the runner loads it once per run, not per extraction) and
runs to the last landed batch. The default of 10,000 objects per resource (~100 pages each, ~10 s at the
ceiling) makes it a sustained rate: the fixed start (events first, each object's first connection) and the
end of each window (gathering rows into Arrow, writing Parquet) would dominate a run of two or three
seconds and understate what an hourly run with real volume achieves.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from lakeward.definition import STRIPE_OBJECTS
from lakeward.demo import stripe_payloads as p
from lakeward.emulators.stripe_api import StripeAccount, StripeAPI
from lakeward.lake.landing import BatchWriter, Window
from lakeward.load_definition import load_definition
from lakeward.sources import extract_stripe
from lakeward.sources.stripe_pacing import Pacer
from lakeward.sources.target import Target

KEY = "sk_test_" + "bench0000000000000000000"
CEILING = 100.0
START = datetime(2026, 9, 1, tzinfo=UTC)


def fill(account: StripeAccount, per_object: int) -> None:
    """`per_object` objects of every resource, created over one day (payload shapes from the demo)."""
    import random

    rng = random.Random(5)
    at = p.ts(START)
    for n in range(per_object):
        t = at + n * 86_400 // per_object
        cid = f"cus_B{n:08d}"
        account.create("customers", p.customer(cid, n, f"u{n}@example.com", "A B", "US", "usd", t))
        charge = p.charge(f"ch_B{n:08d}", 1000 + n, "usd", cid, t, True, {"order_id": str(n)}, "US", rng)
        account.create("charges", charge)
        account.create("refunds", p.refund(f"re_B{n:08d}", charge["id"], 100, "usd", t, "succeeded", "damaged", {}))
        account.create("balance_transactions", p.balance_transaction(charge["id"], 1000, 59, "usd", t, "charge",
                                                                     "charge"))
        account.create("products", dict(p.product(t), id=f"prod_B{n:08d}"))
        account.create("prices", dict(p.price("month", "usd", t), id=f"price_B{n:08d}"))
        sub = p.subscription(f"sub_B{n:08d}", cid, "month", "usd", 1, t)
        account.create("subscriptions", sub)
        account.create("invoices", p.invoice(f"in_B{n:08d}", n, sub, t, "subscription_create"))
        account.create("disputes", p.dispute(f"dp_B{n:08d}", charge, 500, t, "fraudulent"))
        account.create("payouts", p.payout(f"po_B{n:08d}", 5000, "usd", t))
    account.clock = START + timedelta(days=1)


def serve(per_object: int, address: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    account = StripeAccount()
    fill(account, per_object)
    with StripeAPI(account, KEY) as api:
        address.put(api.url)
        stop.wait()


def extractor_run(url: str, root: Path) -> tuple[int, float]:
    """All ten objects at once through the real extractor; returns (requests served, seconds)."""
    os.environ["LAKEWARD_STRIPE_SECRET"] = json.dumps({"api_key": KEY, "api_base": url})
    defn = load_definition(Path(__file__).resolve().parent.parent / "pipeline.yaml")
    source = defn.sources["stripe"]
    window = Window(START, START + timedelta(days=1))
    permits = threading.Semaphore(source.limits.concurrency)
    targets = {obj: Target("stripe", source, obj, source.objects[obj], str(defn.path)) for obj in STRIPE_OBJECTS}

    def one(obj: str) -> dict:
        target = targets[obj]
        writer = BatchWriter(root, "stripe", obj, window).begin()
        schema, stats = extract_stripe.extract(target, window, writer, source.limits, permits)
        writer.commit(schema, stats)
        return stats

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(STRIPE_OBJECTS)) as pool:
        stats = list(pool.map(one, STRIPE_OBJECTS))
    seconds = time.perf_counter() - started
    return sum(s["requests"] - s["retries"] for s in stats), seconds


def baseline_run(url: str, requests_per_object: int) -> tuple[int, float]:
    """Bare paced GETs of one page each, the same count per endpoint, no processing of the reply."""
    from lakeward.definition import StripeRateLimit

    pacer = Pacer(StripeRateLimit())
    served = 0
    lock = threading.Lock()

    def one(obj: str) -> None:
        nonlocal served
        with requests.Session() as session:
            for _ in range(requests_per_object):
                pacer.wait(obj)
                reply = session.get(f"{url}/v1/{obj}", params={"limit": 100},
                                    headers={"Authorization": f"Bearer {KEY}"})
                if reply.status_code == 200:
                    with lock:
                        served += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(STRIPE_OBJECTS)) as pool:
        list(pool.map(one, STRIPE_OBJECTS))
    return served, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000, help="objects per resource (100 per page)")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    address, stop = context.Queue(), context.Event()
    server = context.Process(target=serve, args=(args.objects, address, stop), daemon=True)
    server.start()
    try:
        url = address.get(timeout=300)
        pages = args.objects // 100 + 1
        base_n, base_s = baseline_run(url, pages)
        time.sleep(1.0)  # let the emulator's token buckets refill
        with tempfile.TemporaryDirectory() as scratch:
            ours_n, ours_s = extractor_run(url, Path(scratch))
    finally:
        stop.set()
        server.join(timeout=10)
    base_rate, ours_rate = base_n / base_s, ours_n / ours_s
    print(f"stripe ceiling (emulated rate limit)  : {CEILING:8.1f} requests/s overall, 25/s per endpoint")
    print(f"baseline paced bare GETs              : {base_n:6d} in {base_s:6.2f} s = {base_rate:6.1f} req/s "
          f"(utilisation {base_rate / CEILING:.2f})")
    print(f"lakeward extract_stripe (10 objects)  : {ours_n:6d} in {ours_s:6.2f} s = {ours_rate:6.1f} req/s "
          f"(utilisation {ours_rate / CEILING:.2f}, vs baseline {ours_rate / base_rate:.2f}; goal >= 0.9)")


if __name__ == "__main__":
    main()

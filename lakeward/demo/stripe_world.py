"""BrightCart's Stripe account: mirrors the marketplace's Stripe payments and runs the Plus subscription.

Marketplace users paying with provider 'stripe' are customers, each such payment is a charge and each
refund of one a Stripe refund. On top, customers subscribe to BrightCart Plus: renewals invoice them
(paid, or failed and past due), plans change, subscriptions end, charges are disputed weeks later and the
balance is paid out daily. Every change emits its event. `advance(start, end)` writes only objects and
events timestamped in [start, end), so history and live hours are the same code. Ground truth for tests
comes from here, never from the pipeline.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import random
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg

from lakeward.demo import stripe_payloads as p
from lakeward.demo.identities import STRIPE_CUSTOMERS_SQL, stripe_customer_id
from lakeward.demo.marketplace import COUNTRY_CURRENCY
from lakeward.emulators.server import Faults
from lakeward.emulators.stripe_api import StripeAccount, StripeAPI

SECRET_VARIABLE = "LAKEWARD_STRIPE_SECRET"  # the definition's connection reference for the stripe source
PAYMENTS_SQL = """
SELECT p.id, p.order_id, o.user_id, p.amount, lower(p.currency), p.status::text, p.created_at, u.country
FROM payments p JOIN orders o ON o.id = p.order_id JOIN users u ON u.id = o.user_id
WHERE p.provider = 'stripe' AND p.created_at >= %s AND p.created_at < %s ORDER BY p.created_at, p.id
"""
REFUNDS_SQL = """
SELECT r.id, r.payment_id, r.order_id, r.amount, r.status::text, r.reason, r.created_at
FROM refunds r JOIN payments p ON p.id = r.payment_id
WHERE p.provider = 'stripe' AND r.created_at >= %s AND r.created_at < %s ORDER BY r.created_at, r.id
"""
DAY = 86_400
DEMO_ERASURES = 0.01  # per never-paying customer per day: a few deletions for the demo's staging to flag


@dataclass(frozen=True)
class Rates:
    """How often things happen: per new customer, per subscription per day, or per payment attempt."""

    subscribe: float = 0.3
    change_per_day: float = 0.02
    cancel_per_day: float = 0.01
    renewal_fails: float = 0.12
    retry_pays: float = 0.6
    disputed: float = 0.02
    delete_per_day: float = 0.0  # customers who never paid nor subscribed, erased at their request


def _minor(amount) -> int:
    return int(amount * 100)


class StripeWorld:
    """The account's generator and ground truth; deterministic from the seed and the calls made."""

    def __init__(self, seed: int, account: StripeAccount | None = None, rates: Rates = Rates()):
        self.seed, self.account, self.rates = seed, account or StripeAccount(), rates
        self.due: list[tuple[int, int, str, str]] = []  # (when, order, what, object id), processed in order
        self.counts: dict[str, int] = defaultdict(int)
        self._order = itertools.count()  # keeps same-second due items in the order they were scheduled

    def advance(self, conn: psycopg.Connection, start: datetime, end: datetime) -> dict[str, int]:
        """Everything that happens in [start, end); returns how many objects of each kind were written."""
        self.counts = defaultdict(int)
        lo, hi = p.ts(start), p.ts(end) - (1 if end.microsecond == 0 else 0)  # created <= hi < end
        rng = random.Random(f"stripe:{self.seed}:{start.isoformat()}:{end.isoformat()}")
        if p.PLUS_PRODUCT not in self.account.objects["products"]:
            self._create("products", p.product(lo), "product.created")
            for interval, currency in p.PLUS_PRICES:
                self._create("prices", p.price(interval, currency, lo), "price.created")
        new_customers = self._mirror_customers(conn, start, end)
        self._mirror_payments(conn, start, end, rng)
        self._mirror_refunds(conn, start, end)
        for cid, created in new_customers:
            if rng.random() < self.rates.subscribe and created + 3600 <= hi:
                self.subscribe(cid, rng.randint(created + 60, created + 3600), rng)
        self._random_changes(lo, hi, rng)
        self._payouts(lo, hi)
        self._run_due(hi, rng)
        self._erasures(lo, hi)
        self.account.clock = end
        return dict(self.counts)

    # --- the marketplace mirrored -------------------------------------------------------------------------
    def _mirror_customers(self, conn: psycopg.Connection, start: datetime, end: datetime) -> list[tuple[str, int]]:
        made = []
        for uid, email, name, country, since in conn.execute(STRIPE_CUSTOMERS_SQL, {"as_of": end}).fetchall():
            if since >= start:
                currency = COUNTRY_CURRENCY[country.strip()].lower()
                obj = p.customer(stripe_customer_id(uid), uid, email, name, country.strip(), currency, p.ts(since))
                self._create("customers", obj, "customer.created")
                made.append((obj["id"], obj["created"]))
        return made

    def _mirror_payments(self, conn: psycopg.Connection, start: datetime, end: datetime,
                         rng: random.Random) -> None:
        for pid, oid, uid, amount, currency, status, created, country in conn.execute(
                PAYMENTS_SQL, (start, end)).fetchall():
            meta = {"order_id": str(oid), "payment_id": str(pid)}
            self._charge(f"ch_BC{pid:012d}", _minor(amount), currency, stripe_customer_id(uid), p.ts(created),
                         status == "succeeded", meta, country.strip(), rng)

    def _mirror_refunds(self, conn: psycopg.Connection, start: datetime, end: datetime) -> None:
        for rid, pid, oid, amount, status, reason, created in conn.execute(REFUNDS_SQL, (start, end)).fetchall():
            charge = self.account.objects["charges"][f"ch_BC{pid:012d}"]
            meta = {"order_id": str(oid), "refund_id": str(rid), "reason": reason}
            obj = p.refund(f"re_BC{rid:012d}", charge["id"], _minor(amount), charge["currency"], p.ts(created),
                           status, reason, meta)
            self._create("refunds", obj, "refund.created")
            if status == "succeeded":
                at = obj["created"]
                self._balance(obj["id"], -obj["amount"], 0, obj["currency"], at, "refund", "refund")
                refunded = charge["amount_refunded"] + obj["amount"]
                self.account.update("charges", charge["id"], {
                    "amount_refunded": refunded, "refunded": refunded >= charge["amount"]}, at, "charge.refunded")

    # --- Stripe's own activity ----------------------------------------------------------------------------
    def _charge(self, chid: str, amount: int, currency: str, customer: str, at: int, succeeded: bool,
                meta: dict, country: str, rng: random.Random, invoice: str | None = None) -> dict:
        obj = p.charge(chid, amount, currency, customer, at, succeeded, meta, country, rng, invoice)
        self._create("charges", obj, "charge.succeeded" if succeeded else "charge.failed")
        if succeeded:
            self._balance(chid, amount, p.fee(amount, currency), currency, at, "charge", "charge")
            if rng.random() < self.rates.disputed:
                self._schedule(at + rng.randint(14 * DAY, 42 * DAY), "dispute", chid)
        return obj

    def subscribe(self, customer_id: str, at: int, rng: random.Random, interval: str | None = None,
                  quantity: int | None = None) -> dict:
        """A customer takes BrightCart Plus at `at` and pays its first invoice (or fails to)."""
        cust = self.account.objects["customers"][customer_id]
        sid = f"sub_BC{len(self.account.objects['subscriptions']) + 1:010d}"
        interval = interval or rng.choices(("month", "year"), (80, 20))[0]
        quantity = quantity or rng.choices((1, 2, 3), (85, 10, 5))[0]
        sub = p.subscription(sid, customer_id, interval, cust["currency"], quantity, at)
        self._create("subscriptions", sub, "customer.subscription.created")
        settings = dict(cust["invoice_settings"], default_payment_method=sub["default_payment_method"])
        self.account.update("customers", customer_id, {"invoice_settings": settings}, at, "customer.updated")
        self._bill(sub, at, "subscription_create", rng)
        return self.account.objects["subscriptions"][sid]

    def change_subscription(self, sid: str, at: int, *, quantity: int | None = None, interval: str | None = None,
                            emit: bool = True) -> dict:
        """An upgrade or downgrade: a new quantity and/or billing interval, effective at `at`."""
        sub = self.account.objects["subscriptions"][sid]
        item = sub["items"]["data"][0]
        interval = interval or item["price"]["recurring"]["interval"]
        quantity = quantity or item["quantity"]
        changes = {"items": p.items(sid, interval, sub["currency"], quantity, item["created"]), "quantity": quantity}
        return self.account.update("subscriptions", sid, changes, at, "customer.subscription.updated" if emit else None)

    def _erasures(self, lo: int, hi: int) -> None:
        """A few customers whose payments all failed and who never subscribed ask to be erased, and Stripe
        deletes them."""
        if not self.rates.delete_per_day:
            return
        rng = random.Random(f"stripe-erasures:{self.seed}:{lo}:{hi}")  # its own stream: nothing else moves
        objects = self.account.objects
        paying = {o["customer"] for o in objects["subscriptions"].values()} | {
            o["customer"] for o in objects["charges"].values() if o["status"] == "succeeded"}
        for cid in sorted(c for c, cus in objects["customers"].items() if cus["created"] < lo and c not in paying):
            if rng.random() < self.rates.delete_per_day * (hi + 1 - lo) / DAY:
                self.account.delete("customers", cid, rng.randint(lo, hi))
                self.counts["customers_deleted"] += 1

    def _random_changes(self, lo: int, hi: int, rng: random.Random) -> None:
        days = (hi + 1 - lo) / DAY
        for sid, sub in list(self.account.objects["subscriptions"].items()):
            if sub["status"] == "canceled" or sub["created"] >= lo or sub["cancel_at_period_end"]:
                continue
            if rng.random() < self.rates.change_per_day * days:
                interval = sub["items"]["data"][0]["price"]["recurring"]["interval"]
                if rng.random() < 0.5:
                    self.change_subscription(sid, rng.randint(lo, hi), quantity=rng.choice((1, 2, 3, 4)))
                else:
                    other = "year" if interval == "month" else "month"
                    self.change_subscription(sid, rng.randint(lo, hi), interval=other)
            elif rng.random() < self.rates.cancel_per_day * days:
                at = rng.randint(lo, hi)
                self.account.update("subscriptions", sid, {"cancel_at_period_end": True, "canceled_at": at,
                                                           "cancel_at": sub["current_period_end"]},
                                    at, "customer.subscription.updated")

    def _bill(self, sub: dict, at: int, reason: str, rng: random.Random) -> None:
        number = len(self.account.objects["invoices"]) + 1
        inv = self._create("invoices", p.invoice(f"in_BC{number:010d}", number, sub, at, reason), "invoice.created")
        self.account.update("subscriptions", sub["id"], {"latest_invoice": inv["id"]}, at, None)
        self._attempt(inv["id"], at, rng.random() >= self.rates.renewal_fails, rng)

    def _attempt(self, inid: str, at: int, pays: bool, rng: random.Random) -> None:
        """One payment attempt of an open invoice: paid, or failed with a retry three days later."""
        inv = self.account.objects["invoices"][inid]
        cust = self.account.objects["customers"][inv["customer"]]
        chid = f"ch_BCI{int(inid[5:]):08d}{inv['attempt_count'] + 1}"
        self._charge(chid, inv["amount_due"], inv["currency"], inv["customer"], at, pays, {"invoice": inid},
                     cust["address"]["country"], rng, invoice=inid)
        attempt = {"attempt_count": inv["attempt_count"] + 1, "attempted": True, "charge": chid}
        sid = inv["subscription"]
        if pays:
            transitions = dict(inv["status_transitions"], paid_at=at)
            self.account.update("invoices", inid, attempt | {
                "status": "paid", "paid": True, "amount_paid": inv["amount_due"], "amount_remaining": 0,
                "next_payment_attempt": None, "status_transitions": transitions}, at, "invoice.paid")
            if self.account.objects["subscriptions"][sid]["status"] == "past_due":
                self.account.update("subscriptions", sid, {"status": "active"}, at, "customer.subscription.updated")
        elif inv["attempt_count"] == 0:
            self.account.update("invoices", inid, attempt | {"next_payment_attempt": at + 3 * DAY}, at,
                                "invoice.payment_failed")
            self.account.update("subscriptions", sid, {"status": "past_due"}, at, "customer.subscription.updated")
            self._schedule(at + 3 * DAY, "retry", inid)
        else:  # the retry failed too: the invoice is written off and the subscription ends
            transitions = dict(inv["status_transitions"], marked_uncollectible_at=at)
            self.account.update("invoices", inid, attempt | {"status": "uncollectible", "next_payment_attempt": None,
                                                            "status_transitions": transitions},
                                at, "invoice.marked_uncollectible")
            self._end(sid, at)

    def _end(self, sid: str, at: int) -> None:
        sub = self.account.objects["subscriptions"][sid]
        self.account.update("subscriptions", sid, {"status": "canceled", "ended_at": at,
                                                   "canceled_at": sub["canceled_at"] or at},
                            at, "customer.subscription.deleted")

    def _renew(self, sid: str, at: int, rng: random.Random) -> None:
        sub = self.account.objects["subscriptions"][sid]
        if sub["status"] == "canceled" or sub["current_period_end"] != at:
            return
        if sub["cancel_at_period_end"]:
            self._end(sid, at)
            return
        interval = sub["items"]["data"][0]["price"]["recurring"]["interval"]
        end = at + int(p.PERIOD[interval].total_seconds())
        sub = self.account.update("subscriptions", sid, {"current_period_start": at, "current_period_end": end},
                                  at, "customer.subscription.updated")
        self._schedule(end, "renew", sid)
        self._bill(sub, at, "subscription_cycle", rng)

    def _dispute(self, chid: str, at: int, rng: random.Random) -> None:
        charge = self.account.objects["charges"][chid]
        amount = charge["amount"] - charge["amount_refunded"]
        if amount <= 0 or charge["disputed"]:
            return
        dpid = "dp_" + chid[3:]
        reason = rng.choice(("fraudulent", "product_not_received", "unrecognized", "duplicate"))
        self._create("disputes", p.dispute(dpid, charge, amount, at, reason), "charge.dispute.created")
        self._balance(dpid, -amount, p.DISPUTE_FEE, charge["currency"], at, "adjustment", "dispute")
        self.account.update("charges", chid, {"disputed": True}, at, "charge.updated")

    def _payouts(self, lo: int, hi: int) -> None:
        """At each UTC midnight, the previous day's net balance goes out per currency."""
        midnight = (lo + DAY - 1) // DAY * DAY
        for at in range(midnight, hi + 1, DAY):
            net: dict[str, int] = defaultdict(int)
            for txn in self.account.objects["balance_transactions"].values():
                if at - DAY <= txn["created"] < at and txn["type"] != "payout":
                    net[txn["currency"]] += txn["net"]
            for currency, amount in sorted(net.items()):
                if amount > 0:
                    poid = f"po_BC{datetime.fromtimestamp(at, UTC):%Y%m%d}{currency}"
                    self._create("payouts", p.payout(poid, amount, currency, at), "payout.created")
                    self._balance(poid, -amount, 0, currency, at, "payout", "payout")
                    self._schedule(at + 2 * DAY, "paid_out", poid)

    def _run_due(self, hi: int, rng: random.Random) -> None:
        self.due.sort()
        while self.due and self.due[0][0] <= hi:
            at, _, what, obj_id = self.due.pop(0)
            if what == "dispute":
                self._dispute(obj_id, at, rng)
            elif what == "retry":
                self._attempt(obj_id, at, rng.random() < self.rates.retry_pays, rng)
            elif what == "renew":
                self._renew(obj_id, at, rng)
            elif what == "paid_out":
                self.account.update("payouts", obj_id, {"status": "paid"}, at, "payout.paid")
            self.due.sort()

    def _schedule(self, at: int, what: str, obj_id: str) -> None:
        self.due.append((at, next(self._order), what, obj_id))

    def _create(self, resource: str, obj: dict, event: str) -> dict:
        self.counts[resource] += 1
        created = self.account.create(resource, obj, event)
        if resource == "subscriptions":
            self._schedule(obj["current_period_end"], "renew", obj["id"])
        return created

    def _balance(self, source: str, amount: int, fee: int, currency: str, at: int, kind: str, category: str) -> None:
        self._create("balance_transactions", p.balance_transaction(source, amount, fee, currency, at, kind, category),
                     None)  # Stripe sends no events for balance transactions

    # --- ground truth -------------------------------------------------------------------------------------
    def current(self, resource: str) -> dict[str, dict]:
        """The true present state of every object of a resource."""
        with self.account.lock:
            return copy.deepcopy(self.account.objects[resource])

    def net_revenue(self) -> dict[tuple[date, str], int]:
        """Net revenue (charges less refunds, dispute losses and Stripe fees) by UTC day and currency."""
        out: dict[tuple[date, str], int] = defaultdict(int)
        for txn in self.current("balance_transactions").values():
            if txn["reporting_category"] in ("charge", "refund", "dispute"):
                out[(datetime.fromtimestamp(txn["created"], UTC).date(), txn["currency"])] += txn["net"]
        return dict(out)


class StripeSystem:
    """The Stripe account of the company, served by a local emulator while the demo runs."""

    name = "stripe"

    def __init__(self, faults: Faults | None = None):
        self.faults = faults
        self.world: StripeWorld | None = None
        self.api: StripeAPI | None = None

    def start(self, company) -> None:
        self.world = StripeWorld(company.seed, rates=Rates(delete_per_day=DEMO_ERASURES))
        key = "sk_test_" + secrets.token_hex(16)  # per start: a key is never a constant in code
        self.api = StripeAPI(self.world.account, key, faults=self.faults).start()
        os.environ[SECRET_VARIABLE] = json.dumps({"api_key": key, "api_base": self.api.url})

    def generate_history(self, company, start: datetime, end: datetime) -> dict[str, int]:
        return self._advance(company, start, end)

    def simulate_hour(self, company, hour_start: datetime) -> dict[str, int]:
        return self._advance(company, hour_start, hour_start + timedelta(hours=1))

    def _advance(self, company, start: datetime, end: datetime) -> dict[str, int]:
        assert self.world is not None, "the stripe system is not started"
        with psycopg.connect(company.pg_dsn) as conn:
            return {f"stripe.{k}": v for k, v in self.world.advance(conn, start, end).items()}

    def stop(self) -> None:
        if self.api:
            self.api.stop()
            self.api = None

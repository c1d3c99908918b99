"""Stripe object payloads as the API returns them: nested objects, nullable fields, ids where Stripe
puts expandable references, amounts in minor units, Unix timestamps, lower-case currencies."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

PLUS_PRODUCT = "prod_BCPLUS"
# BrightCart Plus prices in minor units, by (interval, currency).
PLUS_PRICES = {("month", "usd"): 999, ("month", "eur"): 949, ("month", "gbp"): 799,
               ("year", "usd"): 9900, ("year", "eur"): 9400, ("year", "gbp"): 7900}
# Stripe's card pricing: a percentage plus a fixed fee in minor units.
FEES = {"usd": (0.029, 30), "eur": (0.015, 25), "gbp": (0.015, 20)}
DISPUTE_FEE = 1500
PERIOD = {"month": timedelta(days=30), "year": timedelta(days=365)}


def ts(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp())


def fee(amount: int, currency: str) -> int:
    rate, fixed = FEES[currency]
    return round(amount * rate) + fixed


def price_id(interval: str, currency: str) -> str:
    return f"price_BCPLUS_{interval}_{currency}"


def product(created: int) -> dict:
    return {"id": PLUS_PRODUCT, "object": "product", "active": True, "created": created, "default_price": None,
            "description": "Free delivery and members-only prices on BrightCart.", "images": [],
            "livemode": False, "metadata": {"tier": "plus"}, "name": "BrightCart Plus",
            "package_dimensions": None, "shippable": False, "statement_descriptor": "BRIGHTCART PLUS",
            "tax_code": None, "type": "service", "unit_label": None, "updated": created, "url": None}


def price(interval: str, currency: str, created: int) -> dict:
    return {"id": price_id(interval, currency), "object": "price", "active": True, "billing_scheme": "per_unit",
            "created": created, "currency": currency, "livemode": False, "lookup_key": f"plus_{interval}_{currency}",
            "metadata": {}, "nickname": f"Plus {interval}ly", "product": PLUS_PRODUCT,
            "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed",
                          "aggregate_usage": None, "trial_period_days": None},
            "tax_behavior": "inclusive", "type": "recurring", "unit_amount": PLUS_PRICES[(interval, currency)],
            "unit_amount_decimal": str(PLUS_PRICES[(interval, currency)])}


def customer(cid: str, user_id: int, email: str, name: str | None, country: str, currency: str,
             created: int) -> dict:
    return {"id": cid, "object": "customer",
            "address": {"city": None, "country": country, "line1": None, "line2": None, "postal_code": None,
                        "state": None},
            "balance": 0, "created": created, "currency": currency, "default_source": None, "delinquent": False,
            "description": None, "email": email, "invoice_prefix": f"BC{user_id:06X}",
            "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None},
            "livemode": False, "metadata": {"app_user_id": str(user_id)}, "name": name, "phone": None,
            "preferred_locales": [], "shipping": None, "tax_exempt": "none"}


def charge(chid: str, amount: int, currency: str, customer_id: str, created: int, succeeded: bool,
           metadata: dict, country: str, rng: random.Random, invoice: str | None = None) -> dict:
    card = {"brand": rng.choice(("visa", "mastercard", "amex")), "country": country,
            "exp_month": rng.randint(1, 12), "exp_year": rng.randint(2027, 2031), "funding": "credit",
            "last4": f"{rng.randrange(10_000):04d}", "network": None, "three_d_secure": None}
    return {"id": chid, "object": "charge", "amount": amount, "amount_captured": amount if succeeded else 0,
            "amount_refunded": 0, "balance_transaction": f"txn_{chid}" if succeeded else None,
            "billing_details": {"address": {"country": country, "postal_code": None}, "email": None,
                                "name": None, "phone": None},
            "captured": succeeded, "created": created, "currency": currency, "customer": customer_id,
            "description": None, "disputed": False,
            "failure_code": None if succeeded else "card_declined",
            "failure_message": None if succeeded else "Your card was declined.",
            "invoice": invoice, "livemode": False, "metadata": metadata,
            "outcome": {"network_status": "approved_by_network" if succeeded else "declined_by_network",
                        "reason": None if succeeded else "generic_decline",
                        "risk_level": "normal", "risk_score": rng.randint(0, 60),
                        "seller_message": "Payment complete." if succeeded else "The bank did not return any "
                                          "further details with this decline.",
                        "type": "authorized" if succeeded else "issuer_declined"},
            "paid": succeeded, "payment_intent": "pi_" + chid[3:],
            "payment_method_details": {"card": card, "type": "card"}, "receipt_email": None,
            "refunded": False, "status": "succeeded" if succeeded else "failed"}


def refund(reid: str, charge_id: str, amount: int, currency: str, created: int, status: str, reason: str,
           metadata: dict) -> dict:
    stripe_reason = {"duplicate_charge": "duplicate"}.get(reason, "requested_by_customer")
    return {"id": reid, "object": "refund", "amount": amount,
            "balance_transaction": f"txn_{reid}" if status == "succeeded" else None, "charge": charge_id,
            "created": created, "currency": currency, "metadata": metadata, "payment_intent": "pi_" + charge_id[3:],
            "reason": stripe_reason, "receipt_number": None, "status": status,
            "failure_reason": "unknown" if status == "failed" else None}


def balance_transaction(source: str, amount: int, fee_amount: int, currency: str, created: int, kind: str,
                        category: str) -> dict:
    return {"id": f"txn_{source}", "object": "balance_transaction", "amount": amount,
            "available_on": created + 2 * 86_400, "created": created, "currency": currency,
            "description": None, "exchange_rate": None, "fee": fee_amount,
            "fee_details": [{"amount": fee_amount, "application": None, "currency": currency,
                             "description": "Stripe processing fees", "type": "stripe_fee"}] if fee_amount else [],
            "net": amount - fee_amount, "reporting_category": category, "source": source, "status": "available",
            "type": kind}


def subscription(sid: str, customer_id: str, interval: str, currency: str, quantity: int, created: int) -> dict:
    end = created + int(PERIOD[interval].total_seconds())
    return {"id": sid, "object": "subscription", "billing_cycle_anchor": created, "cancel_at": None,
            "cancel_at_period_end": False, "canceled_at": None, "collection_method": "charge_automatically",
            "created": created, "currency": currency, "current_period_end": end, "current_period_start": created,
            "customer": customer_id, "days_until_due": None, "default_payment_method": "pm_" + customer_id[4:],
            "ended_at": None, "items": items(sid, interval, currency, quantity, created), "latest_invoice": None,
            "livemode": False, "metadata": {}, "quantity": quantity, "start_date": created, "status": "active",
            "trial_end": None, "trial_start": None}


def items(sid: str, interval: str, currency: str, quantity: int, created: int) -> dict:
    return {"object": "list", "has_more": False, "url": f"/v1/subscription_items?subscription={sid}",
            "data": [{"id": "si_" + sid[4:], "object": "subscription_item", "created": created, "metadata": {},
                      "price": price(interval, currency, created), "quantity": quantity, "subscription": sid}]}


def invoice(inid: str, number: int, sub: dict, created: int, reason: str) -> dict:
    item = sub["items"]["data"][0]
    amount = item["price"]["unit_amount"] * item["quantity"]
    return {"id": inid, "object": "invoice", "amount_due": amount, "amount_paid": 0, "amount_remaining": amount,
            "attempt_count": 0, "attempted": False, "billing_reason": reason, "charge": None,
            "collection_method": "charge_automatically", "created": created, "currency": sub["currency"],
            "customer": sub["customer"], "due_date": None,
            "lines": {"object": "list", "has_more": False, "url": f"/v1/invoices/{inid}/lines",
                      "data": [{"id": "il_" + inid[3:], "object": "line_item", "amount": amount,
                                "currency": sub["currency"], "price": item["price"]["id"],
                                "quantity": item["quantity"],
                                "period": {"start": sub["current_period_start"], "end": sub["current_period_end"]}}]},
            "livemode": False, "metadata": {}, "next_payment_attempt": None, "number": f"BC-{number:06d}",
            "paid": False, "period_end": sub["current_period_end"], "period_start": sub["current_period_start"],
            "status": "open",
            "status_transitions": {"finalized_at": created, "marked_uncollectible_at": None, "paid_at": None,
                                   "voided_at": None},
            "subscription": sub["id"], "subtotal": amount, "total": amount}


def dispute(dpid: str, charge_obj: dict, amount: int, created: int, reason: str) -> dict:
    return {"id": dpid, "object": "dispute", "amount": amount, "balance_transactions": [f"txn_{dpid}"],
            "charge": charge_obj["id"], "created": created, "currency": charge_obj["currency"],
            "evidence_details": {"due_by": created + 7 * 86_400, "has_evidence": False, "past_due": False,
                                 "submission_count": 0},
            "is_charge_refundable": False, "livemode": False, "metadata": {},
            "payment_intent": charge_obj["payment_intent"], "reason": reason, "status": "needs_response"}


def payout(poid: str, amount: int, currency: str, created: int) -> dict:
    return {"id": poid, "object": "payout", "amount": amount, "arrival_date": created + 2 * 86_400,
            "automatic": True, "balance_transaction": f"txn_{poid}", "created": created, "currency": currency,
            "description": "STRIPE PAYOUT", "destination": "ba_BC0001", "failure_code": None,
            "failure_message": None, "livemode": False, "metadata": {}, "method": "standard",
            "statement_descriptor": None, "status": "in_transit", "type": "bank_account"}

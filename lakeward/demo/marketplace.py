"""BrightCart: a deterministic synthetic marketplace OLTP database for demos and tests.

Every value comes from a seeded ``random.Random`` (never ``now()`` or server-side randomness), so the same
seed and arguments on databases in the same state produce byte-identical tables. Money is ``Decimal``
with two places throughout, because the tests compare the revenue mart to SQL run on these tables.
"""

from __future__ import annotations

import bisect
import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

SCHEMA_SQL = """
DO $$ BEGIN
    CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE payment_status AS ENUM ('succeeded', 'failed');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE TYPE refund_status AS ENUM ('succeeded', 'pending', 'failed');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

CREATE TABLE IF NOT EXISTS users (
    id bigint PRIMARY KEY, public_id uuid NOT NULL UNIQUE, email text NOT NULL, full_name text,
    country char(2) NOT NULL, signup_channel text, marketing_opt_in boolean NOT NULL, preferences jsonb,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS products (
    id bigint PRIMARY KEY, sku text NOT NULL UNIQUE, name text NOT NULL, category text NOT NULL,
    price numeric(12,2) NOT NULL, currency char(3) NOT NULL, tags text[] NOT NULL, thumbnail bytea,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    id bigint PRIMARY KEY, public_id uuid NOT NULL UNIQUE, user_id bigint NOT NULL REFERENCES users,
    status order_status NOT NULL, currency char(3) NOT NULL, subtotal numeric(12,2) NOT NULL,
    shipping numeric(12,2) NOT NULL, total_amount numeric(12,2) NOT NULL,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS order_items (
    id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders,
    product_id bigint NOT NULL REFERENCES products, quantity int NOT NULL, unit_price numeric(12,2) NOT NULL,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS payments (
    id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders, amount numeric(12,2) NOT NULL,
    currency char(3) NOT NULL, status payment_status NOT NULL, provider text NOT NULL,
    card_fingerprint bytea, metadata jsonb, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS refunds (
    id bigint PRIMARY KEY, payment_id bigint NOT NULL REFERENCES payments,
    order_id bigint NOT NULL REFERENCES orders, amount numeric(12,2) NOT NULL, currency char(3) NOT NULL,
    reason text NOT NULL, status refund_status NOT NULL,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
-- Foreign-key lookups used by simulate_hour and by mart checks.
CREATE INDEX IF NOT EXISTS order_items_order_id_idx ON order_items (order_id);
CREATE INDEX IF NOT EXISTS payments_order_id_idx ON payments (order_id);
CREATE INDEX IF NOT EXISTS refunds_payment_id_idx ON refunds (payment_id);
""" + "".join(  # the extractor reads every table keyset-ordered by (updated_at, id)
    f"CREATE INDEX IF NOT EXISTS {t}_updated_at_id_idx ON {t} (updated_at, id);\n"
    for t in ("users", "products", "orders", "order_items", "payments", "refunds")
)

Row = dict[str, Any]
Ids = dict[str, int]  # next free id per table
UTC = UTC
HOUR = timedelta(hours=1)
CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# Columns per table, in an insert order that respects foreign keys.
COLUMNS: dict[str, tuple[str, ...]] = {table: (*cols.split(), "created_at", "updated_at") for table, cols in {
    "users": "id public_id email full_name country signup_channel marketing_opt_in preferences",
    "products": "id sku name category price currency tags thumbnail",
    "orders": "id public_id user_id status currency subtotal shipping total_amount",
    "order_items": "id order_id product_id quantity unit_price",
    "payments": "id order_id amount currency status provider card_fingerprint metadata",
    "refunds": "id payment_id order_id amount currency reason status",
}.items()}

COUNTRY_CURRENCY = {"US": "USD", "GB": "GBP", "DE": "EUR", "FR": "EUR", "NL": "EUR", "ES": "EUR"}
COUNTRY_WEIGHTS = (45, 15, 15, 10, 7, 8)
# Fixed conversion table: USD per unit of currency. Prices are stored in the product's own currency.
USD_PER = {"USD": Decimal("1.00"), "EUR": Decimal("1.08"), "GBP": Decimal("1.27")}
SHIPPING = {"USD": Decimal("5.99"), "EUR": Decimal("4.99"), "GBP": Decimal("3.99")}
FREE_SHIPPING_FROM = Decimal("50.00")
FIRST = ("Ada", "Ben", "Chloe", "Dev", "Elif", "Farah", "Gus", "Hana", "Ivan", "Kemi", "Luca", "Maya", "Noah")
LAST = ("Anders", "Brown", "Costa", "Dubois", "Fischer", "Garcia", "Jansen", "Khan", "Lopez", "Rossi")
CHANNELS = ("organic", "paid_search", "social", "referral", "email", None)
CATEGORIES = {"home": ("Lamp", "Rug", "Vase"), "kitchen": ("Kettle", "Pan", "Mug"), "tech": ("Cable", "Dock"),
              "outdoor": ("Tent", "Lantern", "Backpack"), "apparel": ("Hoodie", "Cap", "Sneakers")}
ADJECTIVES = ("Classic", "Compact", "Deluxe", "Eco", "Nordic", "Urban", "Vintage", "Pro")
TAGS = ("bestseller", "new", "eco", "gift", "sale", "limited", "bundle")
PROVIDERS = ("stripe", "adyen", "paypal")
REASONS = ("damaged", "not_as_described", "late_delivery", "changed_mind", "duplicate_charge")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def create_schema(conn: psycopg.Connection) -> None:
    conn.execute(SCHEMA_SQL)
    conn.commit()


def _money(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _at(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    """Uniform instant in [lo, hi); whole microseconds so it round-trips through timestamptz exactly."""
    span = (hi - lo) // timedelta(microseconds=1)
    return lo + timedelta(microseconds=rng.randrange(span)) if span > 0 else lo


def _take(ids: Ids, table: str) -> int:
    ids[table] += 1
    return ids[table] - 1


def _next_ids(cur: psycopg.Cursor[Any]) -> Ids:
    # Ids are ours (not serial) so a rerun reproduces them; continue after whatever is already there.
    cur.execute("SELECT " + ", ".join(f"(SELECT coalesce(max(id), 0) + 1 FROM {t})" for t in COLUMNS))
    return dict(zip(COLUMNS, cur.fetchone() or (), strict=False))


def _copy(cur: psycopg.Cursor[Any], table: str, rows: list[Row]) -> None:
    cols = COLUMNS[table]
    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row([row[c] for c in cols])


def _prefs(rng: random.Random) -> dict[str, Any]:
    return {"theme": rng.choice(("light", "dark", "system")), "language": rng.choice(("en", "de", "fr")),
            "notifications": {"email": rng.random() < 0.6, "sms": rng.random() < 0.2}}


def _user(rng: random.Random, uid: int, t: datetime) -> Row:
    country = rng.choices(tuple(COUNTRY_CURRENCY), COUNTRY_WEIGHTS)[0]
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return {"id": uid, "public_id": _uuid(rng), "email": f"{first}.{last}.{uid}@example.com".lower(),
            "full_name": None if rng.random() < 0.05 else f"{first} {last}", "country": country,
            "signup_channel": rng.choice(CHANNELS), "marketing_opt_in": rng.random() < 0.4,
            "preferences": None if rng.random() < 0.1 else Jsonb(_prefs(rng)),
            "created_at": t, "updated_at": t}


def _product(rng: random.Random, pid: int, t: datetime) -> Row:
    category = rng.choice(tuple(CATEGORIES))
    return {"id": pid, "sku": f"BC-{pid:06d}", "category": category,
            "name": f"{rng.choice(ADJECTIVES)} {rng.choice(CATEGORIES[category])}",
            "price": Decimal(rng.randrange(3, 250)) - CENT,
            "currency": rng.choices(("USD", "EUR", "GBP"), (70, 20, 10))[0],
            "tags": sorted(rng.sample(TAGS, rng.randrange(4))),
            "thumbnail": None if rng.random() < 0.2 else PNG_MAGIC + rng.randbytes(24),
            "created_at": t, "updated_at": t}


def _order(rng: random.Random, ids: Ids, rows: dict[str, list[Row]], user_id: int, country: str,
           catalogue: list[tuple[int, Decimal, str]], t: datetime, limit: datetime,
           must_pay: bool = False) -> tuple[Row, list[Row]]:
    """Add an order with its items and the payment attempts made before `limit` to `rows`."""
    currency = COUNTRY_CURRENCY[country]
    oid = _take(ids, "orders")
    items: list[Row] = []
    for pid, price, pcur in rng.sample(catalogue, min(len(catalogue), rng.randint(1, 4))):
        unit = price if pcur == currency else _money(price * USD_PER[pcur] / USD_PER[currency])
        items.append({"id": _take(ids, "order_items"), "order_id": oid, "product_id": pid,
                      "quantity": rng.choices((1, 2, 3), (75, 18, 7))[0], "unit_price": unit,
                      "created_at": t, "updated_at": t})
    subtotal = sum((i["quantity"] * i["unit_price"] for i in items), ZERO)
    shipping = ZERO if subtotal >= FREE_SHIPPING_FROM else SHIPPING[currency]
    order = {"id": oid, "public_id": _uuid(rng), "user_id": user_id, "status": "pending",
             "currency": currency, "subtotal": subtotal, "shipping": shipping,
             "total_amount": subtotal + shipping, "created_at": t, "updated_at": t}
    pays = _checkout(rng, ids, order, country, limit, must_pay)
    rows["orders"].append(order)
    rows["order_items"] += items
    rows["payments"] += pays
    return order, pays


def _checkout(rng: random.Random, ids: Ids, order: Row, country: str, limit: datetime,
              must_pay: bool) -> list[Row]:
    """Payment attempts for a new order; those at or after `limit` haven't happened (order stays pending)."""
    r = rng.random() * (0.9 if must_pay else 1.0)  # mostly paid at once, some after a decline, a few never
    plan = (["succeeded"] if r < 0.82 else ["failed", "succeeded"] if r < 0.9
            else ["failed"] if r < 0.93 else [])
    provider, fingerprint = rng.choice(PROVIDERS), rng.randbytes(16)
    pays: list[Row] = []
    t: datetime = order["created_at"]
    for attempt, status in enumerate(plan, 1):
        t += timedelta(seconds=rng.randint(20, 900))
        if t >= limit:
            break
        meta = {"attempt": attempt, "three_ds": rng.random() < 0.3, "ip_country": country}
        pays.append({"id": _take(ids, "payments"), "order_id": order["id"], "amount": order["total_amount"],
                     "currency": order["currency"], "status": status, "provider": provider,
                     "card_fingerprint": None if provider == "paypal" else fingerprint,
                     "metadata": Jsonb(meta), "created_at": t, "updated_at": t})
        if status == "succeeded":
            order["status"], order["updated_at"] = "paid", t
    return pays


def _refund(rng: random.Random, ids: Ids, payment: Row, when: datetime, remaining: Decimal) -> Row:
    # `remaining` is net of refunds of every status, so no payment can ever be over-refunded.
    full = remaining < Decimal("1.00") or rng.random() < 0.6
    amount = remaining if full else max(CENT, _money(remaining * rng.randint(10, 90) / 100))
    return {"id": _take(ids, "refunds"), "payment_id": payment["id"], "order_id": payment["order_id"],
            "amount": amount, "currency": payment["currency"], "reason": rng.choice(REASONS),
            "status": rng.choices(("succeeded", "pending", "failed"), (85, 10, 5))[0],
            "created_at": when, "updated_at": when}


def _lifecycle(rng: random.Random, ids: Ids, order: Row, pays: list[Row], end: datetime) -> list[Row]:
    """Replay a historical order's later events, keeping only those before `end`; returns its refunds."""
    events: list[tuple[datetime, str]] = []
    refunds: list[Row] = []
    if order["status"] == "pending":
        if rng.random() < 0.5:
            events.append((order["created_at"] + timedelta(hours=rng.uniform(2, 72)), "cancelled"))
    else:
        paid = pays[-1]
        shipped = paid["created_at"] + timedelta(hours=rng.uniform(6, 72))
        events += [(shipped, "shipped"), (shipped + timedelta(hours=rng.uniform(24, 120)), "delivered")]
        when = paid["created_at"] + timedelta(hours=rng.uniform(24, 480))
        if rng.random() < 0.08 and when < end:
            refunds.append(_refund(rng, ids, paid, when, paid["amount"]))
            if refunds[0]["status"] == "succeeded" and refunds[0]["amount"] == paid["amount"]:
                events.append((when, "refunded"))
    for when, status in sorted(events):
        if when >= end or order["status"] == "refunded":  # refunded is terminal: no shipping after it
            break
        order["status"], order["updated_at"] = status, when
    return refunds


def generate_history(conn: psycopg.Connection, *, seed: int, scale: float, start: datetime,
                     end: datetime) -> dict[str, int]:
    """Fill the tables with activity timestamped in [start, end); returns rows inserted per table."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    span = end - start
    days = span / timedelta(days=1)
    with conn.cursor() as cur:
        ids = _next_ids(cur)
        # Seeding with the id state too means a rerun on a non-empty database cannot repeat public_ids.
        rng = random.Random(f"brightcart-history:{seed}:{scale}:{start.isoformat()}:{end.isoformat()}:{ids}")
        rows: dict[str, list[Row]] = {table: [] for table in COLUMNS}
        # The catalogue appears in an opening window so every order can reference any product.
        opening, n_products = min(HOUR, span / 10), max(5, round(150 * scale))
        rows["products"] = [_product(rng, _take(ids, "products"), start + opening * i / n_products)
                            for i in range(n_products)]
        catalogue = [(p["id"], p["price"], p["currency"]) for p in rows["products"]]
        # Signups are front-loaded (u^2) so a customer base exists early; sorted so ids follow time.
        span_us = span // timedelta(microseconds=1)
        n_users = max(3, round(2000 * scale * days / 60))
        signups = sorted(start + timedelta(microseconds=int(span_us * rng.random() ** 2))
                         for _ in range(n_users))
        users = rows["users"] = [_user(rng, _take(ids, "users"), t) for t in signups]
        for t in sorted(_at(rng, start + opening, end) for _ in range(max(1, round(200 * scale * days)))):
            n_known = bisect.bisect_right(signups, t)  # only users who already signed up can order
            if n_known == 0:
                continue
            user = users[rng.randrange(n_known)]
            order, pays = _order(rng, ids, rows, user["id"], user["country"], catalogue, t, end)
            rows["refunds"] += _lifecycle(rng, ids, order, pays, end)
        for user in users:  # some customers edited their profile after signing up
            if rng.random() < 0.2:
                user["updated_at"] = _at(rng, user["created_at"], end)
                user["preferences"] = Jsonb(_prefs(rng))
        for table in COLUMNS:
            _copy(cur, table, rows[table])
    conn.commit()
    return {table: len(rows[table]) for table in COLUMNS}


def simulate_hour(conn: psycopg.Connection, *, seed: int, scale: float,
                  hour_start: datetime) -> dict[str, int]:
    """One simulated hour of OLTP changes; every created_at/updated_at it writes lies in [hour_start, +1h)."""
    h0 = hour_start.astimezone(UTC)
    h1 = h0 + HOUR

    def volume(per_hour: float) -> int:
        # Never zero, so tests at small scales still see every kind of change whenever a candidate exists.
        return max(1, round(per_hour * scale * rng.uniform(0.5, 1.5)))

    def pick(candidates: list[Any], per_hour: float) -> list[Any]:
        # Candidates come from ORDER BY queries, so sampling them is deterministic.
        return rng.sample(candidates, min(len(candidates), volume(per_hour)))

    def mark_refunded(order_id: int, when: datetime) -> None:
        cur.execute("UPDATE orders SET status = 'refunded', updated_at = greatest(updated_at, %s) "
                    "WHERE id = %s AND status IN ('paid', 'shipped', 'delivered')", (when, order_id))

    with conn.cursor() as cur:
        ids = _next_ids(cur)
        rng = random.Random(f"brightcart-hour:{seed}:{scale}:{h0.isoformat()}:{ids}")  # see generate_history
        signups = sorted(_at(rng, h0, h1) for _ in range(volume(2)))
        rows: dict[str, list[Row]] = {"users": [_user(rng, _take(ids, "users"), t) for t in signups],
                                      "orders": [], "order_items": [], "payments": [], "refunds": []}
        _copy(cur, "users", rows["users"])
        cur.execute("SELECT id FROM users WHERE updated_at < %s ORDER BY id", (h0,))
        edits = [(Jsonb(_prefs(rng) | {"edited_at": t.isoformat()}), rng.random() < 0.5, t, uid)
                 for (uid,) in pick(cur.fetchall(), 3) for t in [_at(rng, h0, h1)]]
        cur.executemany("UPDATE users SET preferences = %s, marketing_opt_in = %s, updated_at = %s "
                        "WHERE id = %s", edits)
        cur.execute("SELECT id, country FROM users WHERE created_at < %s ORDER BY id", (h0,))
        old_users: list[tuple[int, str]] = cur.fetchall()
        cur.execute("SELECT id, price, currency FROM products WHERE created_at < %s ORDER BY id", (h0,))
        catalogue: list[tuple[int, Decimal, str]] = cur.fetchall()
        # Orders start in the first 45 minutes so their checkout (never revisited later) ends in the hour.
        # The hour's first order always attempts payment so even tiny scales see a payment every hour.
        for n, t in enumerate(sorted(_at(rng, h0, h1 - HOUR / 4) for _ in range(volume(8)))):
            pool = old_users + [(u["id"], u["country"]) for u in rows["users"] if u["created_at"] <= t]
            if not pool or not catalogue:
                break
            uid, country = rng.choice(pool)
            _order(rng, ids, rows, uid, country, catalogue, t, h1, must_pay=n == 0)
        for table in ("orders", "order_items", "payments"):
            _copy(cur, table, rows[table])
        # Pending refunds settle; settling the last cent of a payment makes the order 'refunded'.
        cur.execute("""SELECT r.id, r.payment_id, r.order_id, p.amount FROM refunds r
                       JOIN payments p ON p.id = r.payment_id
                       WHERE r.status = 'pending' AND r.updated_at < %s ORDER BY r.id""", (h0,))
        settles = pick(cur.fetchall(), 0.5)
        for rid, pid, oid, paid in settles:
            ok, when = rng.random() < 0.8, _at(rng, h0, h1)
            cur.execute("UPDATE refunds SET status = %s, updated_at = %s WHERE id = %s",
                        ("succeeded" if ok else "failed", when, rid))
            cur.execute("SELECT sum(amount) FROM refunds WHERE payment_id = %s AND status = 'succeeded'",
                        (pid,))
            if ok and (cur.fetchone() or (None,))[0] == paid:
                mark_refunded(oid, when)
        # New refunds of earlier successful payments, within what is left to refund.
        cur.execute("""SELECT p.id, p.order_id, p.currency, p.amount, p.amount - coalesce(sum(r.amount), 0),
                              coalesce(sum(r.amount) FILTER (WHERE r.status = 'succeeded'), 0)
                       FROM payments p JOIN orders o ON o.id = p.order_id
                       LEFT JOIN refunds r ON r.payment_id = p.id
                       WHERE p.status = 'succeeded' AND p.created_at < %s
                         AND o.status IN ('paid', 'shipped', 'delivered')
                       GROUP BY p.id HAVING p.amount > coalesce(sum(r.amount), 0)
                       ORDER BY p.created_at DESC, p.id DESC LIMIT 500""", (h0,))
        for pid, oid, currency, paid, remaining, done in pick(cur.fetchall(), 0.5):
            payment = {"id": pid, "order_id": oid, "currency": currency}
            refund = _refund(rng, ids, payment, _at(rng, h0, h1), remaining)
            rows["refunds"].append(refund)
            if refund["status"] == "succeeded" and done + refund["amount"] == paid:
                mark_refunded(oid, refund["created_at"])
        _copy(cur, "refunds", rows["refunds"])
        # Fulfilment is first-in-first-out, a few hours after the last change; two moves per order.
        cur.execute("""SELECT id, status FROM orders WHERE status IN ('paid', 'shipped') AND updated_at < %s
                       ORDER BY updated_at, id LIMIT 200""", (h0 - 4 * HOUR,))
        moves = [("shipped" if status == "paid" else "delivered", _at(rng, h0, h1), oid)
                 for oid, status in pick(cur.fetchall(), 14)]
        cur.executemany("UPDATE orders SET status = %s, updated_at = greatest(updated_at, %s) WHERE id = %s",
                        moves)
        cur.execute("SELECT id FROM orders WHERE status = 'pending' AND updated_at < %s ORDER BY id", (h0,))
        cancels = [(_at(rng, h0, h1), oid) for (oid,) in pick(cur.fetchall(), 1)]
        cur.executemany("UPDATE orders SET status = 'cancelled', updated_at = %s WHERE id = %s", cancels)
    conn.commit()
    counts = {table: len(table_rows) for table, table_rows in rows.items()}
    return counts | {"user_updates": len(edits), "order_updates": len(moves), "cancellations": len(cancels),
                     "refund_updates": len(settles)}

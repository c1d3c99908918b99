"""The marts' numbers computed independently: PostgreSQL SQL on the marketplace tables, and plain Python.

Written apart from sql/marts/*.sql, in PostgreSQL's dialect, from the definitions in docs/metrics.md.
Money is returned in minor units (integer cents) so comparisons are exact.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import psycopg

ORDERS = """
SELECT o.id, (o.created_at AT TIME ZONE 'UTC')::date, o.user_id, o.currency, o.status::text,
       (SELECT count(*) FROM order_items i WHERE i.order_id = o.id),
       (SELECT coalesce(sum(quantity), 0) FROM order_items i WHERE i.order_id = o.id),
       (SELECT round(coalesce(sum(quantity * unit_price), 0) * 100) FROM order_items i WHERE i.order_id = o.id),
       round(o.total_amount * 100),
       (SELECT count(*) FROM payments p WHERE p.order_id = o.id),
       (SELECT count(*) FROM payments p WHERE p.order_id = o.id AND p.status = 'failed'),
       (SELECT p.id FROM payments p WHERE p.order_id = o.id AND p.status = 'succeeded' ORDER BY p.id LIMIT 1),
       (SELECT round(coalesce(sum(amount), 0) * 100) FROM payments p
         WHERE p.order_id = o.id AND p.status = 'succeeded'),
       (SELECT count(*) FROM refunds r WHERE r.order_id = o.id),
       (SELECT round(coalesce(sum(amount), 0) * 100) FROM refunds r
         WHERE r.order_id = o.id AND r.status = 'succeeded'),
       (SELECT round(coalesce(sum(amount), 0) * 100) FROM refunds r
         WHERE r.order_id = o.id AND r.status = 'pending'),
       (SELECT min(created_at) FROM payments p WHERE p.order_id = o.id AND p.status = 'succeeded')
FROM orders o ORDER BY o.id
"""
ORDER_COLUMNS = """order_id, order_date, user_id, currency, status, line_count, units,
    CAST(round(items_amount * 100) AS BIGINT), CAST(round(total_amount * 100) AS BIGINT), payment_attempts,
    failed_payments, payment_id, CAST(round(paid_amount * 100) AS BIGINT), refund_count,
    CAST(round(refunded_amount * 100) AS BIGINT), CAST(round(pending_refund_amount * 100) AS BIGINT), paid_at"""

REFUNDS = """
SELECT r.id, (r.created_at AT TIME ZONE 'UTC')::date, r.payment_id, r.order_id, o.user_id, r.currency,
       r.status::text, r.reason, round(r.amount * 100), round(p.amount * 100),
       round(coalesce((SELECT sum(e.amount) FROM refunds e
                       WHERE e.payment_id = r.payment_id AND e.status = 'succeeded'
                         AND (e.created_at, e.id) < (r.created_at, r.id)), 0) * 100),
       floor(extract(epoch FROM r.created_at - p.created_at))::bigint,
       (r.created_at AT TIME ZONE 'UTC')::date - (p.created_at AT TIME ZONE 'UTC')::date,
       r.amount = p.amount
FROM refunds r JOIN payments p ON p.id = r.payment_id JOIN orders o ON o.id = r.order_id
ORDER BY r.id
"""
REFUND_COLUMNS = """refund_id, refund_date, payment_id, order_id, user_id, currency, status, reason,
    CAST(round(amount * 100) AS BIGINT), CAST(round(payment_amount * 100) AS BIGINT),
    CAST(round(refunded_before * 100) AS BIGINT), lag_seconds, lag_days, is_full_refund"""

PRODUCTS = """SELECT id, sku, name, category, round(price * 100), currency, tags, thumbnail IS NOT NULL
              FROM products ORDER BY id"""
PRODUCT_COLUMNS = """product_id, sku, product_name, category, CAST(round(list_price * 100) AS BIGINT), currency,
    tags, has_thumbnail"""


def rows(dsn: str, query: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return [tuple(int(v) if _is_decimal(v) else v for v in r) for r in conn.execute(query).fetchall()]


def _is_decimal(value: object) -> bool:
    return type(value).__name__ == "Decimal"


def _month(day: date) -> date:
    return day.replace(day=1)


def _months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def cohorts(dsn: str) -> tuple[dict[tuple, tuple], dict[tuple, tuple]]:
    """Retention and cohort revenue computed in Python from raw source rows (UTC months, cents).

    Returns {(cohort, n): (size, active)} and {(cohort, n, currency): (gross, refunds, net, cumulative)}."""
    with psycopg.connect(dsn) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        users = dict(conn.execute("SELECT id, created_at FROM users").fetchall())
        pays = conn.execute("""SELECT o.user_id, p.currency, p.created_at, p.amount FROM payments p
                               JOIN orders o ON o.id = p.order_id WHERE p.status = 'succeeded'""").fetchall()
        refs = conn.execute("""SELECT o.user_id, r.currency, r.created_at, r.amount FROM refunds r
                               JOIN orders o ON o.id = r.order_id WHERE r.status = 'succeeded'""").fetchall()
    cohort_of = {uid: _month(t.date()) for uid, t in users.items()}
    size: dict[date, int] = defaultdict(int)
    for month in cohort_of.values():
        size[month] += 1
    active: dict[tuple, set] = defaultdict(set)
    money: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for uid, currency, at, amount in pays:
        n = _months_between(cohort_of[uid], at.date())
        active[(cohort_of[uid], n)].add(uid)
        money[(cohort_of[uid], n, currency)][0] += int(amount * 100)
    for uid, currency, at, amount in refs:
        money[(cohort_of[uid], _months_between(cohort_of[uid], at.date()), currency)][1] += int(amount * 100)
    last = max([*size, *(_month(t.date()) for _, _, t, _ in pays)])
    retention = {(c, n): (size[c], len(active.get((c, n), ()))) for c in size
                 for n in range(_months_between(c, last) + 1)}
    last_money = max(_month(t.date()) for _, _, t, _ in [*pays, *refs])
    revenue = {}
    for c, cur in {(c, cur) for c, _, cur in money}:
        running = 0
        for n in range(_months_between(c, last_money) + 1):
            gross, refunded = money.get((c, n, cur), [0, 0])
            running += gross - refunded
            revenue[(c, n, cur)] = (gross, refunded, gross - refunded, running)
    return retention, revenue


def calendar(first: date, last: date) -> list[tuple]:
    """dim_date rows from Python's calendar: (day, iso weekday, iso year, iso week, week start, quarter)."""
    out, day = [], first
    while day <= last:
        iso = day.isocalendar()
        out.append((day, iso.weekday, iso.year, iso.week, day - timedelta(days=iso.weekday - 1),
                    (day.month - 1) // 3 + 1, day.strftime("%A"), day.strftime("%Y-%m")))
        day += timedelta(days=1)
    return out

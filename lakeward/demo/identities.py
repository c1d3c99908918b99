"""How one BrightCart customer is named in each system, so every generator agrees without sharing state.

A marketplace user becomes a Stripe customer with their first Stripe payment; the Stripe customer's
metadata carries the app user id, and a Salesforce Account carries the Stripe customer id.
"""

from __future__ import annotations

# Marketplace users who are Stripe customers as of %(as_of)s, with when they became one.
STRIPE_CUSTOMERS_SQL = """
SELECT u.id, u.email, u.full_name, u.country, min(p.created_at) AS customer_since
FROM users u JOIN orders o ON o.user_id = u.id JOIN payments p ON p.order_id = o.id
WHERE p.provider = 'stripe' AND p.created_at < %(as_of)s
GROUP BY u.id, u.email, u.full_name, u.country
ORDER BY u.id
"""


def stripe_customer_id(user_id: int) -> str:
    return f"cus_BC{user_id:010d}"


def salesforce_account_id(user_id: int) -> str:
    return f"001BC{user_id:010d}AAA"  # 18 characters, Account key prefix 001

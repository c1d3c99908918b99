-- One row per dim_customer customer with its facts from each system: marketplace orders, live Stripe
-- subscriptions, Salesforce opportunities, and when the app user was last seen in app events or GA4.
-- Counts are 0, and times NULL, for systems the customer is not known in. No money is summed here: a
-- customer can pay in several currencies (see daily_revenue, subscription_mrr for amounts).
WITH orders AS (
    SELECT user_id, count(*) AS order_count, min(created_at) AS first_order_at, max(created_at) AS last_order_at
    FROM staging.postgres__orders
    GROUP BY user_id
),
subscriptions AS (
    SELECT customer, count(*) AS active_subscriptions
    FROM staging.stripe__subscriptions
    WHERE status IN ('active', 'past_due')
    GROUP BY customer
),
opportunities AS (
    SELECT
        account_id,
        count(CASE WHEN is_won THEN 1 END) AS won_opportunities,
        count(CASE WHEN NOT is_closed THEN 1 END) AS open_opportunities
    FROM staging.salesforce__opportunity
    WHERE NOT is_deleted
    GROUP BY account_id
),
seen AS (
    SELECT user_id, max(seen_at) AS last_seen_at
    FROM (
        SELECT user_id, occurred_at AS seen_at FROM staging.events__app_events WHERE user_id IS NOT NULL
        UNION ALL
        SELECT app_user_id, event_time FROM staging.ga4__events WHERE app_user_id IS NOT NULL
    ) AS t
    GROUP BY user_id
)
SELECT
    c.customer_key,
    c.app_user_id,
    c.stripe_customer_id,
    c.salesforce_account_id,
    c.in_app,
    c.in_stripe,
    c.in_salesforce,
    COALESCE(o.order_count, 0) AS order_count,
    o.first_order_at,
    o.last_order_at,
    COALESCE(s.active_subscriptions, 0) AS active_subscriptions,
    COALESCE(p.won_opportunities, 0) AS won_opportunities,
    COALESCE(p.open_opportunities, 0) AS open_opportunities,
    a.last_seen_at
FROM marts.dim_customer AS c
LEFT JOIN orders AS o ON o.user_id = c.app_user_id
LEFT JOIN subscriptions AS s ON s.customer = c.stripe_customer_id
LEFT JOIN opportunities AS p ON p.account_id = c.salesforce_account_id
LEFT JOIN seen AS a ON a.user_id = c.app_user_id

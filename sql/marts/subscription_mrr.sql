-- One row per Stripe subscription with its current plan as monthly and annual recurring revenue, in
-- minor units of its currency. Yearly plans count a twelfth of their price per month (rounded to the
-- minor unit); a subscription counts toward MRR while active or past due, not once canceled.
WITH items AS (
    SELECT
        s.id AS subscription_id,
        json_extract_scalar(item, '$.price.recurring.interval') AS billing_interval,
        CAST(json_extract_scalar(item, '$.price.unit_amount') AS BIGINT)
            * CAST(json_extract_scalar(item, '$.quantity') AS BIGINT) AS amount
    FROM staging.stripe__subscriptions AS s
    CROSS JOIN UNNEST(CAST(json_extract(s.items, '$.data') AS ARRAY(JSON))) AS t (item)
),
plans AS (
    SELECT
        subscription_id,
        max(billing_interval) AS billing_interval,
        count(*) AS item_count,
        sum(CASE billing_interval WHEN 'year' THEN amount WHEN 'month' THEN amount * 12 END) AS arr
    FROM items
    GROUP BY subscription_id
)
SELECT
    s.id AS subscription_id,
    s.customer AS customer_id,
    TRY_CAST(k.metadata__app_user_id AS BIGINT) AS app_user_id,
    upper(s.currency) AS currency,
    s.livemode,
    s.status,
    p.billing_interval,
    s.quantity,
    s.created AS started_at,
    s.canceled_at,
    s.ended_at,
    s.cancel_at_period_end,
    s.status IN ('active', 'past_due') AS is_active,
    p.arr AS arr_minor,
    CAST(round(CAST(p.arr AS DOUBLE) / 12) AS BIGINT) AS mrr_minor
FROM staging.stripe__subscriptions AS s
JOIN plans AS p ON p.subscription_id = s.id
LEFT JOIN staging.stripe__customers AS k ON k.id = s.customer

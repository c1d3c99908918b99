-- The purchase funnel by the UTC day a session started, source (GA4 web analytics or app events),
-- channel (the session's marketing medium, '(none)' when it had none) and device:
-- session -> product_view -> add_to_cart -> checkout_started -> purchase.
-- A session reaches a step when it has at least one event of that step, whatever the order; step
-- conversion is sessions at a step over sessions at the step before (NULL when that is zero).
-- Counts use count(CASE ...): DuckDB's count_if gives NULL, not 0, when every input is NULL.
WITH ga4 AS (
    SELECT
        'ga4' AS source,
        session_key AS session_id,
        event_time AS occurred_at,
        session__medium AS medium,
        device__category AS device,
        CASE event_name
            WHEN 'view_item' THEN 'product_view'
            WHEN 'add_to_cart' THEN 'add_to_cart'
            WHEN 'begin_checkout' THEN 'checkout_started'
            WHEN 'purchase' THEN 'purchase'
        END AS step
    FROM staging.ga4__events
    WHERE session_key IS NOT NULL
),
app AS (
    SELECT
        'app_events' AS source,
        session_id,
        occurred_at,
        utm_medium AS medium,
        device_platform AS device,
        CASE WHEN event_type IN ('product_view', 'add_to_cart', 'checkout_started', 'purchase') THEN event_type END
            AS step
    FROM staging.events__app_events
    WHERE session_id IS NOT NULL
),
events AS (
    SELECT * FROM ga4
    UNION ALL
    SELECT * FROM app
),
sessions AS (
    SELECT
        source,
        session_id,
        CAST(min(occurred_at) AS DATE) AS session_date,
        COALESCE(min_by(medium, CASE WHEN medium IS NOT NULL THEN occurred_at END), '(none)') AS channel,
        COALESCE(min_by(device, occurred_at), 'unknown') AS device,
        count(CASE WHEN step = 'product_view' THEN 1 END) > 0 AS viewed,
        count(CASE WHEN step = 'add_to_cart' THEN 1 END) > 0 AS carted,
        count(CASE WHEN step = 'checkout_started' THEN 1 END) > 0 AS checked_out,
        count(CASE WHEN step = 'purchase' THEN 1 END) > 0 AS purchased
    FROM events
    GROUP BY source, session_id
),
steps AS (
    SELECT
        session_date,
        source,
        channel,
        device,
        count(*) AS sessions,
        count(CASE WHEN viewed THEN 1 END) AS product_view_sessions,
        count(CASE WHEN carted THEN 1 END) AS add_to_cart_sessions,
        count(CASE WHEN checked_out THEN 1 END) AS checkout_sessions,
        count(CASE WHEN purchased THEN 1 END) AS purchase_sessions
    FROM sessions
    GROUP BY 1, 2, 3, 4
)
SELECT
    *,
    CAST(product_view_sessions AS DOUBLE) / sessions AS product_view_rate,
    CAST(add_to_cart_sessions AS DOUBLE) / nullif(product_view_sessions, 0) AS add_to_cart_rate,
    CAST(checkout_sessions AS DOUBLE) / nullif(add_to_cart_sessions, 0) AS checkout_rate,
    CAST(purchase_sessions AS DOUBLE) / nullif(checkout_sessions, 0) AS purchase_rate,
    CAST(purchase_sessions AS DOUBLE) / sessions AS conversion_rate
FROM steps

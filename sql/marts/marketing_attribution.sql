-- Credit for order revenue and closed-won opportunity amounts, by attribution model, conversion type,
-- campaign, channel and currency, in minor units.
-- Order revenue: each order's successful payments, credited to its buyer's sessions (app events, or GA4 sessions
-- of a campaign) that carried a UTM campaign within the lookback window before the order (touches; a session's
-- touch time is its first event with a campaign). first_touch gives all of it to the
-- earliest touch, last_touch to the latest, linear splits it evenly in whole minor units: touch i of n (by time)
-- gets floor(amount * i / n) - floor(amount * (i - 1) / n), so the parts add up to the amount exactly (a double
-- quotient is exact enough: a non-integer one is at least 1/n from the next integer).
-- Opportunity amount: a closed-won, live Opportunity credits its primary Campaign (the one touch Salesforce keeps)
-- in every model. Conversions without a touch go to campaign '(none)', channel '(none)'.
WITH params AS (
    SELECT 30 AS lookback_days  -- the attribution lookback window, in days: change it here
),
sessions AS (
    SELECT
        session_id,
        max(user_id) AS user_id,
        min_by(utm_campaign, CASE WHEN utm_campaign IS NOT NULL THEN occurred_at END) AS utm_campaign,
        min_by(utm_medium, CASE WHEN utm_campaign IS NOT NULL THEN occurred_at END) AS channel,
        min(CASE WHEN utm_campaign IS NOT NULL THEN occurred_at END) AS touched_at
    FROM staging.events__app_events
    WHERE session_id IS NOT NULL
    GROUP BY session_id
    UNION ALL
    SELECT
        concat('ga4:', session_key),
        max(app_user_id),
        min_by(session__campaign, event_time),
        min_by(session__medium, event_time),
        min(event_time)
    FROM staging.ga4__events
    WHERE session_key IS NOT NULL AND session__campaign_id IS NOT NULL
    GROUP BY session_key
),
orders AS (
    SELECT o.id AS order_id, o.user_id, o.created_at, upper(o.currency) AS currency,
        CAST(round(sum(p.amount) * 100) AS BIGINT) AS amount_minor
    FROM staging.postgres__orders AS o
    JOIN staging.postgres__payments AS p ON p.order_id = o.id AND p.status = 'succeeded'
    GROUP BY o.id, o.user_id, o.created_at, o.currency
),
touches AS (
    SELECT
        o.order_id, o.currency, o.amount_minor, s.utm_campaign, s.channel,
        row_number() OVER (PARTITION BY o.order_id ORDER BY s.touched_at, s.session_id) AS i,
        count(*) OVER (PARTITION BY o.order_id) AS n
    FROM orders AS o
    CROSS JOIN params AS k
    JOIN sessions AS s
        ON s.user_id = o.user_id AND s.utm_campaign IS NOT NULL AND s.touched_at <= o.created_at
        AND s.touched_at >= o.created_at - k.lookback_days * INTERVAL '1' DAY
),
credits AS (
    SELECT m.model, 'order' AS conversion_type, t.utm_campaign AS campaign_key, t.channel, t.currency,
        CASE m.model
            WHEN 'first_touch' THEN CASE WHEN t.i = 1 THEN t.amount_minor ELSE 0 END
            WHEN 'last_touch' THEN CASE WHEN t.i = t.n THEN t.amount_minor ELSE 0 END
            ELSE CAST(floor(CAST(t.amount_minor * t.i AS DOUBLE) / t.n)
                - floor(CAST(t.amount_minor * (t.i - 1) AS DOUBLE) / t.n) AS BIGINT)
        END AS credit_minor,
        CASE m.model WHEN 'first_touch' THEN t.i = 1 WHEN 'last_touch' THEN t.i = t.n ELSE true END AS credited
    FROM touches AS t
    CROSS JOIN (VALUES ('first_touch'), ('last_touch'), ('linear')) AS m (model)
    UNION ALL
    SELECT m.model, 'order', '(none)', '(none)', o.currency, o.amount_minor, true
    FROM orders AS o
    CROSS JOIN (VALUES ('first_touch'), ('last_touch'), ('linear')) AS m (model)
    WHERE o.order_id NOT IN (SELECT order_id FROM touches)
    UNION ALL
    SELECT m.model, 'opportunity', COALESCE(c.campaign_key, '(none)'), COALESCE(c.utm_medium, '(none)'),
        upper(op.currency_iso_code), CAST(round(op.amount * 100) AS BIGINT), true
    FROM staging.salesforce__opportunity AS op
    LEFT JOIN marts.dim_campaign AS c ON c.salesforce_campaign_id = op.campaign_id
    CROSS JOIN (VALUES ('first_touch'), ('last_touch'), ('linear')) AS m (model)
    WHERE op.is_won AND NOT op.is_deleted
)
SELECT
    model,
    conversion_type,
    campaign_key,
    channel,
    currency,
    CAST(sum(credit_minor) AS BIGINT) AS credited_minor,
    count(CASE WHEN credited THEN 1 END) AS credited_touches
FROM credits
GROUP BY 1, 2, 3, 4, 5
HAVING count(CASE WHEN credited THEN 1 END) > 0  -- a campaign only ever second in first_touch gets no row

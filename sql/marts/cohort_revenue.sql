-- Net revenue of each monthly signup cohort by months since signup and currency, with the running total.
-- Payments count in the month taken, refunds in the month issued (so a later refund lowers a later
-- month); only succeeded payments and refunds count; currencies are never added together.
WITH customers AS (
    SELECT id AS user_id, CAST(date_trunc('month', CAST(created_at AS DATE)) AS DATE) AS cohort_month
    FROM staging.postgres__users
),
money AS (
    SELECT o.user_id, p.currency, p.created_at AS at, p.amount AS gross, CAST(0 AS DECIMAL(12, 2)) AS refunded
    FROM staging.postgres__payments AS p
    JOIN staging.postgres__orders AS o ON o.id = p.order_id
    WHERE p.status = 'succeeded'
    UNION ALL
    SELECT o.user_id, r.currency, r.created_at, CAST(0 AS DECIMAL(12, 2)), r.amount
    FROM staging.postgres__refunds AS r
    JOIN staging.postgres__orders AS o ON o.id = r.order_id
    WHERE r.status = 'succeeded'
),
monthly AS (
    SELECT
        c.cohort_month,
        m.currency,
        (year(m.at) - year(c.cohort_month)) * 12 + month(m.at) - month(c.cohort_month) AS months_since_signup,
        sum(m.gross) AS gross,
        sum(m.refunded) AS refunded
    FROM money AS m
    JOIN customers AS c ON c.user_id = m.user_id
    GROUP BY 1, 2, 3
),
latest AS (
    SELECT max(CAST(date_trunc('month', CAST(at AS DATE)) AS DATE)) AS last_month FROM money
),
spine AS (
    SELECT k.cohort_month, k.currency, n AS months_since_signup
    FROM (SELECT DISTINCT cohort_month, currency FROM monthly) AS k
    CROSS JOIN latest AS l
    CROSS JOIN UNNEST(sequence(0, (year(l.last_month) - year(k.cohort_month)) * 12
                                  + month(l.last_month) - month(k.cohort_month))) AS t (n)
)
SELECT
    s.cohort_month,
    s.months_since_signup,
    s.currency,
    CAST(COALESCE(m.gross, 0) AS DECIMAL(18, 2)) AS gross_amount,
    CAST(COALESCE(m.refunded, 0) AS DECIMAL(18, 2)) AS refund_amount,
    CAST(COALESCE(m.gross, 0) - COALESCE(m.refunded, 0) AS DECIMAL(18, 2)) AS net_amount,
    CAST(sum(COALESCE(m.gross, 0) - COALESCE(m.refunded, 0)) OVER (
        PARTITION BY s.cohort_month, s.currency ORDER BY s.months_since_signup
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS DECIMAL(18, 2)) AS cumulative_net_amount
FROM spine AS s
LEFT JOIN monthly AS m
    ON m.cohort_month = s.cohort_month AND m.currency = s.currency
    AND m.months_since_signup = s.months_since_signup

-- Daily revenue by UTC day and currency, from the marketplace database.
--   gross   = successful payments taken that day
--   refunds = successful refunds issued that day (a refund counts on its own day, not the sale's)
--   net     = gross - refunds
--   orders  = distinct orders with a successful payment that day
--   buyers  = distinct users with a successful payment that day
-- Amounts are never summed across currencies.
WITH paid AS (
    SELECT
        CAST(p.created_at AS DATE) AS revenue_date,
        p.currency,
        p.amount,
        p.order_id,
        o.user_id
    FROM staging.postgres__payments AS p
    JOIN staging.postgres__orders AS o ON o.id = p.order_id
    WHERE p.status = 'succeeded'
),
refunded AS (
    SELECT CAST(r.created_at AS DATE) AS revenue_date, r.currency, r.amount
    FROM staging.postgres__refunds AS r
    WHERE r.status = 'succeeded'
),
gross AS (
    SELECT
        revenue_date,
        currency,
        SUM(amount) AS gross_amount,
        COUNT(DISTINCT order_id) AS orders,
        COUNT(DISTINCT user_id) AS buyers
    FROM paid
    GROUP BY revenue_date, currency
),
refunds AS (
    SELECT revenue_date, currency, SUM(amount) AS refund_amount
    FROM refunded
    GROUP BY revenue_date, currency
)
SELECT
    COALESCE(g.revenue_date, r.revenue_date) AS revenue_date,
    COALESCE(g.currency, r.currency) AS currency,
    CAST(COALESCE(g.gross_amount, 0) AS DECIMAL(18, 2)) AS gross_amount,
    CAST(COALESCE(r.refund_amount, 0) AS DECIMAL(18, 2)) AS refund_amount,
    CAST(COALESCE(g.gross_amount, 0) - COALESCE(r.refund_amount, 0) AS DECIMAL(18, 2)) AS net_amount,
    COALESCE(g.orders, 0) AS orders,
    COALESCE(g.buyers, 0) AS buyers
FROM gross AS g
FULL OUTER JOIN refunds AS r
    ON g.revenue_date = r.revenue_date AND g.currency = r.currency

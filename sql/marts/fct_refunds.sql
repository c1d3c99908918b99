-- One row per refund (every status): why, how long after the payment it refunds, and what share of that
-- payment it returns. A refund is dated on the day it was issued, not the day of the sale.
-- Lags use whole seconds between instants and calendar days between UTC dates: date_diff over
-- timestamps counts whole intervals on Athena but boundaries on DuckDB.
WITH refunds AS (
    SELECT
        r.*,
        COALESCE(sum(CASE WHEN r.status = 'succeeded' THEN r.amount END) OVER (
            PARTITION BY r.payment_id ORDER BY r.created_at, r.id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ), 0) AS refunded_before
    FROM staging.postgres__refunds AS r
)
SELECT
    r.id AS refund_id,
    CAST(r.created_at AS DATE) AS refund_date,
    r.created_at,
    r.updated_at AS status_updated_at,
    r.payment_id,
    r.order_id,
    o.user_id,
    r.currency,
    r.status,
    r.reason,
    p.provider,
    CAST(r.amount AS DECIMAL(18, 2)) AS amount,
    CAST(p.amount AS DECIMAL(18, 2)) AS payment_amount,
    CAST(r.refunded_before AS DECIMAL(18, 2)) AS refunded_before,
    p.created_at AS payment_created_at,
    CAST(p.created_at AS DATE) AS payment_date,
    CAST(floor(to_unixtime(r.created_at) - to_unixtime(p.created_at)) AS BIGINT) AS lag_seconds,
    date_diff('day', CAST(p.created_at AS DATE), CAST(r.created_at AS DATE)) AS lag_days,
    CAST(r.amount AS DOUBLE) / CAST(p.amount AS DOUBLE) AS amount_share,
    r.amount = p.amount AS is_full_refund,
    date_trunc('month', CAST(r.created_at AS DATE)) <> date_trunc('month', CAST(p.created_at AS DATE))
        AS is_later_month
FROM refunds AS r
JOIN staging.postgres__payments AS p ON p.id = r.payment_id
JOIN staging.postgres__orders AS o ON o.id = r.order_id

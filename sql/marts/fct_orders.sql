-- One row per order: its lines, amounts, payment attempts and refunds, and the times of its status
-- changes the source keeps (created, first attempt, paid, last refund, current status since).
-- Money is in the order's currency; refunds count whatever month they happen in.
WITH items AS (
    SELECT
        order_id,
        count(*) AS line_count,
        sum(quantity) AS units,
        count(DISTINCT product_id) AS distinct_products,
        sum(quantity * unit_price) AS items_amount
    FROM staging.postgres__order_items
    GROUP BY order_id
),
payments AS (
    SELECT
        order_id,
        count(*) AS payment_attempts,
        count(CASE WHEN status = 'failed' THEN 1 END) AS failed_payments,
        min(created_at) AS first_attempt_at,
        min(CASE WHEN status = 'succeeded' THEN id END) AS payment_id,
        min(CASE WHEN status = 'succeeded' THEN created_at END) AS paid_at,
        sum(CASE WHEN status = 'succeeded' THEN amount ELSE 0 END) AS paid_amount
    FROM staging.postgres__payments
    GROUP BY order_id
),
refunds AS (
    SELECT
        order_id,
        count(*) AS refund_count,
        count(CASE WHEN status = 'succeeded' THEN 1 END) AS succeeded_refunds,
        sum(CASE WHEN status = 'succeeded' THEN amount ELSE 0 END) AS refunded_amount,
        sum(CASE WHEN status = 'pending' THEN amount ELSE 0 END) AS pending_refund_amount,
        max(CASE WHEN status = 'succeeded' THEN created_at END) AS last_refund_at
    FROM staging.postgres__refunds
    GROUP BY order_id
)
SELECT
    o.id AS order_id,
    CAST(o.created_at AS DATE) AS order_date,
    o.user_id,
    o.currency,
    o.status,
    o.created_at,
    p.first_attempt_at,
    p.paid_at,
    r.last_refund_at,
    o.updated_at AS status_updated_at,
    CAST(floor(to_unixtime(p.paid_at) - to_unixtime(o.created_at)) AS BIGINT) AS seconds_to_pay,
    COALESCE(i.line_count, 0) AS line_count,
    COALESCE(i.units, 0) AS units,
    COALESCE(i.distinct_products, 0) AS distinct_products,
    CAST(COALESCE(i.items_amount, 0) AS DECIMAL(18, 2)) AS items_amount,
    CAST(o.subtotal AS DECIMAL(18, 2)) AS subtotal,
    CAST(o.shipping AS DECIMAL(18, 2)) AS shipping,
    CAST(o.total_amount AS DECIMAL(18, 2)) AS total_amount,
    COALESCE(p.payment_attempts, 0) AS payment_attempts,
    COALESCE(p.failed_payments, 0) AS failed_payments,
    p.payment_id,
    CAST(COALESCE(p.paid_amount, 0) AS DECIMAL(18, 2)) AS paid_amount,
    COALESCE(r.refund_count, 0) AS refund_count,
    COALESCE(r.succeeded_refunds, 0) AS succeeded_refunds,
    CAST(COALESCE(r.refunded_amount, 0) AS DECIMAL(18, 2)) AS refunded_amount,
    CAST(COALESCE(r.pending_refund_amount, 0) AS DECIMAL(18, 2)) AS pending_refund_amount,
    CAST(COALESCE(p.paid_amount, 0) - COALESCE(r.refunded_amount, 0) AS DECIMAL(18, 2)) AS net_amount,
    p.paid_at IS NOT NULL AS is_paid,
    COALESCE(p.paid_amount, 0) > 0 AND COALESCE(r.refunded_amount, 0) >= p.paid_amount AS is_fully_refunded
FROM staging.postgres__orders AS o
LEFT JOIN items AS i ON i.order_id = o.id
LEFT JOIN payments AS p ON p.order_id = o.id
LEFT JOIN refunds AS r ON r.order_id = o.id

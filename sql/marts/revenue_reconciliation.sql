-- Marketplace payments taken through Stripe, as the marketplace database and as Stripe record them,
-- per UTC day and currency, in minor units. A non-zero difference is a payment one side lacks.
WITH marketplace AS (
    SELECT
        CAST(p.created_at AS DATE) AS revenue_date,
        p.currency,
        sum(CAST(round(p.amount * 100) AS BIGINT)) AS gross_minor,
        count(*) AS payments
    FROM staging.postgres__payments AS p
    WHERE p.provider = 'stripe' AND p.status = 'succeeded'
    GROUP BY 1, 2
),
marketplace_refunds AS (
    SELECT CAST(r.created_at AS DATE) AS revenue_date, r.currency, sum(CAST(round(r.amount * 100) AS BIGINT)) AS refunds_minor
    FROM staging.postgres__refunds AS r
    JOIN staging.postgres__payments AS p ON p.id = r.payment_id
    WHERE p.provider = 'stripe' AND r.status = 'succeeded'
    GROUP BY 1, 2
),
stripe AS (
    SELECT CAST(c.created AS DATE) AS revenue_date, upper(c.currency) AS currency,
           sum(c.amount) AS gross_minor, count(*) AS payments
    FROM staging.stripe__charges AS c
    WHERE c.status = 'succeeded' AND c.metadata__order_id IS NOT NULL
    GROUP BY 1, 2
),
stripe_refunds AS (
    SELECT CAST(r.created AS DATE) AS revenue_date, upper(r.currency) AS currency, sum(r.amount) AS refunds_minor
    FROM staging.stripe__refunds AS r
    JOIN staging.stripe__charges AS c ON c.id = r.charge
    WHERE r.status = 'succeeded' AND c.metadata__order_id IS NOT NULL
    GROUP BY 1, 2
),
days AS (
    SELECT revenue_date, currency FROM marketplace
    UNION SELECT revenue_date, currency FROM marketplace_refunds
    UNION SELECT revenue_date, currency FROM stripe
    UNION SELECT revenue_date, currency FROM stripe_refunds
)
SELECT
    k.revenue_date,
    k.currency,
    COALESCE(m.payments, 0) AS marketplace_payments,
    COALESCE(s.payments, 0) AS stripe_charges,
    COALESCE(m.gross_minor, 0) AS marketplace_gross_minor,
    COALESCE(s.gross_minor, 0) AS stripe_gross_minor,
    COALESCE(s.gross_minor, 0) - COALESCE(m.gross_minor, 0) AS gross_difference_minor,
    COALESCE(mr.refunds_minor, 0) AS marketplace_refunds_minor,
    COALESCE(sr.refunds_minor, 0) AS stripe_refunds_minor,
    COALESCE(sr.refunds_minor, 0) - COALESCE(mr.refunds_minor, 0) AS refunds_difference_minor,
    COALESCE(s.gross_minor, 0) = COALESCE(m.gross_minor, 0)
        AND COALESCE(sr.refunds_minor, 0) = COALESCE(mr.refunds_minor, 0) AS reconciled
FROM days AS k
LEFT JOIN marketplace AS m ON m.revenue_date = k.revenue_date AND m.currency = k.currency
LEFT JOIN marketplace_refunds AS mr ON mr.revenue_date = k.revenue_date AND mr.currency = k.currency
LEFT JOIN stripe AS s ON s.revenue_date = k.revenue_date AND s.currency = k.currency
LEFT JOIN stripe_refunds AS sr ON sr.revenue_date = k.revenue_date AND sr.currency = k.currency

-- Stripe money by UTC day, currency, product line and acquisition channel, from the balance ledger.
-- Every balance transaction counts on the day Stripe booked it: a refund or dispute weeks after its
-- charge lowers that later day. Amounts are integer minor units, never summed across currencies or
-- between live and test mode. Payouts move money out of the balance and are not revenue.
WITH ledger AS (
    SELECT
        b.id,
        CAST(b.created AS DATE) AS revenue_date,
        upper(b.currency) AS currency,
        b.reporting_category,
        b.amount,
        b.fee,
        b.net,
        CASE b.reporting_category
            WHEN 'charge' THEN b.source
            WHEN 'refund' THEN r.charge
            WHEN 'dispute' THEN d.charge
        END AS charge_id
    FROM staging.stripe__balance_transactions AS b
    LEFT JOIN staging.stripe__refunds AS r ON b.reporting_category = 'refund' AND r.id = b.source
    LEFT JOIN staging.stripe__disputes AS d ON b.reporting_category = 'dispute' AND d.id = b.source
    WHERE b.reporting_category IN ('charge', 'refund', 'dispute')
),
described AS (
    SELECT
        l.*,
        c.livemode,
        CASE
            WHEN c.invoice IS NOT NULL THEN 'subscription'
            WHEN c.metadata__order_id IS NOT NULL THEN 'marketplace'
            ELSE 'other'
        END AS product_line,
        COALESCE(u.signup_channel, 'unknown') AS channel
    FROM ledger AS l
    LEFT JOIN staging.stripe__charges AS c ON c.id = l.charge_id
    LEFT JOIN staging.stripe__customers AS k ON k.id = c.customer
    LEFT JOIN staging.postgres__users AS u ON u.id = TRY_CAST(k.metadata__app_user_id AS BIGINT)
)
SELECT
    revenue_date,
    currency,
    COALESCE(livemode, false) AS livemode,
    product_line,
    channel,
    count(CASE WHEN reporting_category = 'charge' THEN 1 END) AS charges,
    sum(CASE WHEN reporting_category = 'charge' THEN amount ELSE 0 END) AS gross_minor,
    -sum(CASE WHEN reporting_category = 'refund' THEN amount ELSE 0 END) AS refunds_minor,
    -sum(CASE WHEN reporting_category = 'dispute' THEN amount ELSE 0 END) AS disputes_minor,
    sum(fee) AS fees_minor,
    sum(net) AS net_minor
FROM described
GROUP BY 1, 2, 3, 4, 5

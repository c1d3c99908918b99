-- MRR movements by calendar month and currency, in minor units. Staging keeps only a subscription's latest
-- state, so its history comes from its paid invoices (kept whole): a subscription's MRR at an instant is the
-- total of the paid invoice with the latest period start whose service period [period_start, period_end) holds
-- that instant, a twelfth (rounded) for a yearly period (longer than 32 days). A month's MRR is taken at its last
-- second, or at the newest invoice's creation time for the month still running. Month over month, per
-- subscription: new (0 before, never paid before), reactivation (0 before, paid some earlier month), expansion
-- (up), contraction (down, positive amount), churn (to 0, positive amount).
WITH paid AS (
    SELECT
        subscription AS subscription_id,
        upper(currency) AS currency,
        period_start,
        period_end,
        CASE WHEN period_end > period_start + INTERVAL '32' DAY
            THEN CAST(round(CAST(total AS DOUBLE) / 12) AS BIGINT) ELSE total END AS mrr_minor
    FROM staging.stripe__invoices
    WHERE status = 'paid' AND subscription IS NOT NULL
),
bounds AS (
    SELECT
        CAST(date_trunc('month', min(p.period_start)) AS DATE) AS first_month,
        (SELECT max(created) FROM staging.stripe__invoices) AS data_end
    FROM paid AS p
),
months AS (
    SELECT
        CAST(m AS DATE) AS month,
        least(CAST(CAST(m AS DATE) + INTERVAL '1' MONTH AS TIMESTAMP) - INTERVAL '1' SECOND,
              CAST(b.data_end AS TIMESTAMP)) AS measured_at
    FROM bounds AS b
    CROSS JOIN UNNEST(sequence(b.first_month, CAST(date_trunc('month', b.data_end) AS DATE), INTERVAL '1' MONTH))
        AS t (m)
),
subscriptions AS (
    SELECT subscription_id, min(currency) AS currency FROM paid GROUP BY subscription_id
),
monthly AS (
    SELECT
        s.subscription_id,
        s.currency,
        m.month,
        COALESCE(max_by(p.mrr_minor, p.period_start), 0) AS mrr_minor
    FROM subscriptions AS s
    CROSS JOIN months AS m
    LEFT JOIN paid AS p
        ON p.subscription_id = s.subscription_id
        AND CAST(p.period_start AS TIMESTAMP) <= m.measured_at AND CAST(p.period_end AS TIMESTAMP) > m.measured_at
    GROUP BY 1, 2, 3
),
changes AS (
    SELECT
        currency,
        month,
        mrr_minor,
        COALESCE(lag(mrr_minor) OVER (PARTITION BY subscription_id ORDER BY month), 0) AS previous_minor,
        COALESCE(max(mrr_minor) OVER (
            PARTITION BY subscription_id ORDER BY month ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
            AS earlier_peak_minor
    FROM monthly
)
SELECT
    month,
    currency,
    CAST(sum(CASE WHEN previous_minor = 0 AND mrr_minor > 0 AND earlier_peak_minor = 0 THEN mrr_minor ELSE 0 END)
        AS BIGINT) AS new_minor,
    CAST(sum(CASE WHEN previous_minor = 0 AND mrr_minor > 0 AND earlier_peak_minor > 0 THEN mrr_minor ELSE 0 END)
        AS BIGINT) AS reactivation_minor,
    CAST(sum(CASE WHEN previous_minor > 0 AND mrr_minor > previous_minor THEN mrr_minor - previous_minor ELSE 0 END)
        AS BIGINT) AS expansion_minor,
    CAST(sum(CASE WHEN mrr_minor > 0 AND mrr_minor < previous_minor THEN previous_minor - mrr_minor ELSE 0 END)
        AS BIGINT) AS contraction_minor,
    CAST(sum(CASE WHEN previous_minor > 0 AND mrr_minor = 0 THEN previous_minor ELSE 0 END) AS BIGINT) AS churn_minor,
    CAST(sum(mrr_minor) AS BIGINT) AS ending_mrr_minor
FROM changes
GROUP BY 1, 2

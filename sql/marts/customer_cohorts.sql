-- Monthly signup cohorts: how many of a cohort's customers paid for something in each month after they
-- signed up (month 0 is the signup month), up to the latest month the warehouse has activity for.
-- Month numbers are calendar-month differences: date_diff('month', ...) disagrees between Athena and DuckDB.
WITH customers AS (
    SELECT id AS user_id, CAST(date_trunc('month', CAST(created_at AS DATE)) AS DATE) AS cohort_month
    FROM staging.postgres__users
),
activity AS (
    SELECT DISTINCT o.user_id, CAST(date_trunc('month', CAST(p.created_at AS DATE)) AS DATE) AS activity_month
    FROM staging.postgres__payments AS p
    JOIN staging.postgres__orders AS o ON o.id = p.order_id
    WHERE p.status = 'succeeded'
),
latest AS (
    SELECT max(m) AS last_month FROM (
        SELECT max(cohort_month) AS m FROM customers
        UNION ALL
        SELECT max(activity_month) FROM activity
    ) AS t
),
cohorts AS (
    SELECT cohort_month, count(*) AS cohort_size FROM customers GROUP BY cohort_month
),
spine AS (
    SELECT c.cohort_month, c.cohort_size, n AS months_since_signup
    FROM cohorts AS c
    CROSS JOIN latest AS l
    CROSS JOIN UNNEST(sequence(0, (year(l.last_month) - year(c.cohort_month)) * 12
                                  + month(l.last_month) - month(c.cohort_month))) AS t (n)
),
active AS (
    SELECT
        c.cohort_month,
        (year(a.activity_month) - year(c.cohort_month)) * 12
            + month(a.activity_month) - month(c.cohort_month) AS months_since_signup,
        count(*) AS active_customers
    FROM activity AS a
    JOIN customers AS c ON c.user_id = a.user_id
    GROUP BY 1, 2
)
SELECT
    s.cohort_month,
    s.months_since_signup,
    CAST(date_add('month', s.months_since_signup, s.cohort_month) AS DATE) AS activity_month,
    s.cohort_size,
    COALESCE(a.active_customers, 0) AS active_customers,
    CAST(COALESCE(a.active_customers, 0) AS DOUBLE) / s.cohort_size AS retention_rate
FROM spine AS s
LEFT JOIN active AS a
    ON a.cohort_month = s.cohort_month AND a.months_since_signup = s.months_since_signup

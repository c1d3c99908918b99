-- Daily activity by UTC day and source (app_events, ga4, and 'all' = both, users counted once): daily active
-- users (distinct app user ids with an event that day), monthly active users (distinct app user ids in the 30
-- days ending that day), sessions (distinct session ids with an event that day), events,
-- and events per active user (events carrying a user id over daily active users). Anonymous events count
-- as events and sessions, never as users.
WITH events AS (
    SELECT 'app_events' AS source, CAST(occurred_at AS DATE) AS activity_date, user_id, session_id
    FROM staging.events__app_events
    UNION ALL
    SELECT 'ga4', CAST(event_time AS DATE), app_user_id, concat('ga4:', session_key)
    FROM staging.ga4__events
),
tagged AS (
    SELECT * FROM events
    UNION ALL
    SELECT 'all', activity_date, user_id, session_id FROM events
),
daily AS (
    SELECT
        source,
        activity_date,
        count(DISTINCT user_id) AS daily_active_users,
        count(DISTINCT session_id) AS sessions,
        count(*) AS events,
        count(user_id) AS identified_events
    FROM tagged
    GROUP BY 1, 2
),
monthly AS (
    SELECT d.source, d.activity_date, count(DISTINCT t.user_id) AS monthly_active_users
    FROM daily AS d
    JOIN tagged AS t
        ON t.source = d.source AND t.activity_date BETWEEN d.activity_date - INTERVAL '29' DAY AND d.activity_date
    GROUP BY 1, 2
)
SELECT
    d.activity_date,
    d.source,
    d.daily_active_users,
    m.monthly_active_users,
    d.sessions,
    d.events,
    CAST(d.identified_events AS DOUBLE) / nullif(d.daily_active_users, 0) AS events_per_active_user
FROM daily AS d
JOIN monthly AS m ON m.source = d.source AND m.activity_date = d.activity_date

-- One row per marketing campaign: every live Salesforce Campaign, keyed by its UTM campaign slug, with the
-- UTM source and medium its web sessions carry (the most frequent pair in GA4 and app events), plus every
-- UTM campaign seen in sessions without a Salesforce Campaign (salesforce_campaign_id NULL).
WITH touches AS (
    SELECT session__campaign AS utm_campaign, session__source AS utm_source, session__medium AS utm_medium
    FROM staging.ga4__events
    WHERE session__campaign IS NOT NULL
    UNION ALL
    SELECT utm_campaign, utm_source, utm_medium
    FROM staging.events__app_events
    WHERE utm_campaign IS NOT NULL
),
utm AS (
    SELECT utm_campaign, max_by(utm_source, n) AS utm_source, max_by(utm_medium, n) AS utm_medium
    FROM (
        SELECT utm_campaign, utm_source, utm_medium, count(*) AS n
        FROM touches
        GROUP BY 1, 2, 3
    ) AS t
    GROUP BY utm_campaign
),
salesforce AS (
    SELECT id, name, type, status, start_date, end_date, utm_campaign__c AS utm_campaign
    FROM staging.salesforce__campaign
    WHERE NOT is_deleted
)
SELECT
    COALESCE(s.utm_campaign, u.utm_campaign, s.id) AS campaign_key,
    s.id AS salesforce_campaign_id,
    s.name AS campaign_name,
    s.type AS campaign_type,
    s.status AS campaign_status,
    s.start_date,
    s.end_date,
    COALESCE(s.utm_campaign, u.utm_campaign) AS utm_campaign,
    u.utm_source,
    u.utm_medium
FROM salesforce AS s
FULL OUTER JOIN utm AS u ON u.utm_campaign = s.utm_campaign

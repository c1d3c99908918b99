-- App-event compaction, one SELECT for every engine (Athena/Trino dialect; DuckDB locally, Spark SQL in Glue).
-- Input: one row per raw line, newline kept (file, line_number, line, read_error). Output: one row per line with its
-- fate in `status`: loaded (the first copy of an event_id), duplicate (a later copy: at-least-once
-- delivery) or quarantined (with `error`), so lines read = loaded + duplicate + quarantined by construction.
WITH events AS (
    -- Every line typed and checked in one relation (nested, not chained CTEs): the dedupe and the output both read
    -- it, so an engine that materializes it parses each line once and keeps typed columns, plus the raw line of
    -- quarantined rows only.
    SELECT
        event_id, event_type, occurred_at, user_id, anonymous_id, session_id, page_url, product_id, order_id, amount,
        currency, utm_source, utm_medium, utm_campaign, search_query, device_platform, device_os, app_version,
        CAST(properties AS VARCHAR) AS properties, file, line_number, error,
        CASE WHEN error IS NOT NULL THEN rtrim(line, chr(10)) END AS raw_line
    FROM (
        SELECT
            *,
            CASE
                WHEN read_error IS NOT NULL THEN read_error
                WHEN NOT is_json THEN 'invalid JSON'
                WHEN event_id IS NULL OR event_id = '' THEN 'missing event_id'
                WHEN event_type IS NULL OR event_type = '' THEN 'missing event_type'
                WHEN occurred_at IS NULL THEN 'occurred_at is not an ISO-8601 timestamp'
                WHEN user_id_text IS NOT NULL AND user_id IS NULL THEN 'user_id is not an integer'
                WHEN amount_text IS NOT NULL AND amount IS NULL THEN 'properties.amount is not a number'
            END AS error
        FROM (
            SELECT
                *,
                try_cast(props.product_id AS BIGINT) AS product_id,
                try_cast(props.order_id AS BIGINT) AS order_id,
                props.amount AS amount_text,
                try_cast(props.amount AS DECIMAL(12, 2)) AS amount,
                props.currency AS currency,
                props.utm_source AS utm_source,
                props.utm_medium AS utm_medium,
                props.utm_campaign AS utm_campaign,
                props.search_query AS search_query
            FROM (
                SELECT
                    file,
                    line_number,
                    line,
                    read_error,
                    is_json,
                    doc.event_id AS event_id,
                    doc.event_type AS event_type,
                    try(from_iso8601_timestamp(doc.occurred_at)) AS occurred_at,
                    doc.user_id AS user_id_text,
                    try_cast(doc.user_id AS BIGINT) AS user_id,
                    doc.anonymous_id AS anonymous_id,
                    doc.session_id AS session_id,
                    doc.page_url AS page_url,
                    doc.device.platform AS device_platform,
                    doc.device.os AS device_os,
                    doc.device.app_version AS app_version,
                    doc.properties AS properties,
                    -- the well-known properties, typed; the whole object stays in `properties`
                    try_cast(doc.properties AS ROW(
                        product_id VARCHAR, order_id VARCHAR, amount VARCHAR, currency VARCHAR, utm_source VARCHAR,
                        utm_medium VARCHAR, utm_campaign VARCHAR, search_query VARCHAR
                    )) AS props
                FROM (
                    SELECT
                        file,
                        line_number,
                        line,
                        read_error,
                        try(json_parse(line)) IS NOT NULL AS is_json,
                        try_cast(json_parse(line) AS ROW(
                            event_id VARCHAR, event_type VARCHAR, occurred_at VARCHAR, user_id VARCHAR,
                            anonymous_id VARCHAR, session_id VARCHAR, page_url VARCHAR, properties JSON,
                            device ROW(platform VARCHAR, os VARCHAR, app_version VARCHAR)
                        )) AS doc
                    FROM landing.events__app_events_lines
                ) AS parsed
            ) AS typed
        ) AS flat
    ) AS checked
),
repeated AS (
    -- Event ids seen more than once: a count per id is the one aggregate over every line.
    SELECT event_id AS repeated_id FROM events WHERE error IS NULL GROUP BY event_id HAVING count(*) > 1
),
firsts AS (
    -- The first copy, in (file, line) order, of each repeated id: a narrow aggregate over the few repeated
    -- lines instead of sorting whole rows, and the output's join builds on these ids only.
    SELECT event_id AS first_id, min(ROW(file, line_number)) AS first_copy
    FROM events JOIN repeated ON event_id = repeated_id
    WHERE error IS NULL
    GROUP BY event_id
)
SELECT
    event_id,
    event_type,
    occurred_at,
    user_id,
    anonymous_id,
    session_id,
    page_url,
    product_id,
    order_id,
    amount,
    currency,
    utm_source,
    utm_medium,
    utm_campaign,
    search_query,
    device_platform,
    device_os,
    app_version,
    properties,
    date(occurred_at) AS event_date,
    hour(occurred_at) AS event_hour,
    file,
    line_number,
    raw_line,
    error,
    CASE
        WHEN error IS NOT NULL THEN 'quarantined'
        WHEN first_copy IS NULL OR ROW(file, line_number) = first_copy THEN 'loaded'
        ELSE 'duplicate'
    END AS status
FROM events LEFT JOIN firsts ON event_id = first_id

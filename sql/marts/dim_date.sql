-- One row per calendar day, 2020 through 2030. ISO weeks start on Monday; every date is a UTC date.
-- Day names come from the ISO weekday number: Trino's date_format '%W' and DuckDB's strftime '%W' disagree.
WITH days AS (
    SELECT CAST(d AS DATE) AS date_day
    FROM UNNEST(sequence(DATE '2020-01-01', DATE '2030-12-31', INTERVAL '1' DAY)) AS t (d)
)
SELECT
    date_day,
    year(date_day) AS year,
    quarter(date_day) AS quarter,
    month(date_day) AS month,
    day(date_day) AS day_of_month,
    day_of_year(date_day) AS day_of_year,
    day_of_week(date_day) AS iso_day_of_week,
    CASE day_of_week(date_day)
        WHEN 1 THEN 'Monday' WHEN 2 THEN 'Tuesday' WHEN 3 THEN 'Wednesday' WHEN 4 THEN 'Thursday'
        WHEN 5 THEN 'Friday' WHEN 6 THEN 'Saturday' ELSE 'Sunday'
    END AS day_name,
    day_of_week(date_day) >= 6 AS is_weekend,
    year_of_week(date_day) AS iso_year,
    week_of_year(date_day) AS iso_week,
    CAST(date_trunc('week', date_day) AS DATE) AS week_start,
    CAST(date_trunc('month', date_day) AS DATE) AS month_start,
    CAST(date_trunc('quarter', date_day) AS DATE) AS quarter_start,
    date_format(date_day, '%Y-%m') AS year_month
FROM days

-- agg_ticket_backlog_daily: one row per day. Grain, columns: transforms/registry.py.
WITH RECURSIVE bounds AS (
  SELECT MIN(t.created_date) AS first_day, {{ day(as_of()) }} AS last_day
  FROM {{ ref("fct_tickets") }} t
),
days (day) AS (
  SELECT first_day FROM bounds WHERE first_day IS NOT NULL AND first_day <= last_day
  UNION ALL
  SELECT CAST(d.day + 1 AS DATE) FROM days d, bounds b WHERE d.day < b.last_day
),
events AS (
  SELECT t.created_date AS day, 1 AS created, 0 AS resolved FROM {{ ref("fct_tickets") }} t
  UNION ALL
  SELECT t.resolved_date, 0, 1 FROM {{ ref("fct_tickets") }} t WHERE t.resolved_date IS NOT NULL
),
per_day AS (
  SELECT e.day, SUM(e.created) AS created, SUM(e.resolved) AS resolved FROM events e GROUP BY e.day
)
SELECT
  d.day,
  CAST(COALESCE(p.created, 0) AS BIGINT) AS created,
  CAST(COALESCE(p.resolved, 0) AS BIGINT) AS resolved,
  CAST(SUM(COALESCE(p.created, 0) - COALESCE(p.resolved, 0)) OVER (ORDER BY d.day ROWS UNBOUNDED PRECEDING)
    AS BIGINT) AS open_tickets
FROM days d
LEFT JOIN per_day p ON p.day = d.day

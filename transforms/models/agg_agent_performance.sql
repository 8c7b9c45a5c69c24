-- agg_agent_performance: one row per agent per day. Grain, columns: transforms/registry.py.
WITH named AS (
  SELECT
    f.*,
    FIRST_VALUE(f.agent_name) OVER (
      PARTITION BY f.started_date, f.agent_id
      ORDER BY CASE WHEN f.agent_name IS NULL THEN 1 ELSE 0 END, f.started_at DESC, f.cx_log_id
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS latest_agent_name
  FROM {{ ref("fct_cx_logs") }} f
  WHERE f.started_date IS NOT NULL
)
SELECT
  n.started_date AS day,
  n.agent_id,
  MAX(n.latest_agent_name) AS agent_name,
  COUNT(*) AS interactions,
  COUNT(*) FILTER (WHERE n.is_closed) AS closed,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY n.handled_seconds) AS median_handled_seconds,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY n.first_response_seconds) AS median_first_response_seconds,
  CAST(SUM(n.first_response_seconds) AS DOUBLE PRECISION) / NULLIF(COUNT(n.first_response_seconds), 0)
    AS avg_first_response_seconds,
  COUNT(*) FILTER (WHERE n.sla_met) AS sla_met,
  COUNT(*) FILTER (WHERE NOT n.sla_met) AS sla_breached,
  CASE WHEN COUNT(n.sla_met) > 0
    THEN CAST(COUNT(*) FILTER (WHERE n.sla_met) AS DOUBLE PRECISION) * 100 / COUNT(n.sla_met)
  END AS sla_pct
FROM named n
GROUP BY n.started_date, n.agent_id

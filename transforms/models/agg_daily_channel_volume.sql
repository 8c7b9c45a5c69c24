-- agg_daily_channel_volume: one row per day per channel. Grain, columns: transforms/registry.py.
SELECT
  f.started_date AS day,
  f.channel,
  COUNT(*) AS interactions,
  COUNT(*) FILTER (WHERE f.direction = 'inbound') AS inbound,
  COUNT(*) FILTER (WHERE f.direction = 'outbound') AS outbound,
  COUNT(*) FILTER (WHERE f.is_closed) AS closed,
  COUNT(*) FILTER (WHERE f.sla_met) AS sla_met,
  COUNT(*) FILTER (WHERE NOT f.sla_met) AS sla_breached,
  CASE WHEN COUNT(f.sla_met) > 0
    THEN CAST(COUNT(*) FILTER (WHERE f.sla_met) AS DOUBLE PRECISION) * 100 / COUNT(f.sla_met)
  END AS sla_pct
FROM {{ ref("fct_cx_logs") }} f
WHERE f.started_date IS NOT NULL
GROUP BY f.started_date, f.channel

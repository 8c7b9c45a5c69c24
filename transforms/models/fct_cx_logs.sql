-- fct_cx_logs: one row per live interaction. Grain, columns and dependencies: transforms/registry.py.
WITH labels AS (
  SELECT
    l._dlt_parent_id AS parent_id,
    string_agg(l.value, ', ' ORDER BY l.value) AS labels
  FROM {{ src("cx_logs__contact_label") }} l
  WHERE l.value IS NOT NULL
  GROUP BY l._dlt_parent_id
)
SELECT
  x.id AS cx_log_id,
  x.case_id,
  x.started_date AS started_at,
  {{ day("x.started_date") }} AS started_date,
  x.closed_at,
  x.closed_at IS NOT NULL AS is_closed,
  COALESCE(NULLIF(x.channel, ''), NULLIF(x.channel_type, ''), 'unknown') AS channel,
  LOWER(TRIM(x.direction)) AS direction,
  x.queue_id,
  x.queue_name,
  COALESCE(x.agent_id, 'unknown') AS agent_id,
  {{ opt("x", "cx_logs", "agent__name", "text") }} AS agent_name,
  x.contact_id,
  {{ opt("x", "cx_logs", "contact__name", "text") }} AS contact_name,
  x.disposition,
  x.handled_time AS handled_seconds,
  x.total_hold_duration AS hold_seconds,
  x.wrap_up_duration AS wrap_up_seconds,
  x.full_handled_time AS full_handled_seconds,
  x.first_response_time AS first_response_seconds,
  x.first_replied_time AS first_replied_seconds,
  x.resolution_time AS resolution_seconds,
  x.full_resolution_time AS full_resolution_seconds,
  x.sla_status,
  CASE WHEN x.sla_status IS NULL THEN NULL ELSE LOWER(TRIM(x.sla_status)) = 'meet' END AS sla_met,
  lb.labels
FROM {{ src("cx_logs") }} x
LEFT JOIN labels lb ON lb.parent_id = x._dlt_id
WHERE {{ live("x", "cx_logs") }}

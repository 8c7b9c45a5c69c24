-- fct_tickets: one row per live ticket. Grain, columns and dependencies: transforms/registry.py.
WITH tags AS (
  SELECT
    t._dlt_parent_id AS parent_id,
    string_agg(t.name, ', ' ORDER BY t.name) AS tags,
    COUNT(*) AS tag_count
  FROM {{ src("tickets__tags") }} t
  WHERE t.name IS NOT NULL
  GROUP BY t._dlt_parent_id
),
base AS (
  SELECT
    t.*,
    LOWER(TRIM(t.status)) AS status_norm,
    COALESCE(LOWER(TRIM(t.status)) IN ('resolved', 'closed', 'solved'), FALSE) AS is_done
  FROM {{ src("tickets") }} t
  WHERE {{ live("t", "tickets") }}
)
SELECT
  b.id AS ticket_id,
  b.ticket_number,
  b.title,
  b.status_norm AS status,
  NOT b.is_done AS is_open,
  LOWER(TRIM(b.priority)) AS priority,
  b.channel,
  b.type,
  b.ticket_type,
  b.contact_id,
  {{ opt("b", "tickets", "contact__name", "text") }} AS contact_name,
  b.assignee_id,
  {{ opt("b", "tickets", "assignee__name", "text") }} AS assignee_name,
  b.creator_id,
  tg.tags,
  COALESCE(tg.tag_count, 0) AS tag_count,
  b.created_at,
  b.updated_at,
  {{ day("b.created_at") }} AS created_date,
  CASE WHEN b.is_done THEN GREATEST(b.updated_at, b.created_at) END AS resolved_at,
  CASE WHEN b.is_done THEN {{ day("GREATEST(b.updated_at, b.created_at)") }} END AS resolved_date,
  CASE WHEN b.is_done THEN {{ seconds("b.created_at", "GREATEST(b.updated_at, b.created_at)") }} END
    AS resolution_seconds,
  {{ seconds("b.created_at", as_of()) }} AS age_seconds,
  {{ as_of() }} AS as_of{{ custom_columns("b", "tickets") }}
FROM base b
LEFT JOIN tags tg ON tg.parent_id = b._dlt_id

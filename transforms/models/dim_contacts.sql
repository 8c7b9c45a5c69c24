-- dim_contacts: one row per live contact. Grain, columns and dependencies: transforms/registry.py.
WITH emails AS (
  SELECT
    e._dlt_parent_id AS parent_id,
    e.email,
    ROW_NUMBER() OVER (
      PARTITION BY e._dlt_parent_id
      ORDER BY CASE WHEN e.is_primary THEN 0 ELSE 1 END, e._dlt_list_idx
    ) AS rn,
    COUNT(*) OVER (PARTITION BY e._dlt_parent_id) AS n
  FROM {{ src("contacts__emails") }} e
  WHERE e.email IS NOT NULL AND {{ opt("e", "contacts__emails", "deleted_at", "timestamp") }} IS NULL
),
phones AS (
  SELECT
    p._dlt_parent_id AS parent_id,
    p.phone,
    ROW_NUMBER() OVER (
      PARTITION BY p._dlt_parent_id
      ORDER BY CASE WHEN p.is_primary THEN 0 ELSE 1 END, p._dlt_list_idx
    ) AS rn,
    COUNT(*) OVER (PARTITION BY p._dlt_parent_id) AS n
  FROM {{ src("contacts__phones") }} p
  WHERE p.phone IS NOT NULL AND {{ opt("p", "contacts__phones", "deleted_at", "timestamp") }} IS NULL
),
tags AS (
  SELECT
    t._dlt_parent_id AS parent_id,
    string_agg(t.name, ', ' ORDER BY t.name) AS tags,
    COUNT(*) AS tag_count
  FROM {{ src("contacts__tags") }} t
  WHERE t.name IS NOT NULL AND {{ opt("t", "contacts__tags", "deleted_at", "timestamp") }} IS NULL
  GROUP BY t._dlt_parent_id
)
SELECT
  c.id AS contact_id,
  c.name,
  c.channel,
  c.address,
  c.notes,
  c.contact_number,
  c.social_profile_url,
  e.email AS primary_email,
  p.phone AS primary_phone,
  COALESCE(e.n, 0) AS email_count,
  COALESCE(p.n, 0) AS phone_count,
  t.tags,
  COALESCE(t.tag_count, 0) AS tag_count,
  COALESCE({{ opt("c", "contacts", "company__id", "text") }}, c.company_id) AS company_id,
  {{ opt("c", "contacts", "company__name", "text") }} AS company_name,
  {{ opt("c", "contacts", "company__industry", "text") }} AS company_industry,
  c.created_at,
  c.updated_at{{ custom_columns("c", "contacts") }}
FROM {{ src("contacts") }} c
LEFT JOIN emails e ON e.parent_id = c._dlt_id AND e.rn = 1
LEFT JOIN phones p ON p.parent_id = c._dlt_id AND p.rn = 1
LEFT JOIN tags t ON t.parent_id = c._dlt_id
WHERE {{ live("c", "contacts") }}

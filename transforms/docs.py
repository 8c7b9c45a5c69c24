"""Generate docs/models.md from the registry: `python -m transforms.docs > docs/models.md`.

A test checks the file is up to date, so the documented grain and columns are the built ones.
"""

from __future__ import annotations

import sys

from .registry import MODELS, topological_order

INTRO = """# Analytics models

Generated from `transforms/registry.py` by `python -m transforms.docs > docs/models.md`; do not edit by hand.

The models turn the loaded klink tables (docs/tables.md) into tables an analyst or BI tool can query
directly. Build them with `klink transform` (or `klink sync --transform`, or
`transforms.run_transforms(pipeline)` from Python); render the HTML report with
`klink report --output report.html`.

## How they are built

- **Where**: tables in the schema `<dataset>_models` next to the loaded dataset (`klink_data_models`
  by default; in DuckDB `klink.duckdb` → `klink_data_models.fct_tickets`). `--models-dataset` overrides it.
  A separate schema keeps dlt's dataset to dlt (its refresh and drop commands never touch the models) and
  gives BI users one schema of curated tables.
- **How**: every model is a SQL template in `transforms/models/<name>.sql`; the runner sorts them by
  their declared dependencies, then drops and recreates all selected tables **in one transaction**
  (`CREATE TABLE ... AS`), so a rebuild is idempotent and readers never see a half-built set. The
  same SQL runs on DuckDB and PostgreSQL (tested on both). `--select m` rebuilds `m` and everything
  downstream of it. A model whose loaded table is missing (that resource was never synced) is skipped
  with its dependants; the rest are built.
- **Reads only loaded tables**: the models read the tables the source writes, never the API.
- **Live rows**: a row counts when `_klink_deleted_at IS NULL` (still returned by the API) and the API's
  own `deleted_at IS NULL` (not soft-deleted in klink).
- **Days**: dates and daily aggregates use the reporting time zone: `--timezone`
  (`run_transforms(pipeline, timezone=...)`), else the configured `sources.klink.timezone` (the tenant
  zone the source already uses for cx-log windows), else UTC.
- **as_of**: the build's reference time (default: now; `--as-of`) for ticket ages and the last day of
  the backlog. It is stored in `fct_tickets.as_of`.
- **SLA**: the API's `slaStatus` is `"meet"` when met (the documented value); the other value seen
  is `"breach"`. `sla_met` is TRUE for `"meet"`, FALSE for any other non-null value, NULL when the
  log has no status (open interactions). SLA % = met / (met + breached), unknowns left out.
- **Ticket resolution**: the API has no resolved timestamp or status history. A ticket whose status
  is `resolved`, `closed` or `solved` is taken as resolved at its last update (`updated_at`); every
  other status (`open`, `in progress`, `pending`, unknown) counts as open. The backlog history is
  derived from that: a ticket is open at the end of day D when it was created on or before D and not
  resolved by the end of D. Reopened tickets and status changes that were later edited again are
  therefore approximate.
- **Custom fields**: `dim_contacts` / `fct_tickets` add every `custom__<field>` column the loaded
  `contacts` / `tickets` table has, in its loaded type, except the built-in form fields
  (`is_default` in `contact_fields` / `ticket_fields`, e.g. name, email, status), which duplicate
  real columns. New custom fields appear after the next sync and transform.

## Models
"""


def generate() -> str:
    parts = [INTRO]
    for name in topological_order(MODELS):
        m = MODELS[name]
        parts.append(f"\n### {name}\n\n{m.description}\n\n")
        parts.append(f"- **Grain**: {m.grain}\n")
        parts.append(f"- **Depends on**: {', '.join(m.depends_on) or '-'}\n")
        loaded = list(m.sources) + [f"{s} (optional)" for s in m.optional_sources]
        parts.append(f"- **Reads**: {', '.join(loaded) or '-'}\n")
        parts.append(f"- **SQL**: `transforms/models/{name}.sql`\n\n")
        parts.append("| column | meaning |\n|---|---|\n")
        for column, meaning in m.columns.items():
            parts.append(f"| {column} | {meaning.replace('|', '/')} |\n")
        if m.dynamic_columns:
            column, _, meaning = m.dynamic_columns.partition(": ")
            parts.append(f"| {column} | {meaning} |\n")
    return "".join(parts)


if __name__ == "__main__":
    sys.stdout.write(generate())

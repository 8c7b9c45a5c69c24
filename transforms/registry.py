"""The analytics models, declared in one place: grain, columns, dependencies and the loaded tables they read.

Each model's SQL lives in `transforms/models/<name>.sql` (a template, see `transforms.render`). The
runner builds the models in dependency order into the `<dataset>_models` schema; `docs/models.md`
is generated from this file (`python -m transforms.docs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Tuple


@dataclass(frozen=True)
class Model:
    name: str
    grain: str
    description: str
    columns: Dict[str, str]  # name -> meaning, in table order
    depends_on: Tuple[str, ...] = ()  # other models (built first)
    sources: Tuple[str, ...] = ()  # loaded tables that must exist; the model is skipped without them
    optional_sources: Tuple[str, ...] = ()  # loaded child tables that may be absent (read as empty)
    dynamic_columns: str = ""  # extra columns discovered at build time, appended after `columns`


# Loaded child tables that only exist once some record had such a list: read as empty with these columns.
OPTIONAL_TABLE_COLUMNS: Dict[str, Dict[str, str]] = {
    "contacts__emails": {"_dlt_parent_id": "text", "email": "text", "is_primary": "bool", "_dlt_list_idx": "bigint"},
    "contacts__phones": {"_dlt_parent_id": "text", "phone": "text", "is_primary": "bool", "_dlt_list_idx": "bigint"},
    "contacts__tags": {"_dlt_parent_id": "text", "name": "text", "_dlt_list_idx": "bigint"},
    "tickets__tags": {"_dlt_parent_id": "text", "name": "text", "_dlt_list_idx": "bigint"},
    "cx_logs__contact_label": {"_dlt_parent_id": "text", "value": "text", "_dlt_list_idx": "bigint"},
    "contact_fields": {"system_name": "text", "is_default": "bool"},
    "ticket_fields": {"system_name": "text", "is_default": "bool"},
}

SLA = "sla_met: TRUE when the API's sla_status is 'meet', FALSE for any other non-null value ('breach'), NULL when unknown"

MODELS: Dict[str, Model] = {
    m.name: m
    for m in [
        Model(
            name="dim_contacts",
            grain="one row per live contact (not deleted in klink, still returned by the API)",
            description="Contacts with their primary email/phone, tags and company flattened, custom fields as columns.",
            sources=("contacts",),
            optional_sources=("contacts__emails", "contacts__phones", "contacts__tags", "contact_fields"),
            columns={
                "contact_id": "klink contact id (primary key)",
                "name": "contact name",
                "channel": "channel the contact came from",
                "address": "postal address",
                "notes": "free-text notes",
                "contact_number": "contact number as text",
                "social_profile_url": "social profile URL",
                "primary_email": "the email marked primary, else the first listed",
                "primary_phone": "the phone marked primary, else the first listed",
                "email_count": "number of emails",
                "phone_count": "number of phones",
                "tags": "tag names, sorted, joined with ', ' (NULL when untagged)",
                "tag_count": "number of tags",
                "company_id": "company id",
                "company_name": "company name",
                "company_industry": "company industry (seed shape only)",
                "created_at": "created in klink",
                "updated_at": "last updated in klink",
            },
            dynamic_columns="custom__<field>: one typed column per non-default contact form field, as loaded",
        ),
        Model(
            name="fct_tickets",
            grain="one row per live ticket",
            description=(
                "Tickets with status flags, assignee, tags, age and time to resolution. The API has no resolved "
                "timestamp: for a ticket whose status is resolved/closed/solved, its last update (updated_at) "
                "is taken as the resolution time."
            ),
            sources=("tickets",),
            optional_sources=("tickets__tags", "ticket_fields"),
            columns={
                "ticket_id": "klink ticket id (primary key)",
                "ticket_number": "ticket reference number",
                "title": "title",
                "status": "status, lower-cased (open, in progress, pending, resolved, closed)",
                "is_open": "TRUE unless the status is resolved, closed or solved",
                "priority": "priority, lower-cased",
                "channel": "channel",
                "type": "type",
                "ticket_type": "ticket type",
                "contact_id": "contact id",
                "contact_name": "contact name",
                "assignee_id": "assigned agent id (NULL when unassigned)",
                "assignee_name": "assigned agent name",
                "creator_id": "creating user id",
                "tags": "tag names, sorted, joined with ', '",
                "tag_count": "number of tags",
                "created_at": "created in klink",
                "updated_at": "last updated in klink",
                "created_date": "created_at as a date in the reporting time zone",
                "resolved_at": "updated_at when the ticket is resolved/closed (proxy), else NULL",
                "resolved_date": "resolved_at as a date in the reporting time zone",
                "resolution_seconds": "resolved_at - created_at in seconds (NULL while open)",
                "age_seconds": "as_of - created_at in seconds",
                "as_of": "the reference time of the build (ages are measured to it)",
            },
            dynamic_columns="custom__<field>: one typed column per non-default ticket form field, as loaded",
        ),
        Model(
            name="fct_cx_logs",
            grain="one row per live interaction (cx log)",
            description="Interactions with channel, direction, queue, agent, durations in seconds and SLA outcome.",
            sources=("cx_logs",),
            optional_sources=("cx_logs__contact_label",),
            columns={
                "cx_log_id": "klink cx log id (primary key)",
                "case_id": "case number",
                "started_at": "interaction start",
                "started_date": "started_at as a date in the reporting time zone",
                "closed_at": "interaction close (NULL while open)",
                "is_closed": "TRUE when closed_at is set",
                "channel": "channel (channel, else channel_type, else 'unknown')",
                "direction": "inbound / outbound, lower-cased",
                "queue_id": "queue id",
                "queue_name": "queue name",
                "agent_id": "handling agent id ('unknown' when missing)",
                "agent_name": "handling agent name",
                "contact_id": "contact id",
                "contact_name": "contact name",
                "disposition": "wrap-up disposition",
                "handled_seconds": "handled time (API handledTime)",
                "hold_seconds": "total hold duration",
                "wrap_up_seconds": "wrap-up duration",
                "full_handled_seconds": "handled + hold (API fullHandledTime)",
                "first_response_seconds": "first response time (API firstResponseTime)",
                "first_replied_seconds": "first replied time (API firstRepliedTime)",
                "resolution_seconds": "resolution time (API resolutionTime)",
                "full_resolution_seconds": "full resolution time (API fullResolutionTime)",
                "sla_status": "the API's slaStatus as sent ('meet', 'breach' or NULL)",
                "sla_met": SLA,
                "labels": "contact labels, sorted, joined with ', '",
            },
        ),
        Model(
            name="agg_daily_channel_volume",
            grain="one row per day (reporting time zone, by started_at) per channel that had interactions",
            description="Interaction volume and SLA by day and channel.",
            depends_on=("fct_cx_logs",),
            columns={
                "day": "date of started_at in the reporting time zone",
                "channel": "channel",
                "interactions": "interactions started",
                "inbound": "of which inbound",
                "outbound": "of which outbound",
                "closed": "of which closed",
                "sla_met": "interactions with sla_met TRUE",
                "sla_breached": "interactions with sla_met FALSE",
                "sla_pct": "100 * sla_met / (sla_met + sla_breached); NULL when no SLA outcome is known",
            },
        ),
        Model(
            name="agg_agent_performance",
            grain="one row per agent per day (reporting time zone, by started_at) with interactions",
            description="Per agent per day: volume, median handle time, first-response time and SLA %.",
            depends_on=("fct_cx_logs",),
            columns={
                "day": "date of started_at in the reporting time zone",
                "agent_id": "agent id",
                "agent_name": "agent name (the latest seen that day)",
                "interactions": "interactions started",
                "closed": "of which closed",
                "median_handled_seconds": "median handled_seconds over interactions that have it",
                "median_first_response_seconds": "median first_response_seconds over interactions that have it",
                "avg_first_response_seconds": "mean first_response_seconds over interactions that have it",
                "sla_met": "interactions with sla_met TRUE",
                "sla_breached": "interactions with sla_met FALSE",
                "sla_pct": "100 * sla_met / (sla_met + sla_breached); NULL when no SLA outcome is known",
            },
        ),
        Model(
            name="agg_ticket_backlog_daily",
            grain="one row per day from the first ticket's created_date to as_of's date (reporting time zone)",
            description=(
                "Open tickets at the end of each day: created on or before the day and not resolved by then "
                "(resolution date from fct_tickets, i.e. the last update of resolved/closed tickets)."
            ),
            depends_on=("fct_tickets",),
            columns={
                "day": "calendar day in the reporting time zone",
                "created": "tickets created that day",
                "resolved": "tickets resolved that day",
                "open_tickets": "tickets open at the end of the day",
            },
        ),
    ]
}


def topological_order(models: Dict[str, Model], select: List[str] | None = None) -> List[str]:
    """Models in dependency order; with `select`, only those and every model downstream of them."""
    unknown = [n for n in (select or []) + [d for m in models.values() for d in m.depends_on] if n not in models]
    if unknown:
        raise KeyError(f"unknown model(s): {', '.join(sorted(set(unknown)))}; known: {', '.join(models)}")
    wanted = set(select) if select else set(models)
    changed = True
    while changed:  # add downstream models of anything wanted
        changed = False
        for m in models.values():
            if m.name not in wanted and wanted.intersection(m.depends_on):
                wanted.add(m.name)
                changed = True
    order: List[str] = []
    visiting: set = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ValueError(f"dependency cycle through model {name}")
        visiting.add(name)
        for dep in models[name].depends_on:
            visit(dep)
        visiting.discard(name)
        order.append(name)

    for name in models:  # declaration order breaks ties: stable output
        visit(name)
    return [n for n in order if n in wanted]

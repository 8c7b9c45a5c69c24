"""The klink endpoints as data: one entry per resource, turned into dlt resources by one function.

Paths marked INFERRED are not given by the public docs (see shared/klink-api.md §2); they can be
overridden per tenant with `sources.klink.paths.<resource> = "/api/v1/..."`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Literal, Optional, TypedDict

if TYPE_CHECKING:  # the Arrow helper process imports this module without dlt (offload.py)
    from dlt.common.schema.typing import TColumnSchema

DEFAULT_BASE_URL = "https://apigw.klinkcx.com"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 100  # docs: "you can go as high as 100 by adding a pageSize parameter"
DEFAULT_TIMEZONE = "UTC"
# table hint: a destination that knows it (pipelines.direct_merge) merges the table file by file, no staging copy
DIRECT_MERGE_HINT = "x-klink-direct-merge"
# how every klink table merges: delete the rows of the loaded keys, insert the loaded rows
MERGE = {"disposition": "merge", "strategy": "delete-insert"}

Envelope = Literal["paged", "cx_logs", "data"]
Mode = Literal["full_scan", "windowed", "tree"]


class EndpointSpec(TypedDict, total=False):
    path: str
    documented: bool  # False: the path is INFERRED
    envelope: Envelope  # paged: {total,page,pageSize,lastPage,data}; cx_logs: {requestId,cxLogs:{...}}; data: {data:[...]}
    mode: Mode
    detect_deletes: bool  # a complete scan sees every live row, so missing rows are deletions
    columns: Dict[str, TColumnSchema]
    json_columns: List[str]  # nested values kept as one JSON column instead of a child table


def _ts(*names: str) -> Dict[str, TColumnSchema]:
    return {n: {"data_type": "timestamp", "nullable": True} for n in names}


def _typed(data_type: str, *names: str) -> Dict[str, TColumnSchema]:
    return {n: {"data_type": data_type, "nullable": True} for n in names}  # type: ignore[misc]


# Columns every full-scan table carries; typed up front so an all-null first load never guesses.
TRACKING_COLUMNS: Dict[str, TColumnSchema] = {
    "_klink_hash": {"data_type": "text", "nullable": True},
    "_klink_deleted_at": {"data_type": "timestamp", "nullable": True},
}

AUDIT = _ts("created_at", "updated_at", "deleted_at")

ENDPOINTS: Dict[str, EndpointSpec] = {
    "contacts": {
        "path": "/api/v1/contacts",
        "documented": True,
        "envelope": "paged",
        "mode": "full_scan",
        "detect_deletes": True,
        "columns": {
            **AUDIT,
            **_typed("text", "name", "address", "channel", "notes", "social_profile_url", "contact_profile",
                     "company_id", "contact_number", "company__id", "company__name", "company__phone",
                     "company__address", "company__industry"),
        },
        "json_columns": [],
    },
    "tickets": {
        "path": "/api/v1/tickets",
        "documented": True,
        "envelope": "paged",
        "mode": "full_scan",
        "detect_deletes": True,
        "columns": {
            **AUDIT,
            **_typed("bigint", "ticket_number"),
            **_typed("text", "title", "description", "type", "ticket_type", "channel", "priority", "status",
                     "contact_id", "creator_id", "assignee_id", "reason_to_assign", "category_id",
                     "assignee__id", "assignee__name", "assignee__email", "creator__id", "creator__name",
                     "creator__email", "contact__id", "contact__name"),
        },
        "json_columns": ["contact__tags", "contact__platform_contacts", "contact__contact_emails",
                         "contact__contact_phones", "contact__email", "contact__phone", "contact__custom_fields"],
    },
    "tags": {
        "path": "/api/v1/tags",  # INFERRED
        "documented": False,
        "envelope": "paged",
        "mode": "full_scan",
        "detect_deletes": True,
        "columns": {**AUDIT, **_typed("text", "name"), **_typed("bigint", "position")},
        "json_columns": [],
    },
    "channels": {
        "path": "/api/v1/channels",  # INFERRED
        "documented": False,
        "envelope": "paged",
        "mode": "full_scan",
        "detect_deletes": True,
        "columns": {**AUDIT, **_typed("text", "name", "type")},
        "json_columns": [],
    },
    "categories": {
        "path": "/api/v1/categories",
        "documented": True,
        "envelope": "data",
        "mode": "tree",
        "detect_deletes": True,
        "columns": {
            **AUDIT,
            **_typed("text", "value", "parent_id"),
            **_typed("bigint", "level", "sort_order"),
        },
        "json_columns": [],
    },
    "cx_logs": {
        "path": "/api/v1/cx-logs",
        "documented": True,
        "envelope": "cx_logs",
        "mode": "windowed",
        "detect_deletes": False,  # windowed reads never see the whole list
        "columns": {
            **AUDIT,
            **_ts("started_date", "closed_at", "first_assignee__deleteda_at", "agent__deleteda_at",
                  "closed_assignee__deleteda_at", "first_assignee__created_at", "agent__created_at",
                  "closed_assignee__created_at", "first_assignee__updated_at", "agent__updated_at",
                  "closed_assignee__updated_at"),
            **_typed("bigint", "case_id", "handled_time", "total_hold_duration", "first_response_time",
                     "wrap_up_duration", "full_handled_time", "resolution_time", "full_resolution_time",
                     "first_replied_time"),
            **_typed("text", "entity_id", "entity_name", "contact_id", "channel", "channel_type", "queue_id",
                     "queue_name", "agent_id", "direction", "disposition", "customer_phone", "uid",
                     "wrap_up_form_id", "sla_status", "first_assignee_id", "closed_assignee_id",
                     "cx_intelligence_status", "contact__id", "contact__name", "first_assignee__id",
                     "first_assignee__name", "first_assignee__email", "agent__id", "agent__name", "agent__email",
                     "closed_assignee__id", "closed_assignee__name", "closed_assignee__email"),
        },
        "json_columns": ["contact__tags", "contact__platform_contacts", "room", "mail_room"],
    },
    "contact_fields": {
        "path": "/api/v1/contacts/fields",
        "documented": True,
        "envelope": "paged",
        "mode": "full_scan",
        "detect_deletes": True,
        "columns": {
            **_typed("text", "system_name", "display_name", "type"),
            **_typed("bool", "is_default", "is_archived", "is_required", "is_unique"),
        },
        "json_columns": [],
    },
    "ticket_fields": {
        "path": "/api/v1/tickets/fields",  # INFERRED, by analogy with /contacts/fields
        "documented": False,
        "envelope": "paged",
        "mode": "full_scan",
        "detect_deletes": True,
        "columns": {
            **_typed("text", "system_name", "display_name", "type"),
            **_typed("bool", "is_default", "is_archived", "is_required", "is_unique"),
        },
        "json_columns": [],
    },
    "contact_groups": {
        "path": "/api/v1/contact-groups",  # INFERRED
        "documented": False,
        "envelope": "paged",
        "mode": "full_scan",
        "detect_deletes": True,
        "columns": {**AUDIT, **_typed("text", "name")},
        "json_columns": [],
    },
    "agent_activities": {
        "path": "/api/v1/user-presence-status-log",
        "documented": True,
        "envelope": "paged",  # documented only as {"data": [...], ...}; lastPage used when present
        "mode": "full_scan",
        "detect_deletes": False,  # an activity log: old entries ageing out are not deletions
        "columns": {**AUDIT},
        "json_columns": [],
    },
}

ALL_RESOURCES: List[str] = list(ENDPOINTS)

# Custom field types (contact/ticket form fields `type`) to warehouse column types. Only text, select
# and date are documented; the others are the sandbox's inferred catalogue and fall back to text.
CUSTOM_FIELD_TYPES: Dict[str, str] = {
    "text": "text",
    "textarea": "text",
    "select": "text",
    "email": "text",
    "phone": "text",
    "url": "text",
    "number": "double",
    "date": "date",
    "checkbox": "bool",
    "multi_select": "json",
}


def endpoint_path(resource: str, paths: Optional[Dict[str, str]] = None) -> str:
    """The path for `resource`, honouring a configured override."""
    if paths and resource in paths:
        return paths[resource]
    return ENDPOINTS[resource]["path"]

"""Sync the sandbox into a pipeline, read the API independently, and compute the models' expected values
in plain Python from the raw API records (never from the warehouse or the models' SQL)."""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections import defaultdict
from typing import Any, Dict, List, Optional, Tuple
from zoneinfo import ZoneInfo

import requests

from pipelines.klink_pipeline import run_sync

Record = Dict[str, Any]
DONE = {"resolved", "closed", "solved"}


def sync(sb: Any, pipeline: Any, **options: Any) -> Any:
    now = sb.now()
    options.setdefault("start_date", (now - dt.timedelta(days=31)).isoformat())
    options.setdefault("end_date", now.isoformat())
    options.setdefault("retry_backoff_factor", 0)
    return run_sync(pipeline, api_token=sb.token, base_url=sb.base_url, **options)


def api_all(sb: Any, path: str, params: Optional[Dict[str, Any]] = None) -> List[Record]:
    """Every record of a list endpoint, page by page, straight over HTTP."""
    out: List[Record] = []
    page = 1
    headers = {"Authorization": f"Bearer {sb.token}", "x-client-timezone": "UTC"}
    while True:
        body = requests.get(sb.base_url + path, headers=headers, timeout=30,
                            params={**(params or {}), "page": page, "pageSize": 100}).json()
        box = body.get("cxLogs", body)
        out.extend(box["data"])
        if page >= box.get("lastPage", 1) or not box["data"]:
            return out
        page += 1


def api_snapshot(sb: Any) -> Dict[str, List[Record]]:
    now = sb.now()
    window = f"{now - dt.timedelta(days=40):%Y/%m/%d %H:%M:%S}-{now:%Y/%m/%d %H:%M:%S}"
    return {
        "contacts": api_all(sb, "/api/v1/contacts"),
        "tickets": api_all(sb, "/api/v1/tickets"),
        "cx_logs": api_all(sb, "/api/v1/cx-logs", {"selectedDate": window}),
    }


def ts(value: Optional[str]) -> Optional[dt.datetime]:
    if value is None:
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def local_day(value: dt.datetime, tz: str) -> dt.date:
    return value.astimezone(ZoneInfo(tz)).date()


def snake(name: str) -> str:
    """dlt's snake_case for the field names the sandbox uses (camelCase or already snake)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def pct(met: int, known: int) -> Optional[float]:
    return met * 100.0 / known if known else None


# --- expected rows -----------------------------------------------------------------------------------


def live(records: List[Record]) -> List[Record]:
    return [r for r in records if r.get("deletedAt") is None]


def expected_contacts(contacts: List[Record]) -> Dict[str, Record]:
    out = {}
    for c in live(contacts):
        emails = c["email"] if "email" in c else c.get("contactEmails") or []
        phones = c["phone"] if "phone" in c else c.get("contactPhones") or []
        primary_email = next((e["email"] for e in emails if e.get("isPrimary")), emails[0]["email"] if emails else None)
        primary_phone = next((p["phone"] for p in phones if p.get("isPrimary")), phones[0]["phone"] if phones else None)
        company = c.get("company")
        company_name = company.get("name") if isinstance(company, dict) else company
        tags = sorted(t["name"] for t in c.get("tags") or [])
        custom = {f"custom__{snake(f['system_name'])}": f["value"] for f in c.get("customFields") or []}
        out[c["id"]] = {
            "primary_email": primary_email, "primary_phone": primary_phone, "email_count": len(emails),
            "phone_count": len(phones), "tags": ", ".join(tags) or None, "tag_count": len(tags),
            "company_name": company_name, **custom,
        }
    return out


def expected_tickets(tickets: List[Record], as_of: dt.datetime, tz: str) -> Dict[str, Record]:
    out = {}
    for t in live(tickets):
        created, updated = ts(t["createdAt"]), ts(t["updatedAt"])
        done = (t.get("status") or "").strip().lower() in DONE
        resolved = max(updated, created) if done else None
        tags = sorted(x["name"] for x in t.get("tags") or [])
        out[t["id"]] = {
            "status": t["status"].lower(), "is_open": not done, "priority": t["priority"].lower(),
            "assignee_id": t.get("assigneeId"), "assignee_name": (t.get("assignee") or {}).get("name"),
            "tags": ", ".join(tags) or None, "tag_count": len(tags),
            "created_date": local_day(created, tz),
            "resolved_date": local_day(resolved, tz) if resolved else None,
            "resolution_seconds": (resolved - created).total_seconds() if resolved else None,
            "age_seconds": (as_of - created).total_seconds(),
        }
    return out


def expected_daily_channel_volume(cx_logs: List[Record], tz: str) -> Dict[Tuple[dt.date, str], Record]:
    groups: Dict[Tuple[dt.date, str], List[Record]] = defaultdict(list)
    for x in live(cx_logs):
        channel = x.get("channel") or x.get("channelType") or "unknown"
        groups[(local_day(ts(x["startedDate"]), tz), channel)].append(x)
    out = {}
    for key, rows in groups.items():
        met = sum(1 for r in rows if r.get("slaStatus") == "meet")
        known = sum(1 for r in rows if r.get("slaStatus") is not None)
        out[key] = {
            "interactions": len(rows),
            "inbound": sum(1 for r in rows if r.get("direction") == "inbound"),
            "outbound": sum(1 for r in rows if r.get("direction") == "outbound"),
            "closed": sum(1 for r in rows if r.get("closedAt") is not None),
            "sla_met": met, "sla_breached": known - met, "sla_pct": pct(met, known),
        }
    return out


def _median(values: List[int]) -> Optional[float]:
    return float(statistics.median(values)) if values else None


def expected_agent_performance(cx_logs: List[Record], tz: str) -> Dict[Tuple[dt.date, str], Record]:
    groups: Dict[Tuple[dt.date, str], List[Record]] = defaultdict(list)
    for x in live(cx_logs):
        groups[(local_day(ts(x["startedDate"]), tz), x.get("agentId") or "unknown")].append(x)
    out = {}
    for key, rows in groups.items():
        handled = [r["handledTime"] for r in rows if r.get("handledTime") is not None]
        first = [r["firstResponseTime"] for r in rows if r.get("firstResponseTime") is not None]
        met = sum(1 for r in rows if r.get("slaStatus") == "meet")
        known = sum(1 for r in rows if r.get("slaStatus") is not None)
        out[key] = {
            "agent_name": (rows[0].get("agent") or {}).get("name"),
            "interactions": len(rows), "closed": sum(1 for r in rows if r.get("closedAt") is not None),
            "median_handled_seconds": _median(handled), "median_first_response_seconds": _median(first),
            "avg_first_response_seconds": sum(first) / len(first) if first else None,
            "sla_met": met, "sla_breached": known - met, "sla_pct": pct(met, known),
        }
    return out


def expected_backlog(tickets: List[Record], as_of: dt.datetime, tz: str) -> Dict[dt.date, Record]:
    rows = expected_tickets(tickets, as_of, tz).values()
    if not rows:
        return {}
    first, last = min(r["created_date"] for r in rows), local_day(as_of, tz)
    out = {}
    day = first
    while day <= last:
        out[day] = {
            "created": sum(1 for r in rows if r["created_date"] == day),
            "resolved": sum(1 for r in rows if r["resolved_date"] == day),
            "open_tickets": sum(1 for r in rows if r["created_date"] <= day
                                and (r["resolved_date"] is None or r["resolved_date"] > day)),
        }
        day += dt.timedelta(days=1)
    return out


# --- reading the models ------------------------------------------------------------------------------


def read_model(pipeline: Any, name: str, order_by: str = "") -> List[Record]:
    """Every row of model `name` as dicts (through the pipeline's SQL client, either destination)."""
    from transforms.runner import models_dataset_name

    with pipeline.sql_client() as client:
        with client.with_alternative_dataset_name(models_dataset_name(pipeline.dataset_name)):
            table = client.make_qualified_table_name(name)
        with client.execute_query(f"SELECT * FROM {table}" + (f" ORDER BY {order_by}" if order_by else "")) as cur:
            columns = [c[0] for c in cur.description]
            return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]


def model_columns(pipeline: Any, name: str) -> List[str]:
    from transforms.runner import models_dataset_name

    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "ORDER BY ordinal_position", models_dataset_name(pipeline.dataset_name), name)
    return [r[0] for r in rows]


def plain(value: Any) -> Any:
    """Values as comparable Python: Decimal -> float, aware datetimes in UTC."""
    if hasattr(value, "as_tuple"):  # Decimal
        return float(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc)
    return value

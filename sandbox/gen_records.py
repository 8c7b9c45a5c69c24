"""Seeded rows for tags, channels, contact groups, tickets, cx-logs and agent activities, and their shapes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import vocab
from .gen_contacts import render_cxlog_embed
from .gen_static import TICKET_PRIORITIES, TICKET_STATUSES, presence_status
from .util import DAY_US, fmt_date, fmt_ms, fmt_pg, h64, parse_iso, rng, uuid_from

if TYPE_CHECKING:
    from .store import Store

DOC_TAGS = {  # [DOC] ids/timestamps from the seed detail example and the webhook example
    0: ("4d45ba6c-728e-4ca8-91cb-91bac1572622", None, None),
    1: ("4f9cdf9d-ad8f-46d9-8e37-116b8741a7fb", "2024-04-01T03:07:53.577170Z", "2025-05-29T06:46:18.717607Z"),
}


def _ts(store: Store, kind: str, i: int, days_back: int) -> tuple[int, int]:
    r = rng(store.seed, kind, "ts", i)
    created = store.clock_start_us - r.randrange(30, days_back) * DAY_US - r.randrange(DAY_US)
    updated = created if r.random() < 0.5 else created + r.randrange(20 * DAY_US)
    return created, updated


def make_tag(store: Store, i: int) -> dict[str, Any]:
    created, updated = _ts(store, "tag", i, 900)
    name = vocab.TAG_NAMES[i] if i < len(vocab.TAG_NAMES) else f"tag-{i}"
    doc = DOC_TAGS.get(i)
    if doc and doc[1] and i < store.tags.base_count:
        created, updated = parse_iso(doc[1]), parse_iso(doc[2])
    return {"name": name, "position": i, "createdAt": created, "updatedAt": updated, "deletedAt": None}


def render_tag(store: Store, i: int, row: dict[str, Any]) -> dict[str, Any]:
    """Tag listing item: [INFER] the webhook tag object (§3.3), with ms-Z timestamps like other REST lists."""
    return {"id": store.tags.id_of(i), "name": row["name"], "position": row["position"],
            "createdAt": fmt_ms(row["createdAt"]), "updatedAt": fmt_ms(row["updatedAt"]),
            "deletedAt": None if row["deletedAt"] is None else fmt_ms(row["deletedAt"])}


def make_channel(store: Store, i: int) -> dict[str, Any]:
    created, updated = _ts(store, "channel", i, 700)
    typ = vocab.CHANNELS[i % len(vocab.CHANNELS)]
    return {"name": f"{typ.title()} {['Main', 'Support', 'Sales'][i // len(vocab.CHANNELS) % 3]}", "type": typ,
            "status": "active" if i % 5 else "inactive", "createdAt": created, "updatedAt": updated, "deletedAt": None}


def render_channel(store: Store, i: int, row: dict[str, Any]) -> dict[str, Any]:
    """Channel listing item: [INFER] shape (only `channelId` references and channel type strings are documented)."""
    return {"id": store.channels.id_of(i), "name": row["name"], "type": row["type"], "status": row["status"],
            "createdAt": fmt_ms(row["createdAt"]), "updatedAt": fmt_ms(row["updatedAt"]),
            "deletedAt": None if row["deletedAt"] is None else fmt_ms(row["deletedAt"])}


def make_group(store: Store, i: int) -> dict[str, Any]:
    created, updated = _ts(store, "group", i, 500)
    names = ["Customers", "Leads", "Partners", "ลูกค้า VIP", "ဖောက်သည်များ", "Suppliers", "Internal"]
    return {"name": names[i % len(names)] + ("" if i < len(names) else f" {i}"),
            "description": None if i % 2 else "Group of contacts", "createdAt": created, "updatedAt": updated,
            "deletedAt": None}


def render_group(store: Store, i: int, row: dict[str, Any]) -> dict[str, Any]:
    """Contact group: [INFER] shape (only the endpoint name "Fetch Contact Groups" is documented)."""
    return {"id": store.groups.id_of(i), "name": row["name"], "description": row["description"],
            "createdAt": fmt_ms(row["createdAt"]), "updatedAt": fmt_ms(row["updatedAt"]),
            "deletedAt": None if row["deletedAt"] is None else fmt_ms(row["deletedAt"])}


def make_ticket(store: Store, i: int) -> dict[str, Any]:
    r = rng(store.seed, "ticket", i)
    n = max(1, store.tickets.base_count)
    span = 364 * DAY_US
    created = store.clock_start_us - 365 * DAY_US + (i * span) // n + r.randrange(max(1, span // n))
    updated = created if r.random() < 0.3 else created + r.randrange(max(1, store.clock_start_us - created))
    n_users = len(store.users)
    custom: dict[str, Any] = {}
    if r.random() < 0.7:
        custom["cf_trackingid"] = f"Id-{1000 + i}"
    if r.random() < 0.5:
        custom["cf_date"] = fmt_date(created + r.randrange(60) * DAY_US)
    if r.random() < 0.3:
        custom["cf_order_value"] = round(r.random() * 500, 2)
    if r.random() < 0.2:
        custom["cf_urgent"] = r.random() < 0.5
    ntags = min(store.tags.base_count, r.choice([0, 0, 1, 2]))
    return {
        "title": r.choice(vocab.TICKET_TITLES), "description": r.choice(vocab.TICKET_DESCRIPTIONS),
        "type": r.choice(["question", "incident", "problem", "task"]), "channel": r.choice(vocab.CHANNELS),
        "priority": r.choice(TICKET_PRIORITIES), "status": r.choice(TICKET_STATUSES),
        "contact": h64(store.seed, "ticket-contact", i) % store.contacts.base_count,
        "creator": r.randrange(n_users), "assignee": None if r.random() < 0.15 else r.randrange(n_users),
        "reasonToAssign": None if r.random() < 0.6 else r.choice(["Round robin", "Skill based", "Manual"]),
        "ticketNumber": 38000 + i, "ticketType": r.choice(["support", "sales", "billing", "complaint"]),
        "tags": sorted(r.sample(range(store.tags.base_count), ntags)), "custom": custom,
        "createdAt": created, "updatedAt": updated, "deletedAt": updated if r.random() < 0.03 else None,
    }


def render_ticket(store: Store, i: int, row: dict[str, Any]) -> dict[str, Any]:
    """Ticket per §5.2 (documented fields first, then [INFER] ticketType/contact/creator/tags/customFields)."""
    users = store.users
    a = users[row["assignee"]] if row["assignee"] is not None else None
    c = users[row["creator"]]
    contact = store.contacts.core(row["contact"])
    return {
        "id": store.tickets.id_of(i), "createdAt": fmt_ms(row["createdAt"]), "updatedAt": fmt_ms(row["updatedAt"]),
        "deletedAt": None if row["deletedAt"] is None else fmt_ms(row["deletedAt"]),
        "title": row["title"], "description": row["description"], "type": row["type"], "channel": row["channel"],
        "priority": row["priority"], "status": row["status"], "contactId": store.contacts.id_of(row["contact"]),
        "creatorId": c["id"], "assigneeId": a["id"] if a else None, "reasonToAssign": row["reasonToAssign"],
        "ticketNumber": row["ticketNumber"],
        "assignee": {"id": a["id"], "name": a["name"], "email": a["email"]} if a else None,
        "ticketType": row["ticketType"],
        "contact": {"id": store.contacts.id_of(row["contact"]), "name": contact["name"],
                    "address": contact["address"], "channel": contact["channel"]},
        "creator": {"id": c["id"], "name": c["name"], "email": c["email"]},
        "tags": [{"id": t["id"], "name": t["name"]} for t in store.tag_refs(row["tags"])],
        "customFields": dict(row["custom"]),
    }


def cxlog_started_s(store: Store, i: int) -> int:
    """startedDate (epoch seconds) of seeded cx-log i: ascending in i over the 30 days before the clock.

    Every other slot that contains a UTC midnight puts its log exactly on that midnight (window edges).
    """
    n = max(1, store.cx_logs.base_count)
    base = store.clock_start_us // 1_000_000 - 30 * 86400
    span = 30 * 86400
    s0, s1 = base + (i * span) // n, base + ((i + 1) * span) // n
    midnight = -(-s0 // 86400) * 86400
    if midnight < s1 and (midnight // 86400) % 2 == 0:
        return midnight
    return s0 + h64(store.seed, "cx-start", i) % max(1, s1 - s0)


def make_cxlog(store: Store, i: int, started_s: int | None = None) -> dict[str, Any]:
    r = rng(store.seed, "cxlog", i)
    started = (cxlog_started_s(store, i) if started_s is None else started_s) * 1_000_000
    n_users = len(store.users)
    is_open = started_s is not None or r.random() < 0.1
    contact = h64(store.seed, "cx-contact", i) % store.contacts.base_count
    channel = r.choice(vocab.CHANNELS)
    row = {
        "caseId": 12000 + i, "contact": contact, "channel": channel, "queue": r.randrange(len(vocab.QUEUES)),
        "agent": r.randrange(n_users), "firstAssignee": r.randrange(n_users),
        "direction": "inbound" if r.random() < 0.8 else "outbound", "started": started,
        "labels": r.sample(vocab.LABELS, r.choice([0, 1, 2, 2, 3])),
        "createdAt": started + r.randrange(1, 10_000) * 1000, "deletedAt": None,
        "wrapUpFormId": None if r.random() < 0.3 else uuid_from(store.seed, "wrapup", r.randrange(3)),
        "cxIntelligenceStatus": r.choice(["processed", "processed", "pending", None]),
        "closed": None,
    }
    row["updatedAt"] = row["createdAt"]
    if not is_open:
        close_cxlog(store, row, r)
    return row


def close_cxlog(store: Store, row: dict[str, Any], r: Any, at_us: int | None = None) -> None:
    """Close an open log: closedAt, durations, disposition and SLA status."""
    handled = r.randrange(60, 7200)
    hold = r.choice([0, 0, 15, 45, 300])
    first = r.randrange(5, 600)
    wrap = r.choice([None, 30, 180])
    closed = row["started"] + (handled + hold) * 1_000_000 if at_us is None else max(at_us, row["started"])
    row["closed"] = {
        "closedAt": closed, "handledTime": handled, "totalHoldDuration": hold, "firstResponseTime": first,
        "disposition": r.choice(["Resolved", "Resolved", "Follow-up", "No Response"]), "wrapUpDuration": wrap,
        "slaStatus": "meet" if first < 300 else "breach", "closedAssignee": r.randrange(len(store.users)),
        "fullHandledTime": handled + hold, "resolutionTime": handled + hold + 140,
        "fullResolutionTime": handled + hold + 200 + (wrap or 0), "firstRepliedTime": first + 5,
    }
    row["updatedAt"] = max(row["updatedAt"], closed + 5_000_000) if at_us is None else at_us


def render_cxlog(store: Store, i: int, row: dict[str, Any]) -> dict[str, Any]:
    """CX log exactly per the newer §7.2 example (Postgres-style startedDate/closedAt, `deletedaAt` users)."""
    seed, users = store.seed, store.users
    cl = row["closed"] or {}
    contact_row = store.contacts.core(row["contact"])
    contact = render_cxlog_embed(store, row["contact"], contact_row)
    social = contact_row["platform"][0][2] if contact_row["platform"] else None
    phone = contact_row["phones"][0][1] if contact_row["phones"] else None
    closed_assignee = users[cl["closedAssignee"]] if cl else None
    room_id = uuid_from(seed, "room", i)
    is_mail = row["channel"] == "email"
    room = {"id": room_id, "status": "solved" if cl else "active", "channel": row["channel"],  # [INFER] room shape
            "contactId": contact["id"], "createdAt": fmt_ms(row["createdAt"])}
    return {
        "id": store.cx_logs.id_of(i), "caseId": row["caseId"], "entityId": room_id,
        "entityName": "mailRoom" if is_mail else "room", "contactId": contact["id"], "channel": row["channel"],
        "queueId": uuid_from(seed, "queue", row["queue"]), "agentId": users[row["agent"]]["id"],
        "direction": row["direction"], "startedDate": fmt_pg(row["started"]),
        "closedAt": fmt_pg(cl["closedAt"], millis=False) if cl else None,
        "handledTime": cl.get("handledTime"), "totalHoldDuration": cl.get("totalHoldDuration"),
        "firstResponseTime": cl.get("firstResponseTime"), "disposition": cl.get("disposition"),
        "channelType": row["channel"], "customerPhone": phone if row["channel"] in ("phone", "whatsapp") else None,
        "contactLabel": row["labels"], "queueName": vocab.QUEUES[row["queue"]],
        "uid": social if social else phone,
        "createdAt": fmt_ms(row["createdAt"]), "updatedAt": fmt_ms(row["updatedAt"]),
        "deletedAt": None if row["deletedAt"] is None else fmt_ms(row["deletedAt"]),
        "wrapUpFormId": row["wrapUpFormId"], "wrapUpDuration": cl.get("wrapUpDuration"),
        "slaStatus": cl.get("slaStatus"), "firstAssigneeId": users[row["firstAssignee"]]["id"],
        "closedAssigneeId": closed_assignee["id"] if closed_assignee else None,
        "fullHandledTime": cl.get("fullHandledTime"), "resolutionTime": cl.get("resolutionTime"),
        "fullResolutionTime": cl.get("fullResolutionTime"), "cxIntelligenceStatus": row["cxIntelligenceStatus"],
        "firstRepliedTime": cl.get("firstRepliedTime"),
        "contact": contact, "firstAssignee": users[row["firstAssignee"]], "agent": users[row["agent"]],
        "closedAssignee": closed_assignee,
        "mailRoom": room if is_mail else None, "room": None if is_mail else room,
    }


def make_activity(store: Store, i: int) -> dict[str, Any]:
    n = max(1, store.activities.base_count)
    span = 7 * DAY_US
    created = store.clock_start_us - span + (i * span) // n + h64(store.seed, "act", i) % max(1, span // n)
    user = h64(store.seed, "act-user", i) % len(store.users)
    return {"createdAt": created, "user": user, "prev": (i + user) % 6, "cur": (i + user + 1) % 6}


def render_activity(store: Store, i: int, row: dict[str, Any]) -> dict[str, Any]:
    """Agent presence log (§9.2): id, createdAt, previousPresenceStatus [DOC]; the rest [INFER]."""
    u = store.users[row["user"]]
    return {"id": store.activities.id_of(i), "createdAt": fmt_ms(row["createdAt"]),
            "previousPresenceStatus": presence_status(store.seed, row["prev"]),
            "currentPresenceStatus": presence_status(store.seed, row["cur"]),
            "userId": u["id"], "user": {"id": u["id"], "name": u["name"], "email": u["email"]}}

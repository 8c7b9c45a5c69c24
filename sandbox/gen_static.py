"""Small fixed-size reference data: form fields, users, companies, categories, presence statuses."""

from __future__ import annotations

from typing import Any

from . import vocab
from .util import DAY_US, fmt_ms, h64, rng, uuid_from

# Contact custom field types. Only text, select and date are seen in the docs (seed example,
# form-fields example, ticket create "Date custom field must be in ISO-8601 format (YYYY-MM-DD)");
# the others are [INFER] plausible types.
CUSTOM_FIELDS: list[tuple[str, str, str]] = [
    # (system_name, display_name, type)
    ("demo_test", "demo test ddddfee erefesf", "text"),  # [DOC] seed example: no cf_ prefix
    ("cf_customer_id", "Customer ID", "text"),
    ("cf_remarks", "Remarks", "textarea"),  # [INFER] type
    ("cf_loyalty_points", "Loyalty Points", "number"),  # [INFER] type
    ("cf_birthday", "Birthday", "date"),
    ("cf_tier", "Tier", "select"),
    ("cf_interests", "Interests", "multi_select"),  # [INFER] type
    ("cf_newsletter", "Newsletter Opt-in", "checkbox"),  # [INFER] type
    ("cf_work_email", "Work Email", "email"),  # [INFER] type
    ("cf_mobile", "Mobile", "phone"),  # [INFER] type
    ("cf_website", "Website", "url"),  # [INFER] type
]
SELECT_OPTIONS = {
    "cf_tier": ["Bronze", "Silver", "Gold", "Platinum"],
    "cf_interests": ["Sports", "Travel", "Food", "Tech", "ดนตรี", "စာအုပ်"],
}
# Default (built-in) contact fields; "channel" options and flags as in the form-fields example.
DEFAULT_FIELDS: list[tuple[str, str, str]] = [
    ("name", "Name", "text"), ("channel", "Channel", "select"), ("address", "Address", "textarea"),
    ("notes", "Notes", "textarea"), ("email", "Email", "email"), ("phone", "Phone", "phone"),
    ("company", "Company", "select"), ("tags", "Tags", "multi_select"),
    ("socialProfileUrl", "Social Profile URL", "url"),
]
CHANNEL_OPTIONS = [("phone", "Phone"), ("G-Mail", "G-Mail"), ("whatsapp", "WhatsApp"), ("messenger", "Messenger"),
                   ("line", "LINE"), ("viber", "Viber")]
# Ticket form fields: the endpoint exists ([DOC] menu) but its shape is [INFER], mirroring contact fields;
# cf_trackingid / cf_date are the keys of the ticket-create example.
TICKET_FIELDS: list[tuple[str, str, str]] = [
    ("title", "Title", "text"), ("description", "Description", "textarea"), ("status", "Status", "select"),
    ("priority", "Priority", "select"), ("channel", "Channel", "select"), ("cf_trackingid", "Tracking ID", "text"),
    ("cf_date", "Date", "date"), ("cf_order_value", "Order Value", "number"), ("cf_urgent", "Urgent", "checkbox"),
]
TICKET_STATUSES = ["open", "in progress", "pending", "resolved", "closed"]
TICKET_PRIORITIES = ["low", "medium", "high", "urgent"]


def field_type_map() -> dict[str, str]:
    return {name: typ for name, _, typ in CUSTOM_FIELDS}


def contact_form_fields(seed: int, display_names: dict[str, str]) -> list[dict[str, Any]]:
    """Contact form fields (§3.5): default fields then custom fields, snake_case keys."""
    out = []
    for name, label, typ in DEFAULT_FIELDS + CUSTOM_FIELDS:
        is_default = not (name.startswith("cf_") or name == "demo_test")
        options: list[dict[str, Any]] = []
        if name == "channel":
            options = [{"value": v, "label": lab, "is_default": v == "phone"} for v, lab in CHANNEL_OPTIONS]
        elif name in SELECT_OPTIONS:
            options = [{"value": v, "label": v, "is_default": False} for v in SELECT_OPTIONS[name]]
        out.append({
            "id": uuid_from(seed, "field", name),
            "system_name": name,
            "display_name": display_names.get(name, label),
            "type": typ,
            "is_default": is_default,
            "is_archived": name == "channel",  # [DOC] the example's channel field is archived
            "is_required": name in ("name", "channel"),
            "is_unique": name == "cf_customer_id",
            "options": options,
        })
    return out


def ticket_form_fields(seed: int) -> list[dict[str, Any]]:
    """Ticket form fields ([INFER] same item shape as contact form fields)."""
    out = []
    for name, label, typ in TICKET_FIELDS:
        opts: list[str] = {"status": TICKET_STATUSES, "priority": TICKET_PRIORITIES,
                           "channel": vocab.CHANNELS}.get(name, [])
        out.append({
            "id": uuid_from(seed, "ticket-field", name), "system_name": name, "display_name": label,
            "type": typ, "is_default": not name.startswith("cf_"), "is_archived": False,
            "is_required": name == "title", "is_unique": False,
            "options": [{"value": o, "label": o.title(), "is_default": i == 0} for i, o in enumerate(opts)],
        })
    return out


def users(seed: int, clock_us: int) -> list[dict[str, Any]]:
    """Agents as the cx-log user object (§7.2), including the documented `deletedaAt` typo."""
    out = []
    for i, name in enumerate(vocab.AGENT_NAMES):
        r = rng(seed, "user", i)
        created = clock_us - (800 - i * 30) * DAY_US + r.randrange(DAY_US)
        first = name.split()[0].lower()
        out.append({
            "id": uuid_from(seed, "user", i), "name": name, "email": f"{first}.{i}@klink.cloud",
            "address": None if i % 3 else "Yangon", "phone": None if i % 2 else f"+95 9 {r.randrange(10**8, 10**9)}",
            "notificationCount": r.choice([0, 0, 3, 12]), "deletedaAt": None,
            "createdAt": fmt_ms(created), "updatedAt": fmt_ms(created + r.randrange(100 * DAY_US)),
        })
    return out


def companies(seed: int) -> list[dict[str, Any]]:
    """Companies as in the seed example: {id,name,phone,address,industry} with nulls."""
    out = []
    for i, name in enumerate(vocab.COMPANY_NAMES):
        r = rng(seed, "company", i)
        cid = "547f2af6-1e6d-420e-aaed-b6448d37fd08" if i == 0 else uuid_from(seed, "company", i)
        out.append({
            "id": cid, "name": name,
            "phone": None if i == 0 or r.random() < 0.4 else f"+66 2 {r.randrange(1000000, 9999999)}",
            "address": None if i == 0 or r.random() < 0.5 else vocab.ADDRESSES[i % 4],
            "industry": None if i == 0 else r.choice(vocab.INDUSTRIES),
        })
    return out


def categories(seed: int, clock_us: int) -> list[dict[str, Any]]:
    """Category tree (§6): roots with nested childCategoryList, depth up to 4."""
    counter = [0]

    def node(parent: str | None, level: int, r: Any) -> dict[str, Any]:
        counter[0] += 1
        k = counter[0]
        cid = uuid_from(seed, "category", k)
        created = clock_us - (90 - k % 80) * DAY_US + h64(seed, "cat-t", k) % DAY_US
        updated = created if k % 3 else created + 3_264_000  # some edited a few seconds later
        value = "" if k == 1 else vocab.CATEGORY_WORDS[k % len(vocab.CATEGORY_WORDS)]
        children = []
        if level < 4:
            n = 2 if level == 1 and k == 2 else r.choice([0, 1, 2, 2, 3]) if level < 3 else r.choice([0, 1])
            children = [node(cid, level + 1, r) for _ in range(n)]
        for i, ch in enumerate(children):
            ch["sortOrder"] = i
        return {"id": cid, "createdAt": fmt_ms(created), "updatedAt": fmt_ms(updated), "deletedAt": None,
                "value": value, "parentId": parent, "level": level, "sortOrder": 0, "childCategoryList": children}

    r = rng(seed, "categories")
    roots = [node(None, 1, r) for _ in range(5)]
    # guarantee depth >= 3 whatever the seed: the second root always has a 3-level branch
    branch = roots[1]
    while branch["level"] < 3:
        if not branch["childCategoryList"]:
            branch["childCategoryList"].append(node(branch["id"], branch["level"] + 1, rng(seed, "cat-deep")))
        branch = branch["childCategoryList"][0]
    return roots


def presence_status(seed: int, i: int) -> dict[str, Any]:
    system, display, emoji = vocab.PRESENCE[i % len(vocab.PRESENCE)]
    return {"id": uuid_from(seed, "presence", system), "systemName": system, "displayName": display, "emoji": emoji}

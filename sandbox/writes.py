"""Write endpoints: contacts, contact tags, tickets, ticket status, channels, messages.

Request bodies are [INFER] except ticket create (§5.3), update tags (§3.6) and send message (§8.1).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import vocab
from .gen_records import make_channel
from .gen_static import TICKET_PRIORITIES, TICKET_STATUSES
from .handlers import contact_index
from .util import fmt_ns, rng, uuid_from
from .wire import ApiError, ListMods, Request, Response, ok

if TYPE_CHECKING:
    from .server import App
    from .store import Store

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TAG_ACTIONS = ("MERGE", "REPLACE", "REMOVE")  # [DOC] MERGE; [INFER] REPLACE, REMOVE


def _str(body: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise ApiError(400, f"{key} is required")
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise ApiError(400, f"{key} must be a non-empty string" if required else f"{key} must be a string")
    return value


def _items(store: Store, body: dict[str, Any], keys: tuple[str, ...], kind: str, ci: int) -> list[list[Any]] | None:
    """emails/phones given as strings or {email|phone, isPrimary} objects under any of `keys`."""
    raw = next((body[k] for k in keys if k in body), None)
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise ApiError(400, f"{keys[0]} must be an array")
    out = []
    for j, it in enumerate(raw):
        if isinstance(it, str):
            value, primary = it, j == 0
        elif isinstance(it, dict) and isinstance(it.get(kind), str):
            value, primary = it[kind], bool(it.get("isPrimary", j == 0))
        else:
            raise ApiError(400, f"{keys[0]}[{j}] must be a string or an object with {kind!r}")
        out.append([uuid_from(store.seed, kind, "api", ci, j, value), value, primary, store.now_us])
    return out


def _custom(store: Store, raw: Any) -> list[list[Any]]:
    """customFields as an object keyed by system name (like ticket create) or a list of {system_name, value}."""
    if isinstance(raw, list):
        try:
            raw = {it["system_name"]: it.get("value") for it in raw}
        except (TypeError, KeyError):
            raise ApiError(400, "customFields items need system_name") from None
    if not isinstance(raw, dict):
        raise ApiError(400, "customFields must be an object")
    out = []
    for key, value in raw.items():
        typ = store.field_types.get(key)
        if typ is None:
            raise ApiError(400, f"Unknown custom field {key!r}")
        if typ == "date" and value is not None and not (isinstance(value, str) and DATE_RE.match(value)):
            raise ApiError(400, f"Date custom field {key} must be in ISO-8601 format (YYYY-MM-DD)")
        out.append([key, value])
    return out


def _tag_indices(store: Store, names: Any, create: bool) -> list[int]:
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise ApiError(400, "tags must be an array of tag names")
    out = []
    for name in names:
        i = store.tag_index_by_name(name)
        if i is None and create:
            t = store.tags
            i = t.add({"name": name, "position": t.size, "createdAt": store.now_us, "updatedAt": store.now_us,
                       "deletedAt": None})
        if i is not None and i not in out:
            out.append(i)
    return out


def _apply_contact(store: Store, row: dict[str, Any], body: dict[str, Any], ci: int) -> None:
    for key in ("name", "address", "channel", "notes", "socialProfileUrl"):
        if key in body:
            row[key] = _str(body, key, required=key == "name")
    if "companyId" in body:
        cid = body["companyId"]
        found = [k for k, c in enumerate(store.companies) if c["id"] == cid]
        if cid is not None and not found:
            raise ApiError(400, f"Unknown companyId {cid!r}")
        row["company"] = found[0] if found else None
    for field, keys, kind in (("emails", ("email", "emails", "contactEmails"), "email"),
                              ("phones", ("phone", "phones", "contactPhones"), "phone")):
        items = _items(store, body, keys, kind, ci)
        if items is not None:
            row[field] = items
    if "tags" in body:
        row["tags"] = _tag_indices(store, body["tags"], create=True)
    if "customFields" in body:
        row["custom"] = _custom(store, body["customFields"])


def contacts_create(app: App, req: Request, mods: ListMods) -> Response:
    """[INFER] 201 {"status":"success","message":"Contact created successfully","data":contact}."""
    body, store = req.json(), app.store
    _str(body, "name", required=True)
    with store.lock:
        t = store.contacts
        i = t.size
        row = {"name": "", "address": None, "channel": None, "notes": None, "socialProfileUrl": None,
               "contactProfile": None, "contactNumber": None, "company": None, "emails": [], "phones": [],
               "tags": [], "custom": [], "platform": [], "createdAt": store.now_us, "updatedAt": store.now_us,
               "deletedAt": None}
        _apply_contact(store, row, body, i)
        t.add(row)
        store.changed("contacts")
        data = t.obj(i)
    return ok({"status": "success", "message": "Contact created successfully", "data": data}, 201)


def contacts_update(app: App, req: Request, mods: ListMods) -> Response:
    """[INFER] 200 {"status":"success","message":"Contact updated successfully","data":contact}."""
    body, store = req.json(), app.store
    with store.lock:
        i = contact_index(app, req.params["id"])
        row = dict(store.contacts.editable(i))
        _apply_contact(store, row, body, i)
        row["updatedAt"] = store.now_us
        store.contacts.overlay[i] = row
        store.contacts.touched(i)
        store.changed("contacts")
        data = store.contacts.obj(i)
    return ok({"status": "success", "message": "Contact updated successfully", "data": data})


def contacts_delete(app: App, req: Request, mods: ListMods) -> Response:
    """[INFER] 200 {"status":"success","message":"Contact deleted successfully","data":null}; gone afterwards."""
    store = app.store
    with store.lock:
        store.contacts.delete(contact_index(app, req.params["id"]))
        store.changed("contacts")
    return ok({"status": "success", "message": "Contact deleted successfully", "data": None})


def contacts_tags(app: App, req: Request, mods: ListMods) -> Response:
    """[DOC] body {"actionType":"MERGE","tags":[names]} -> {"status":"success",...,"data":null}."""
    body, store = req.json(), app.store
    action = body.get("actionType", "MERGE")
    if action not in TAG_ACTIONS:
        raise ApiError(400, f"actionType must be one of {', '.join(TAG_ACTIONS)}")
    with store.lock:
        i = contact_index(app, req.params["id"])
        row = store.contacts.editable(i)
        given = _tag_indices(store, body.get("tags"), create=action != "REMOVE")
        if action == "MERGE":
            row["tags"] = row["tags"] + [t for t in given if t not in row["tags"]]
        elif action == "REPLACE":
            row["tags"] = given
        else:
            row["tags"] = [t for t in row["tags"] if t not in given]
        row["updatedAt"] = store.now_us
        store.contacts.touched(i)
        store.changed("contacts")
    return ok({"status": "success", "message": "Contact tags updated successfully", "data": None})


def _apply_ticket(store: Store, row: dict[str, Any], body: dict[str, Any]) -> None:
    for key in ("title", "description", "type", "channel", "reasonToAssign", "ticketType"):
        if key in body:
            row[key] = _str(body, key, required=key == "title")
    if "status" in body and body["status"] not in TICKET_STATUSES:
        raise ApiError(400, f"status must be one of {TICKET_STATUSES}")
    if "priority" in body and body["priority"] not in TICKET_PRIORITIES:
        raise ApiError(400, f"priority must be one of {TICKET_PRIORITIES}")
    row.update({k: body[k] for k in ("status", "priority") if k in body})
    cid = body.get("contact_id", body.get("contactId"))  # [DOC] create uses contact_id
    if cid is not None:
        ci = store.contacts.index_of(cid) if isinstance(cid, str) else None
        if ci is None:
            raise ApiError(400, f"Unknown contact_id {cid!r}")
        row["contact"] = ci
    if "tags" in body:  # [DOC] ticket tags are tag ids
        tags = body["tags"]
        idx = [store.tags.index_of(t) if isinstance(t, str) else None for t in tags] if isinstance(tags, list) else [None]
        if None in idx:
            raise ApiError(400, "tags must be an array of existing tag ids")
        row["tags"] = idx
    if "customFields" in body:
        cf = body["customFields"]
        if not isinstance(cf, dict):
            raise ApiError(400, "customFields must be an object")
        for k, v in cf.items():
            if k.endswith("date") and v is not None and not (isinstance(v, str) and DATE_RE.match(v)):
                raise ApiError(400, f"Date custom field {k} must be in ISO-8601 format (YYYY-MM-DD)")
        row["custom"] = dict(row.get("custom", {}), **cf)


def _ticket_index(app: App, uid: str) -> int:
    i = app.store.tickets.index_of(uid)
    if i is None:
        raise ApiError(404, f"Ticket {uid} not found")
    return i


def tickets_create(app: App, req: Request, mods: ListMods) -> Response:
    """[DOC] 201 {"success": true, "data": ticket}."""
    body, store = req.json(), app.store
    _str(body, "title", required=True)
    if body.get("contact_id") is None and body.get("contactId") is None:
        raise ApiError(400, "contact_id is required")
    with store.lock:
        t = store.tickets
        i = t.size
        row = {"title": "", "description": None, "type": "question", "channel": None, "priority": "medium",
               "status": "open", "contact": 0, "creator": 0, "assignee": None, "reasonToAssign": None,
               "ticketNumber": 38000 + i, "ticketType": "support", "tags": [], "custom": {},
               "createdAt": store.now_us, "updatedAt": store.now_us, "deletedAt": None}
        _apply_ticket(store, row, body)
        t.add(row)
        data = t.obj(i)
    return ok({"success": True, "data": data}, 201)


def tickets_update(app: App, req: Request, mods: ListMods) -> Response:
    """[INFER] PATCH with create's fields -> {"success": true, "data": ticket}."""
    body, store = req.json(), app.store
    with store.lock:
        i = _ticket_index(app, req.params["id"])
        row = dict(store.tickets.editable(i))
        _apply_ticket(store, row, body)
        row["updatedAt"] = store.now_us
        store.tickets.overlay[i] = row
        store.tickets.touched(i)
        data = store.tickets.obj(i)
    return ok({"success": True, "data": data})


def tickets_status(app: App, req: Request, mods: ListMods) -> Response:
    """[INFER] PUT {"status": ...} -> {"success": true, "data": ticket}."""
    body, store = req.json(), app.store
    if body.get("status") not in TICKET_STATUSES:
        raise ApiError(400, f"status must be one of {TICKET_STATUSES}")
    with store.lock:
        i = _ticket_index(app, req.params["id"])
        row = store.tickets.editable(i)
        row["status"] = body["status"]
        row["updatedAt"] = store.now_us
        store.tickets.touched(i)
        data = store.tickets.obj(i)
    return ok({"success": True, "data": data})


def channels_create(app: App, req: Request, mods: ListMods) -> Response:
    """[INFER] body {"name","type"} -> 201 {"status":"success","message":"Channel created successfully","data"}."""
    body, store = req.json(), app.store
    name = _str(body, "name", required=True)
    typ = _str(body, "type") or "webchat"
    if typ not in vocab.CHANNELS:
        raise ApiError(400, f"type must be one of {vocab.CHANNELS}")
    with store.lock:
        t = store.channels
        row = make_channel(store, t.size)
        row.update(name=name, type=typ, status="active", createdAt=store.now_us, updatedAt=store.now_us)
        i = t.add(row)
        data = t.obj(i)
    return ok({"status": "success", "message": "Channel created successfully", "data": data}, 201)


def messages_send(app: App, req: Request, mods: ListMods) -> Response:
    """[DOC] body {contactId, messageType, message, createdAt} -> {"status":200,"message":...,"data":{...}}."""
    body, store = req.json(), app.store
    cid = _str(body, "contactId", required=True)
    text = _str(body, "message", required=True)
    mtype = _str(body, "messageType") or "text"
    if mtype != "text":  # [INFER] only "text" is documented
        raise ApiError(400, "messageType must be 'text'")
    with store.lock:
        ci = contact_index(app, cid or "")
        n = app.next_request_id()
        now = store.now_us
        r = rng(store.seed, "message", n)
    data = {  # [DOC] id..partition_key; the rest [INFER]
        "id": uuid_from(store.seed, "message", n), "createdAt": fmt_ns(now), "updatedAt": fmt_ns(now),
        "deletedAt": None, "clientRequestId": "", "partition_key": f"{store.now():%Y_%m}",
        "contactId": store.contacts.id_of(ci), "messageType": mtype, "message": text, "direction": "outbound",
        "roomId": uuid_from(store.seed, "room-msg", ci), "status": r.choice(["sent", "queued"]),
    }
    return ok({"status": 200, "message": "Message sent successfully", "data": data})

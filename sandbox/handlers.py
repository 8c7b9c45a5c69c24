"""Endpoint handlers: read endpoints, pagination and the response envelopes."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson

from .gen_static import contact_form_fields, ticket_form_fields
from .table import Table
from .util import to_us, uuid_from
from .wire import ApiError, ListMods, Request, Response, ok

if TYPE_CHECKING:
    from .server import App

DEFAULT_PAGE_SIZE = 10  # [DOC] "By default, all responses limit results to ten"
MAX_PAGE_SIZE = 100  # [DOC] "you can go as high as 100"; [CHOICE] larger values are clamped, not rejected
EMPTY_LAST_PAGE = 0  # [CHOICE] lastPage for total 0 is ceil(0/pageSize) = 0; clients must accept 0 or 1


def paging(req: Request) -> tuple[int, int]:
    """page and pageSize from the query (400 if not positive integers; pageSize clamped to 100)."""

    def num(name: str, default: int) -> int:
        raw = req.query.get(name)
        if raw is None or raw == "":  # the doc's own example sends "?page&pageSize"
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, f"{name} must be an integer, got {raw!r}") from None
        if value < 1:
            raise ApiError(400, f"{name} must be >= 1, got {value}")
        return value

    return num("page", 1), min(num("pageSize", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)


def last_page(total: int, size: int) -> int:
    return math.ceil(total / size) if total > 0 else EMPTY_LAST_PAGE


def page_rows(table: Table, page: int, size: int, mods: ListMods, source: list[int] | tuple[int, int] | None = None
              ) -> tuple[int, list[bytes]]:
    """(total, serialized records) of one page; source is an index list or an index range (default: all)."""
    offset = (page - 1) * size + mods.shift
    if isinstance(source, list):
        total = len(source)
        lo = max(0, offset)
        idx: Iterable[int] = source[lo:max(lo, offset + size)]
    else:
        lo, hi = source if source else (0, table.size)
        total = table.live_in(lo, hi)
        idx = table.ordered_slice(lo, hi, offset, size)
    cache, get = table.cache, table.bytes_of
    rows = [] if mods.empty else [cache.get(i) or get(i) for i in idx]
    return total, rows


def std_list(total: int, page: int, size: int, rows: list[bytes], mods: ListMods) -> Response:
    """{"total","page","pageSize","lastPage","data"} ([DOC] §1.3)."""
    total += mods.total_delta
    head = b'{"total":%d,"page":%d,"pageSize":%d,"lastPage":%d,"data":[' % (total, page, size, last_page(total, size))
    return Response(200, head + b",".join(rows) + b"]}")


def list_table(app: App, req: Request, mods: ListMods, table: Table, source: Any = None) -> Response:
    page, size = paging(req)
    total, rows = page_rows(table, page, size, mods, source)
    return std_list(total, page, size, rows, mods)


def list_objects(req: Request, mods: ListMods, items: list[dict[str, Any]]) -> Response:
    """Paginate a small in-memory list of objects."""
    page, size = paging(req)
    off = max(0, (page - 1) * size + mods.shift)
    rows = [] if mods.empty else [orjson.dumps(o) for o in items[off:off + size]]
    return std_list(len(items), page, size, rows, mods)


def contact_index(app: App, uid: str) -> int:
    i = app.store.contacts.index_of(uid)
    if i is None:
        raise ApiError(404, f"Contact {uid} not found")
    return i


# -- contacts -----------------------------------------------------------------------------------
def contacts_list(app: App, req: Request, mods: ListMods) -> Response:
    kw = req.query.get("keyword", "").strip()
    source = app.store.contacts_by_keyword(kw) if kw else None
    return list_table(app, req, mods, app.store.contacts, source)


def contacts_detail(app: App, req: Request, mods: ListMods) -> Response:
    i = contact_index(app, req.params["id"])
    return Response(200, b'{"status":"success","message":"contact","data":' + app.store.contacts.bytes_of(i) + b"}")


def contacts_fields(app: App, req: Request, mods: ListMods) -> Response:
    return list_objects(req, mods, contact_form_fields(app.store.seed, app.store.display_names))


def contacts_by_social(app: App, req: Request, mods: ListMods) -> Response:
    """[INFER] response: the standard list envelope of matching contacts."""
    hits = app.store.contacts_by_social_id(req.params["socialPlatformId"])
    return list_table(app, req, mods, app.store.contacts, hits)


def contact_groups_list(app: App, req: Request, mods: ListMods) -> Response:
    return list_table(app, req, mods, app.store.groups)


def tags_list(app: App, req: Request, mods: ListMods) -> Response:
    return list_table(app, req, mods, app.store.tags)


def channels_list(app: App, req: Request, mods: ListMods) -> Response:
    return list_table(app, req, mods, app.store.channels)


# -- tickets ------------------------------------------------------------------------------------
def tickets_list(app: App, req: Request, mods: ListMods) -> Response:
    return list_table(app, req, mods, app.store.tickets)


def tickets_by_contact(app: App, req: Request, mods: ListMods) -> Response:
    """[INFER] response: the standard list envelope of the contact's tickets."""
    i = contact_index(app, req.params["contactId"])
    return list_table(app, req, mods, app.store.tickets, app.store.tickets_by_contact(i))


def tickets_fields(app: App, req: Request, mods: ListMods) -> Response:
    return list_objects(req, mods, ticket_form_fields(app.store.seed))


def categories_list(app: App, req: Request, mods: ListMods) -> Response:
    """[DOC] {"data": [tree]}, not paginated."""
    return ok({"data": app.store.categories})


# -- cx-logs ------------------------------------------------------------------------------------
def parse_selected_date(value: str | None, tz_name: str | None) -> tuple[int, int]:
    """selectedDate 'YYYY/MM/DD HH:mm:ss-YYYY/MM/DD HH:mm:ss' in zone tz_name -> UTC epoch seconds (inclusive)."""
    from datetime import datetime

    if not tz_name:
        raise ApiError(400, "x-client-timezone header is required")
    try:
        tz = ZoneInfo(tz_name)
    except Exception:
        raise ApiError(400, f"x-client-timezone {tz_name!r} is not a known IANA time zone") from None
    if not value:
        raise ApiError(400, "selectedDate is required")
    parts = value.split("-")
    if len(parts) != 2:
        raise ApiError(400, "selectedDate must look like 'YYYY/MM/DD HH:mm:ss-YYYY/MM/DD HH:mm:ss'")
    try:
        start, end = (datetime.strptime(p.strip(), "%Y/%m/%d %H:%M:%S").replace(tzinfo=tz) for p in parts)
    except ValueError:
        raise ApiError(400, "selectedDate must look like 'YYYY/MM/DD HH:mm:ss-YYYY/MM/DD HH:mm:ss'") from None
    if end < start:
        raise ApiError(400, "selectedDate ends before it starts")
    return to_us(start) // 1_000_000, to_us(end) // 1_000_000


def cx_logs_list(app: App, req: Request, mods: ListMods) -> Response:
    """[DOC] {"requestId", "cxLogs": {"data","total","page","pageSize", [INFER] "lastPage"}}."""
    start, end = parse_selected_date(req.query.get("selectedDate"), req.headers.get("x-client-timezone"))
    page, size = paging(req)
    store = app.store
    total, rows = page_rows(store.cx_logs, page, size, mods, store.cxlog_range(start, end))
    total += mods.total_delta
    rid = uuid_from(store.seed, "request", app.next_request_id()).encode()
    body = (b'{"requestId":"%s","cxLogs":{"data":[' % rid + b",".join(rows)
            + b'],"total":%d,"page":%d,"pageSize":%d,"lastPage":%d}}' % (total, page, size, last_page(total, size)))
    return Response(200, body)


def agent_activities_list(app: App, req: Request, mods: ListMods) -> Response:
    """[DOC] {"data": [...] ...}; [INFER] total/page/pageSize/lastPage follow data."""
    page, size = paging(req)
    total, rows = page_rows(app.store.activities, page, size, mods)
    total += mods.total_delta
    body = (b'{"data":[' + b",".join(rows)
            + b'],"total":%d,"page":%d,"pageSize":%d,"lastPage":%d}' % (total, page, size, last_page(total, size)))
    return Response(200, body)

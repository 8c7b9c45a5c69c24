"""Turn API records into warehouse rows: one shape per resource, typed custom fields, timestamp parsing.

The row builders leave timestamps as the API sent them; `columnar.ArrowBatch` parses the documented
timestamp keys while it flattens (one walk over each record instead of two).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

import orjson
import pendulum

from .settings import CUSTOM_FIELD_TYPES

# Bumped when the row shape this module produces changes, so every row is rewritten once.
NORMALIZER_VERSION = b"1"

TIMESTAMP_KEYS = frozenset({"createdAt", "updatedAt", "deletedAt", "deletedaAt", "startedDate", "closedAt"})

# Documented object-valued keys: a null one is dropped so dlt does not see an untyped `company` column
# (its flattened `company__*` columns are typed in settings and stay NULL).
OBJECT_KEYS = frozenset({"company", "assignee", "creator", "contact", "firstAssignee", "agent", "closedAssignee"})

Record = Dict[str, Any]


def record_hash(record: Mapping[str, Any]) -> str:
    """A short, stable content hash of an API record (key order does not matter)."""
    return hashed_json(record)[0]


def hashed_json(record: Mapping[str, Any]) -> Tuple[str, bytes]:
    """record_hash and the JSON it was computed from (sorted keys), made once for both uses."""
    payload = orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.blake2b(NORMALIZER_VERSION + payload, digest_size=8).hexdigest(), payload


class HeldJson:
    """Records waiting to be built: their hashes and one growing JSON array of their bodies.

    One buffer instead of a bytes object per record: orjson's `dumps` result keeps far more memory
    allocated than its length (4 KB for a 7-byte result, 8 KB for 1 KB; orjson 3.13), so 5,000 held
    cx-logs took 81 MB as separate objects and take 7 MB here.
    """

    __slots__ = ("digests", "_body")

    def __init__(self) -> None:
        self.digests: List[str] = []
        self._body = bytearray(b"[")

    def __len__(self) -> int:
        return len(self.digests)

    def add(self, digest: str, payload: bytes) -> None:
        if self.digests:
            self._body += b","
        self._body += payload
        self.digests.append(digest)

    def records(self) -> Iterator[Tuple[str, Any]]:
        """(hash, parsed record) of each held record, in the order added."""
        self._body += b"]"
        try:
            parsed = orjson.loads(self._body)
        finally:
            del self._body[-1]  # still open for `add`
        return zip(self.digests, parsed, strict=True)


def parse_timestamp(value: Any) -> Any:
    """Parse every documented timestamp format into an aware datetime; other values pass through.

    Formats seen in the docs: `2026-01-08T04:42:59.028Z`, `2026-01-09T03:42:38.000000Z`,
    `2026-01-08T16:34:34.542193005Z` (ns, truncated to µs) and `2026-03-30 08:30:00.000+00`.
    """
    if not isinstance(value, str) or not value:
        return value
    try:
        parsed = dt.datetime.fromisoformat(value)  # fast path, handles all of the above on 3.11+
    except ValueError:
        try:
            parsed = pendulum.parse(value, strict=False)  # type: ignore[assignment]
        except Exception:
            return value  # left as text; dlt puts it in a variant column rather than losing it
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed


def parse_timestamps(obj: Any) -> Any:
    """Parse the documented timestamp keys at any depth and drop null documented objects, in place."""
    if isinstance(obj, dict):
        _parse_dict(obj)
    elif isinstance(obj, list):
        _parse_list(obj)
    return obj


def _parse_dict(obj: Dict[str, Any]) -> None:
    # one pass over the items (this runs for every nested object of every record: keep it tight)
    drop = None
    for key, value in obj.items():
        if key in TIMESTAMP_KEYS:
            if value.__class__ is str and value:
                obj[key] = parse_timestamp_cached(value)
            elif value is not None and not isinstance(value, (dict, list)):
                obj[key] = parse_timestamp(value)
        elif value is None:
            if key in OBJECT_KEYS:
                drop = [key] if drop is None else [*drop, key]
        elif isinstance(value, dict):
            _parse_dict(value)
        elif isinstance(value, list):
            _parse_list(value)
    if drop:
        for key in drop:
            del obj[key]


def _parse_list(items: List[Any]) -> None:
    for item in items:
        if isinstance(item, dict):
            _parse_dict(item)
        elif isinstance(item, list):
            _parse_list(item)


# The same timestamps repeat across records (embedded users, tags, platform contacts): parse each once.
_TIMESTAMP_CACHE: Dict[str, Any] = {}
_TIMESTAMP_CACHE_MAX = 8192


def parse_timestamp_cached(value: str) -> Any:
    """parse_timestamp for a string, remembering the last few thousand."""
    parsed = _TIMESTAMP_CACHE.get(value)
    if parsed is not None:
        return parsed
    parsed = parse_timestamp(value)
    if len(_TIMESTAMP_CACHE) >= _TIMESTAMP_CACHE_MAX:
        _TIMESTAMP_CACHE.clear()
    _TIMESTAMP_CACHE[value] = parsed
    return parsed


def coerce_custom_value(value: Any, field_type: Optional[str]) -> Any:
    """Coerce a custom field value to the column type its form field declares; None if it can't."""
    target = CUSTOM_FIELD_TYPES.get(field_type or "text", "text")
    if value is None or value == "":
        return None
    try:
        if target == "double":
            return float(value)
        if target == "bool":
            if isinstance(value, str):
                return value.strip().lower() in {"true", "1", "yes", "on"}
            return bool(value)
        if target == "date":
            return dt.date.fromisoformat(str(value)[:10])
        if target == "json":
            return value if isinstance(value, (list, dict)) else [value]
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _as_text(value: Any) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _children(items: Any, parent_key: str, parent_id: Any) -> List[Record]:
    if not isinstance(items, list):
        return []
    out = []
    for item in items:
        row = dict(item) if isinstance(item, dict) else {"value": item}
        row[parent_key] = parent_id
        out.append(row)
    return out


def _custom_field_rows(items: Any, parent_key: str, parent_id: Any) -> List[Record]:
    rows = _children(items, parent_key, parent_id)
    for row in rows:
        row["value"] = _as_text(row.get("value"))
    return rows


def normalize_contact(record: Record, field_types: Mapping[str, str]) -> Record:
    """One row shape for both documented contact shapes (seed `email`/`phone`, webhook `contactEmails`)."""
    row = dict(record)
    cid = row.get("id")
    emails = row.pop("contactEmails", None) if "contactEmails" in row else row.pop("email", None)
    phones = row.pop("contactPhones", None) if "contactPhones" in row else row.pop("phone", None)
    row["emails"] = _children(emails, "contact_id", cid)
    row["phones"] = _children(phones, "contact_id", cid)
    if isinstance(row.get("company"), str):  # webhook table: "company String/null company name"
        row["company"] = {"name": row["company"]}
    if "contactNumber" in row:
        row["contactNumber"] = _as_text(row["contactNumber"])  # Integer in one doc table, a phone string elsewhere
    row["tags"] = _children(row.get("tags"), "contact_id", cid)
    for key in ("platformContacts", "contact_groups", "contactGroups"):
        if key in row:
            row[key] = _children(row[key], "contact_id", cid)
    fields = row.pop("customFields", None) if "customFields" in row else row.pop("custom_fields", None)
    custom: Dict[str, Any] = {}
    for item in fields if isinstance(fields, list) else []:
        name = item.get("system_name") if isinstance(item, dict) else None
        if name:  # typed from the raw value, before the child row turns it into text
            custom[name] = coerce_custom_value(item.get("value"), field_types.get(name, item.get("type")))
    row["custom_fields"] = _custom_field_rows(fields, "contact_id", cid)
    row["custom"] = custom
    return row


def normalize_ticket(record: Record, field_types: Mapping[str, str]) -> Record:
    """Ticket row: `customFields` object becomes typed `custom__*` columns, tags a child table."""
    row = dict(record)
    tid = row.get("id")
    fields = row.pop("customFields", None) if "customFields" in row else row.pop("custom_fields", None)
    if isinstance(fields, dict):
        row["custom"] = {k: coerce_custom_value(v, field_types.get(k)) for k, v in fields.items()}
    elif isinstance(fields, list):
        row["custom"] = {
            i["system_name"]: coerce_custom_value(i.get("value"), field_types.get(i["system_name"], i.get("type")))
            for i in fields
            if isinstance(i, dict) and i.get("system_name")
        }
    row["tags"] = _children(row.get("tags"), "ticket_id", tid)
    return row


def normalize_cx_log(record: Record, field_types: Mapping[str, str]) -> Record:
    """CX log row: the record as is (the embedded contact's lists stay JSON, see settings)."""
    return record


def normalize_plain(record: Record, field_types: Mapping[str, str]) -> Record:
    """Rows with no special shape (tags, channels, fields, groups, activities): the record as is."""
    return record


def flatten_categories(nodes: Any, parent_id: Any = None, level: int = 1) -> Iterator[Record]:
    """Walk the category tree (`childCategoryList`, any depth) into flat records without children."""
    if not isinstance(nodes, list):
        return
    for node in nodes:
        if not isinstance(node, dict):
            continue
        flat = {k: v for k, v in node.items() if k != "childCategoryList"}
        flat.setdefault("parentId", parent_id)
        if flat.get("parentId") is None:
            flat["parentId"] = parent_id
        flat.setdefault("level", level)
        yield flat
        yield from flatten_categories(node.get("childCategoryList"), node.get("id"), level + 1)


NORMALIZERS: Dict[str, Callable[[Record, Mapping[str, str]], Record]] = {
    "contacts": normalize_contact,
    "tickets": normalize_ticket,
    "cx_logs": normalize_cx_log,
}


def normalizer_for(resource: str) -> Callable[[Record, Mapping[str, str]], Record]:
    """The row builder for `resource`."""
    return NORMALIZERS.get(resource, normalize_plain)


def hashed_row(normalize: Callable[[Record, Mapping[str, str]], Record], record: Record,
               field_types: Mapping[str, str], digest: str) -> Record:
    """The warehouse row of a new or changed record, carrying its content hash as `_klink_hash`."""
    row = normalize(record, field_types)
    row["_klink_hash"] = digest
    return row

"""Turn spooled webhook events into table rows: webhook_events, messages, contacts, deletions.

* `webhook_events`: every accepted event. The payload carries no event id (klink-api.md §10.2), so
  `event_id` is the sha256 of the raw body: a redelivery of the same bytes merges onto one row.
* `messages` (`message.inbound` / `message.outbound`): the payload shape is NOT documented
  (INFERRED): the row keeps `data` whole as JSON plus its top-level scalars as columns; primary key
  `data.id` when present, else the event id.
* `contacts` (`contact.*`): `data` is the contact object of §3.3, normalized exactly like the polling
  source does, so webhook rows land in the same `contacts` table and child tables. Within a batch
  the latest event per contact (event timestamp, then arrival order) wins. `contact.delete` sets
  `_klink_deleted_at` to the event time and is recorded in `_klink_deletions` like a deletion found
  by a scan; a delete whose `data` carries little more than the id does not overwrite the stored row,
  it only marks it (see `loader.py`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

import orjson

from sources.klink.records import normalize_contact, parse_timestamp, parse_timestamps, record_hash

from .spool import SpooledEvent

MESSAGE_EVENTS = {"message.inbound": "inbound", "message.outbound": "outbound"}
_ID_ONLY_KEYS = {"id", "deletedAt", "deleted_at", "updatedAt", "updated_at"}
_MESSAGE_RESERVED = {"id", "direction", "data"}


def event_id_of(body: bytes) -> str:
    """The event's identity: sha256 (hex) of the raw body."""
    return hashlib.sha256(body).hexdigest()


def parse_envelope(body: bytes) -> Dict[str, Any]:
    """The JSON object of a delivery; ValueError if the body is not JSON or not an object."""
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"body is not JSON ({exc})") from None
    if not isinstance(envelope, dict):
        raise ValueError("body is JSON but not an object ({event, timestamp, data})")
    return envelope


def is_contact_event(name: Any) -> bool:
    return isinstance(name, str) and name.startswith("contact.")


def is_contact_delete(name: Any) -> bool:
    return is_contact_event(name) and name.split(".", 1)[1] in ("delete", "deleted")


def _ts(value: Any) -> Optional[dt.datetime]:
    parsed = parse_timestamp(value)
    return parsed if isinstance(parsed, dt.datetime) else None


def _usable_id(value: Any) -> Optional[str]:
    if value is None or value == "" or isinstance(value, (dict, list, bool)):
        return None
    return str(value)


@dataclass
class Rows:
    """Rows of one flush, per table."""

    webhook_events: List[Dict[str, Any]] = field(default_factory=list)
    messages: List[Dict[str, Any]] = field(default_factory=list)
    contacts: List[Dict[str, Any]] = field(default_factory=list)
    deletions: List[Dict[str, Any]] = field(default_factory=list)
    undecodable: int = 0

    def counts(self) -> Dict[str, int]:
        return {"webhook_events": len(self.webhook_events), "messages": len(self.messages),
                "contacts": len(self.contacts), "_klink_deletions": len(self.deletions)}


@dataclass
class _Parsed:
    order: int
    event: SpooledEvent
    envelope: Dict[str, Any]
    name: Any
    at: Optional[dt.datetime]
    received_at: dt.datetime

    @property
    def sort_key(self) -> Tuple[dt.datetime, int]:
        return (self.at or self.received_at, self.order)


def build_rows(events: List[SpooledEvent], field_types: Optional[Mapping[str, str]] = None,
               raw_only: bool = False) -> Rows:
    """Rows for every table from a batch of spooled events (`raw_only`: webhook_events only);
    `field_types` types contact custom fields (system_name -> form field type), as the scan does."""
    rows = Rows()
    parsed: Dict[str, _Parsed] = {}  # event_id -> first occurrence (a redelivery is the same event)
    for order, event in enumerate(events):
        if event.event_id in parsed:
            continue
        try:
            envelope = parse_envelope(event.body)
        except ValueError:  # checked on accept; only a hand-edited spool gets here
            envelope, rows.undecodable = {}, rows.undecodable + 1
        received = _ts(event.received_at) or dt.datetime.now(dt.timezone.utc)
        item = _Parsed(order, event, envelope, envelope.get("event"), _ts(envelope.get("timestamp")), received)
        parsed[event.event_id] = item
        data = envelope.get("data")
        rows.webhook_events.append({
            "event_id": event.event_id,
            "event": item.name if isinstance(item.name, str) else None,
            "event_timestamp": item.at,
            "received_at": received,
            "data_id": _usable_id(data.get("id")) if isinstance(data, dict) else None,
            "signature_method": event.auth,
            "raw": event.body.decode("utf-8", errors="replace"),
        })
    if raw_only:
        return rows
    ordered = sorted(parsed.values(), key=lambda p: p.sort_key)
    rows.messages = _message_rows([p for p in ordered if p.name in MESSAGE_EVENTS])
    rows.contacts, rows.deletions = _contact_rows([p for p in ordered if is_contact_event(p.name)],
                                                  field_types or {})
    return rows


def _message_rows(items: List[_Parsed]) -> List[Dict[str, Any]]:
    latest: Dict[str, Dict[str, Any]] = {}
    for p in items:  # ordered oldest first: a later event for the same message replaces the earlier
        data = p.envelope.get("data")
        row: Dict[str, Any] = {}
        if isinstance(data, dict):
            row = {k: v for k, v in data.items()
                   if k not in _MESSAGE_RESERVED and not isinstance(v, (dict, list))}
            parse_timestamps(row)
        key = (_usable_id(data.get("id")) if isinstance(data, dict) else None) or p.event.event_id
        row.update({
            "id": key, "direction": MESSAGE_EVENTS[p.name], "data": data,
            "_klink_event_id": p.event.event_id, "_klink_event": p.name,
            "_klink_event_at": p.at, "_klink_received_at": p.received_at,
        })
        latest[key] = row
    return list(latest.values())


def _is_id_only(data: Dict[str, Any]) -> bool:
    return set(data) <= _ID_ONLY_KEYS


def _contact_rows(items: List[_Parsed], field_types: Mapping[str, str]
                  ) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Latest state per contact: (rows to upsert, deletions to record)."""
    by_id: Dict[str, List[_Parsed]] = {}
    for p in items:
        data = p.envelope.get("data")
        cid = _usable_id(data.get("id")) if isinstance(data, dict) else None
        if cid is not None:
            by_id.setdefault(cid, []).append(p)
    contacts, deletions = [], []
    for cid, history in by_id.items():
        last = history[-1]
        full = [p for p in history if not _is_id_only(p.envelope["data"])]
        deleted_at = None
        if is_contact_delete(last.name):
            deleted_at = last.at or _ts(last.envelope["data"].get("deletedAt")) or last.received_at
            deletions.append({"table_name": "contacts", "id": cid, "deleted_at": deleted_at})
        if not full:
            continue  # only bare ids (a delete is marked on the stored row by the loader)
        source = full[-1].envelope["data"]
        digest = record_hash(source)  # before normalizing: that parses nested timestamps in place
        row = normalize_contact(dict(source), field_types)
        row["_klink_hash"] = digest
        row["_klink_deleted_at"] = deleted_at
        contacts.append(row)
    return contacts, deletions

"""Webhook emitter: POSTs signed klink events to a receiver so it can be tested end to end.

Every request: `POST url`, `Content-Type: application/json`, `x-signature: hex(HMAC-SHA256(secret, raw body))`
([INFER] §10.2: what is signed is not documented; the raw body is the natural reading), and the envelope
`{"event", "timestamp": "2026-01-09T03:42:38.000000Z", "data"}` (§10.3).

Events: contact.create / contact.update / contact.delete (data = the contact in the webhook shape, §3.3) and
message.inbound / message.outbound (data shape [INFER], see `message_data`).

    emitter = WebhookEmitter("http://127.0.0.1:9000/webhooks/klink", "whsec_sandbox", sandbox=sb)
    emitter.emit(count=3)                       # 3 rounds of all five events, contact events really mutate
    emitter.send("contact.update", {...})       # any event + data, signed
    emitter.send_raw(b'{"event":...}', signature="00" * 32)   # forge/replay: exact bytes, any signature
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

import orjson
import requests

from .gen_contacts import render_webhook_shape
from .util import fmt_us, uuid_from

if TYPE_CHECKING:
    from .instance import Sandbox

EVENTS = ("contact.create", "contact.update", "contact.delete", "message.inbound", "message.outbound")


def sign(secret: str | bytes, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of the raw body."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, body, hashlib.sha256).hexdigest()


class WebhookEmitter:
    """Sends signed webhook events to `url`. With a `sandbox`, event data comes from (and changes) its data."""

    def __init__(self, url: str, secret: str = "whsec_sandbox", sandbox: Sandbox | None = None,
                 timeout: float = 10.0) -> None:
        self.url = url
        self.secret = secret
        self.sandbox = sandbox
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False
        self._n = 0

    def close(self) -> None:
        self.session.close()

    def sign(self, body: bytes) -> str:
        return sign(self.secret, body)

    def build(self, event: str, data: Any, timestamp: str | None = None) -> bytes:
        """The raw body of an event envelope."""
        ts = timestamp or (fmt_us(self.sandbox.store.now_us) if self.sandbox else "2026-01-09T03:42:38.000000Z")
        return orjson.dumps({"event": event, "timestamp": ts, "data": data})

    def send_raw(self, body: bytes, signature: str | None = None, headers: dict[str, str] | None = None
                 ) -> dict[str, Any]:
        """POST exact bytes; signature None = sign correctly, "" = omit the header, else send it as given."""
        h = {"Content-Type": "application/json", "x-real-ip": "127.0.0.1"}
        sig = self.sign(body) if signature is None else signature
        if sig:
            h["x-signature"] = sig
        h.update(headers or {})
        r = self.session.post(self.url, data=body, headers=h, timeout=self.timeout)
        return {"status": r.status_code, "body": r.text, "signature": sig, "bytes": len(body)}

    def send(self, event: str, data: Any, timestamp: str | None = None) -> dict[str, Any]:
        """Build, sign and POST one event."""
        result = self.send_raw(self.build(event, data, timestamp))
        result["event"] = event
        return result

    # -- events from the sandbox's data --------------------------------------------------------
    def contact_data(self, index: int, deleted: bool = False) -> dict[str, Any]:
        store = self._store()
        data = render_webhook_shape(store, index, store.contacts.core(index), timestamps=True)
        if deleted:
            data["deletedAt"] = data["updatedAt"] = fmt_us(store.now_us)
        return data

    def message_data(self, direction: str, n: int) -> dict[str, Any]:
        """[INFER] message event data: no payload is documented; fields mirror send-message and cx-logs."""
        store = self._store()
        contacts = store.contacts
        live = contacts.live_in(0, contacts.size)
        ci = contacts._kth_live_from(0, (n * 7919) % max(1, live))
        row = contacts.core(ci)
        platform = row["platform"][0] if row["platform"] else None
        texts = ["Hello, I need help with my order", "မင်္ဂလာပါ", "สวัสดีครับ", "Thanks, solved!"]
        agent = store.users[n % len(store.users)]
        return {
            "id": uuid_from(store.seed, "wh-message", n), "roomId": uuid_from(store.seed, "room-msg", ci),
            "contactId": contacts.id_of(ci), "channel": platform[3] if platform else (row["channel"] or "webchat"),
            "channelId": store.channels.id_of(platform[1]) if platform else None,
            "socialPlatformId": platform[2] if platform else None, "direction": direction,
            "messageType": "text", "message": texts[n % len(texts)],
            "sender": ({"type": "contact", "id": contacts.id_of(ci), "name": row["name"]} if direction == "inbound"
                       else {"type": "agent", "id": agent["id"], "name": agent["name"]}),
            "createdAt": fmt_us(store.now_us),
        }

    def event_data(self, event: str, mutate: bool = True) -> Any:
        """Data for one event; with mutate, contact events create/update/delete a contact in the sandbox."""
        store = self._store()
        self._n += 1
        if event.startswith("message."):
            return self.message_data(event.split(".", 1)[1], self._n)
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; one of {EVENTS}")
        t = store.contacts
        if mutate:
            kind = {"contact.create": "create", "contact.update": "update", "contact.delete": "delete"}[event]
            if kind == "delete":  # capture the row before it disappears
                out = store.mutate("contacts", delete=1)
                uid = out["deleted"][0]
                i = t.fixed_ids.get(uid, t.codec.decode(uid))
                return self.contact_data(i, deleted=True)
            out = store.mutate("contacts", **{kind: 1})
            return self.contact_data(t.index_of((out["created"] or out["updated"])[0]))
        i = t._kth_live_from(0, (self._n * 104729) % max(1, t.live_in(0, t.size)))
        return self.contact_data(i, deleted=event == "contact.delete")

    def emit(self, events: list[str] | None = None, count: int = 1, mutate: bool = True) -> list[dict[str, Any]]:
        """Send `count` rounds of `events` (default all five); returns one result dict per request."""
        out = []
        for _ in range(count):
            for event in events or EVENTS:
                out.append(self.send(event, self.event_data(event, mutate=mutate)))
        return out

    def _store(self) -> Any:
        if self.sandbox is None:
            raise RuntimeError("event data needs a sandbox; use send()/send_raw() with your own data")
        return self.sandbox.store

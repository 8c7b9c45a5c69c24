"""The receiver as a real subprocess over real HTTP: auth, errors, idempotency, tables, SIGTERM."""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from pipelines.webhook.auth import sign
from tests.webhook.helpers import SECRET, Client, Receiver, contact, count, envelope, query


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    rec = Receiver(tmp_path).start()
    yield rec
    rec.stop()


@pytest.fixture
def client(receiver: Receiver) -> Iterator[Client]:
    c = Client(receiver.port)
    yield c
    c.close()


def test_forged_and_missing_signatures_are_rejected_and_nothing_is_stored(receiver: Receiver, client: Client,
                                                                          tmp_path: Path) -> None:
    body = envelope("contact.create", contact("c-forged"))
    assert client.post(body, secret="not-the-secret")[0] == 401
    assert client.post(body, secret=None)[0] == 401
    assert client.post(body, secret=None, headers={"x-signature": "zz"})[0] == 401
    tampered = body.replace(b"John", b"Mallory")
    assert client.post(tampered, headers={"x-signature": sign(SECRET, body)}, secret=None)[0] == 401
    health = receiver.health()
    assert health["accepted"] == 0 and health["rejected"] == 4
    assert health["rejected_by_reason"] == {"unauthorized": 4}
    assert health["spooled"] == 0
    assert [p for p in (tmp_path / ".klink" / "webhook-spool").iterdir() if p.suffix == ".seg"] == []
    assert not (tmp_path / "klink.duckdb").exists()


def test_signature_in_authorization_header_and_root_path(receiver: Receiver, client: Client,
                                                         tmp_path: Path) -> None:
    body = envelope("message.inbound", {"id": "m-auth", "text": "hi"})
    status, reply = client.request("POST", "/", body, {"Authorization": sign(SECRET, body)})
    assert status == 200 and reply["event"] == "message.inbound"
    receiver.wait_loaded(1)
    assert query(tmp_path, "SELECT signature_method FROM klink_data.webhook_events") == [("signature",)]


def test_bad_bodies_and_paths(receiver: Receiver, client: Client) -> None:
    assert client.post(b"this is not json")[0] == 400
    assert client.post(b'["an", "array"]')[0] == 400
    status, _ = client.post(b"{" + b" " * (1024 * 1024 + 10) + b"}")
    assert status == 413
    fresh = Client(receiver.port)  # the 413 closed that connection
    assert fresh.post(envelope("x", {}), path="/elsewhere")[0] == 404
    fresh.close()
    health = receiver.health()
    assert health["accepted"] == 0
    assert health["rejected_by_reason"] == {"bad_json": 2, "too_large": 1}


def test_unknown_event_is_stored_as_such_and_replay_is_idempotent(receiver: Receiver, client: Client,
                                                                   tmp_path: Path) -> None:
    body = envelope("room.solved", {"roomId": "r1", "solvedBy": "agent-7"})
    first = client.post(body)
    second = client.post(body)  # a redelivery: the same bytes
    assert first[0] == second[0] == 200
    assert first[1]["event_id"] == second[1]["event_id"]
    receiver.wait_loaded(2)
    again = client.post(body)  # and once more after it was loaded
    assert again[0] == 200
    receiver.wait_loaded(3)
    rows = query(tmp_path, "SELECT event, event_id, raw FROM klink_data.webhook_events")
    assert rows == [("room.solved", first[1]["event_id"], body.decode())]
    assert count(tmp_path, "webhook_events") == 1


def test_contact_lifecycle_lands_in_contacts_and_children(receiver: Receiver, client: Client,
                                                          tmp_path: Path) -> None:
    created = contact("c-1", emails=("john@klink.cloud",))
    updated = contact("c-1", name="John Updated", emails=("john@klink.cloud", "j@work.example"))
    assert client.post(envelope("contact.create", created, "2026-01-09T03:42:38.000000Z"))[0] == 200
    assert client.post(envelope("contact.update", updated, "2026-01-09T04:00:00.000000Z"))[0] == 200
    receiver.wait_loaded(2)
    assert query(tmp_path, "SELECT name, _klink_deleted_at FROM klink_data.contacts") == [("John Updated", None)]
    assert count(tmp_path, "contacts__emails") == 2
    assert client.post(envelope("contact.delete", updated, "2026-01-09T05:00:00.000000Z"))[0] == 200
    receiver.wait_loaded(3)
    rows = query(tmp_path, "SELECT id, name, CAST(_klink_deleted_at AS VARCHAR) FROM klink_data.contacts")
    assert rows == [("c-1", "John Updated", "2026-01-09 05:00:00+00")]
    emails = query(tmp_path, "SELECT contact_id, email FROM klink_data.contacts__emails ORDER BY email")
    assert emails == [("c-1", "j@work.example"), ("c-1", "john@klink.cloud")]
    assert count(tmp_path, "contacts__phones") == 1 and count(tmp_path, "contacts__tags") == 1
    assert query(tmp_path, "SELECT table_name, id FROM klink_data._klink_deletions") == [("contacts", "c-1")]


def test_same_batch_latest_event_wins_and_bare_delete_marks_the_row(tmp_path: Path) -> None:
    rec = Receiver(tmp_path, flush_interval=1.0).start()
    try:
        client = Client(rec.port)
        # sent out of order within one batch: the update is the latest by event timestamp
        assert client.post(envelope("contact.update", contact("c-2", name="Newest"), "2026-01-09T06:00:00Z"))[0] == 200
        assert client.post(envelope("contact.create", contact("c-2", name="Oldest"), "2026-01-09T05:00:00Z"))[0] == 200
        rec.wait_loaded(2)
        assert query(tmp_path, "SELECT name FROM klink_data.contacts") == [("Newest",)]
        assert client.post(envelope("contact.delete", {"id": "c-2"}, "2026-01-09T07:00:00Z"))[0] == 200
        rec.wait_loaded(3)
        assert query(tmp_path, "SELECT name, CAST(_klink_deleted_at AS VARCHAR) FROM klink_data.contacts") == [
            ("Newest", "2026-01-09 07:00:00+00")]
        client.close()
    finally:
        rec.stop()


def test_messages_table(receiver: Receiver, client: Client, tmp_path: Path) -> None:
    inbound = {"id": "m-1", "text": "hello", "contactId": "c-1", "createdAt": "2026-01-09T03:42:38Z",
               "attachments": [{"url": "https://x"}]}
    assert client.post(envelope("message.inbound", inbound))[0] == 200
    assert client.post(envelope("message.outbound", {"text": "no id here"}))[0] == 200
    receiver.wait_loaded(2)
    rows = query(tmp_path, "SELECT id, direction, text, contact_id, CAST(created_at AS VARCHAR), "
                           "data->>'$.attachments[0].url' FROM klink_data.messages ORDER BY direction")
    assert rows[0] == ("m-1", "inbound", "hello", "c-1", "2026-01-09 03:42:38+00", "https://x")
    assert rows[1][1:3] == ("outbound", "no id here") and len(rows[1][0]) == 64  # keyed by the event id


def test_basic_and_custom_header_auth(tmp_path: Path) -> None:
    env = {"SOURCES__KLINK__WEBHOOK_BASIC_USERNAME": "klink", "SOURCES__KLINK__WEBHOOK_BASIC_PASSWORD": "pw",
           "SOURCES__KLINK__WEBHOOK_HEADER_VALUE": "token-123"}
    rec = Receiver(tmp_path, extra=("--auth", "basic,header", "--header-name", "X-Klink-Token"), env=env).start()
    try:
        client = Client(rec.port)
        body = envelope("contact.create", contact("c-3"))
        good = "Basic " + base64.b64encode(b"klink:pw").decode()
        bad = "Basic " + base64.b64encode(b"klink:nope").decode()
        assert client.post(body, secret=None, headers={"Authorization": good})[0] == 401  # header missing
        assert client.post(body, secret=None, headers={"Authorization": bad, "X-Klink-Token": "token-123"})[0] == 401
        assert client.post(body, secret=None, headers={"Authorization": good, "X-Klink-Token": "wrong"})[0] == 401
        assert client.post(body, secret=None, headers={"Authorization": good, "X-Klink-Token": "token-123"})[0] == 200
        rec.wait_loaded(1)
        assert query(tmp_path, "SELECT signature_method FROM klink_data.webhook_events") == [("basic+header",)]
        client.close()
    finally:
        rec.stop()


def test_secret_never_in_output_and_sigterm_flushes_then_exits_0(tmp_path: Path) -> None:
    rec = Receiver(tmp_path, batch_size=10_000, flush_interval=3600, extra=("--log-level", "DEBUG")).start()
    client = Client(rec.port)
    for i in range(25):
        assert client.post(envelope("message.inbound", {"id": f"m-{i}"}))[0] == 200
    assert client.post(envelope("message.inbound", {"id": "x"}), secret="wrong")[0] == 401
    client.close()
    assert rec.health()["spooled"] == 25 and rec.health()["loaded"] == 0
    assert rec.terminate() == 0
    assert count(tmp_path, "messages") == 25
    assert [p for p in (tmp_path / ".klink" / "webhook-spool").iterdir() if p.suffix == ".seg"] == []
    assert "whsec_sandbox" not in rec.log()


def test_missing_secret_is_a_config_error(tmp_path: Path) -> None:
    rec = Receiver(tmp_path, env={"SOURCES__KLINK__WEBHOOK_SECRET": ""})
    rec.env.pop("SOURCES__KLINK__WEBHOOK_SECRET")
    try:
        with pytest.raises(RuntimeError, match="exited 2"):
            rec.start()
    finally:
        rec.stop()
    assert "SOURCES__KLINK__WEBHOOK_SECRET" in rec.log()


def test_second_receiver_on_the_same_spool_refuses(receiver: Receiver, tmp_path: Path) -> None:
    other = Receiver(tmp_path)
    try:
        with pytest.raises(RuntimeError, match="exited 73"):
            other.start()
    finally:
        other.stop()
    assert os.path.isdir(tmp_path / ".klink" / "webhook-spool")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI for a test certificate")
def test_tls(tmp_path: Path) -> None:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem"), "-subj", "/CN=localhost", "-days", "1"],
                   check=True, capture_output=True)
    rec = Receiver(tmp_path, extra=("--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem")))
    rec.health = lambda: _https_health(rec.port)  # type: ignore[method-assign]
    try:
        rec.start()
        body = envelope("message.inbound", {"id": "m-tls"})
        conn = http.client.HTTPSConnection("127.0.0.1", rec.port, context=ssl._create_unverified_context())
        conn.request("POST", "/webhooks/klink", body, {"x-signature": sign(SECRET, body)})
        assert conn.getresponse().status == 200
        conn.close()
        plain = Client(rec.port)  # plain HTTP on the TLS port: dropped, the receiver keeps serving
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            plain.post(body)
        rec.wait_loaded(1)
    finally:
        rec.stop()
    assert count(tmp_path, "messages") == 1
    assert "Traceback" not in rec.log()


def _https_health(port: int) -> dict:
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=ssl._create_unverified_context())
    try:
        conn.request("GET", "/health")
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()

"""Fast unit tests: authentication, the spool's framing and recovery, event -> row building."""

from __future__ import annotations

import base64
import datetime as dt
import os
from pathlib import Path

import pytest

from pipelines.webhook.auth import Authenticator, parse_methods, sign
from pipelines.webhook.loader import is_lock_error
from pipelines.webhook.rows import build_rows, event_id_of
from pipelines.webhook.spool import Spool, SpooledEvent, SpoolError, read_segment
from tests.webhook.helpers import contact, envelope

BODY = b'{"event":"contact.create","timestamp":"2026-01-09T03:42:38.000000Z","data":{"id":"c"}}'


def test_signature_matches_the_documented_scheme() -> None:
    import hashlib
    import hmac

    assert sign("s3cret", BODY) == hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()
    auth = Authenticator(secret="s3cret")
    assert auth.check({"x-signature": sign("s3cret", BODY)}, BODY) == (True, "signature")
    assert auth.check({"x-signature": sign("s3cret", BODY).upper()}, BODY)[0]
    assert auth.check({"x-signature": "sha256=" + sign("s3cret", BODY)}, BODY)[0]
    assert auth.check({"authorization": "HMAC-SHA256 " + sign("s3cret", BODY)}, BODY)[0]
    assert auth.check({"authorization": sign("s3cret", BODY)}, BODY)[0]
    assert auth.check({"x-signature": sign("other", BODY)}, BODY) == (False, "bad signature")
    assert auth.check({}, BODY) == (False, "missing signature")
    assert auth.check({"x-signature": sign("s3cret", BODY)}, BODY + b" ") == (False, "bad signature")


def test_basic_and_header_methods_and_their_configuration() -> None:
    auth = Authenticator(methods=("basic",), basic_username="u", basic_password="p:w")
    good = "Basic " + base64.b64encode(b"u:p:w").decode()
    assert auth.check({"authorization": good}, BODY) == (True, "basic")
    assert not auth.check({"authorization": "Basic !!!"}, BODY)[0]
    assert not auth.check({"authorization": "Basic " + base64.b64encode(b"u:x").decode()}, BODY)[0]
    header = Authenticator(methods=("header",), header_name="X-Token", header_value="v")
    assert header.check({"x-token": "v"}, BODY) == (True, "header")
    assert header.check({"x-token": "w"}, BODY) == (False, "bad header X-Token")
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        Authenticator(secret=None)
    with pytest.raises(ValueError, match="unknown"):
        Authenticator(methods=("none",), secret="x")
    assert parse_methods("Signature, basic,signature") == ("signature", "basic")
    assert "s3cret" not in repr(Authenticator(secret="s3cret"))


def _event(i: int) -> SpooledEvent:
    body = envelope("message.inbound", {"id": f"m{i}"})
    return SpooledEvent(event_id_of(body), "2026-01-09T03:42:38+00:00", "signature", body)


def test_spool_roundtrip_rotation_take_commit_and_restart(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), rotate_every=3)
    for i in range(7):
        spool.append(_event(i))
    assert spool.pending == 7 and spool.untaken() == 7
    batch = spool.take(4)  # whole segments: 3 (sealed) then 3 would exceed 4
    assert [e.body for e in batch.events] == [_event(i).body for i in range(3)]
    spool.untake(batch)  # a failed flush
    batch = spool.take(100)
    assert len(batch.events) == 7 and spool.untaken() == 0
    spool.append(_event(7))
    spool.commit(batch)
    assert spool.pending == 1
    spool.close()
    spool.release()
    reopened = Spool(str(tmp_path))
    assert reopened.pending == 1 and reopened.first_pending_at == float("-inf")
    assert [e.event_id for e in reopened.take(10).events] == [_event(7).event_id]
    reopened.close()
    reopened.release()


def test_spool_ignores_a_torn_tail_and_refuses_a_second_owner(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path))
    spool.append(_event(1))
    spool.append(_event(2))
    with pytest.raises(SpoolError, match="in use"):
        Spool(str(tmp_path))
    spool.close()
    spool.release()
    (segment,) = [p for p in tmp_path.iterdir() if p.suffix == ".seg"]
    data = segment.read_bytes()
    segment.write_bytes(data[:-5])  # a crash in the middle of writing the second frame
    assert [e.event_id for e in read_segment(str(segment))] == [_event(1).event_id]
    segment.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))  # a corrupt CRC
    assert len(read_segment(str(segment))) == 1
    reopened = Spool(str(tmp_path))
    assert reopened.pending == 1
    reopened.append(_event(3))  # goes to a new segment, never after the torn frame
    assert len([p for p in tmp_path.iterdir() if p.suffix == ".seg"]) == 2
    reopened.close()
    reopened.release()


def test_spool_write_failure_is_reported_not_acknowledged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = Spool(str(tmp_path))

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(SpoolError, match="No space"):
        spool.append(_event(1))
    monkeypatch.undo()
    spool.append(_event(2))
    assert spool.take(10).events[-1].event_id == _event(2).event_id
    spool.close()
    spool.release()


def _spooled(name: str, data: object, ts: str) -> SpooledEvent:
    body = envelope(name, data, ts)
    return SpooledEvent(event_id_of(body), "2026-01-10T00:00:00+00:00", "signature", body)


def test_rows_dedupe_latest_wins_deletes_and_messages() -> None:
    events = [
        _spooled("contact.update", contact("a", name="late"), "2026-01-09T06:00:00Z"),
        _spooled("contact.create", contact("a", name="early"), "2026-01-09T05:00:00Z"),
        _spooled("contact.create", contact("b", name="b"), "2026-01-09T05:00:00Z"),
        _spooled("contact.delete", {"id": "b"}, "2026-01-09T07:00:00Z"),
        _spooled("contact.delete", {"id": "c"}, "2026-01-09T07:00:00Z"),
        _spooled("contact.update", {"id": "d"}, "2026-01-09T07:00:00Z"),
        _spooled("message.outbound", {"id": "m", "text": "v1", "meta": {"x": 1}}, "2026-01-09T05:00:00Z"),
        _spooled("message.outbound", {"id": "m", "text": "v2"}, "2026-01-09T05:00:01Z"),
        _spooled("room.solved", {"roomId": "r"}, "not a time"),
    ]
    events.append(events[0])  # a redelivery inside the batch
    rows = build_rows(events)
    assert len(rows.webhook_events) == 9
    by_id = {r["id"]: r for r in rows.contacts}
    assert set(by_id) == {"a", "b"}
    assert by_id["a"]["name"] == "late" and by_id["a"]["_klink_deleted_at"] is None
    assert by_id["b"]["_klink_deleted_at"] == dt.datetime(2026, 1, 9, 7, tzinfo=dt.timezone.utc)
    assert by_id["a"]["emails"][0]["contact_id"] == "a" and len(by_id["a"]["_klink_hash"]) == 16
    assert sorted(d["id"] for d in rows.deletions) == ["b", "c"]
    (message,) = rows.messages
    assert message["text"] == "v2" and message["direction"] == "outbound" and "meta" not in message
    unknown = [r for r in rows.webhook_events if r["event"] == "room.solved"][0]
    assert unknown["event_timestamp"] is None and unknown["raw"].startswith('{"event": "room.solved"')
    assert build_rows(events, raw_only=True).contacts == []


def test_lock_errors_are_recognised_through_the_cause_chain() -> None:
    try:
        try:
            raise OSError('IO Error: Could not set lock on file "k.duckdb": Conflicting lock is held')
        except OSError as inner:
            raise RuntimeError("load step failed") from inner
    except RuntimeError as outer:
        assert is_lock_error(outer)
    assert not is_lock_error(RuntimeError("something else"))


def test_a_load_package_left_by_a_crash_does_not_swallow_the_next_batch(tmp_path: Path) -> None:
    import duckdb

    from pipelines.klink_pipeline import make_pipeline
    from pipelines.webhook.loader import Loader, webhook_source

    def factory() -> object:
        return make_pipeline(duckdb_path=str(tmp_path / "k.duckdb"), pipelines_dir=str(tmp_path / "p"),
                             pipeline_name="klink_webhooks")

    Loader(factory).load([_event(0)])
    crashed = factory()  # a flush killed between normalize and load leaves a pending package
    crashed.extract(webhook_source(build_rows([_event(1)])))
    crashed.normalize()
    assert crashed.has_pending_data
    loader = Loader(factory)  # the restarted receiver: the spool still holds event 1, plus new ones
    loader.load([_event(1), _event(2), _event(3)])
    assert not loader.pipeline.has_pending_data
    con = duckdb.connect(str(tmp_path / "k.duckdb"), read_only=True)
    assert con.execute("SELECT id FROM klink_data.messages ORDER BY id").fetchall() == [
        ("m0",), ("m1",), ("m2",), ("m3",)]
    con.close()


class _FlakyLoader:
    """Fails every full load with `error`; raw-only loads succeed."""

    def __init__(self, error: Exception) -> None:
        self.error, self.calls = error, []

    def load(self, events: list, raw_only: bool = False) -> dict:
        self.calls.append((len(events), raw_only))
        if not raw_only:
            raise self.error
        return {}


def _receiver(tmp_path: Path, loader: object) -> object:
    from pipelines.webhook.server import Receiver, ReceiverSettings

    return Receiver(ReceiverSettings(port=0, spool_dir=str(tmp_path / "spool")), Authenticator(secret="s"),
                    loader)  # type: ignore[arg-type]


def test_a_batch_that_keeps_failing_is_loaded_raw_only_and_a_lock_never_counts(tmp_path: Path) -> None:
    locked = _receiver(tmp_path / "a", _FlakyLoader(OSError("IO Error: Could not set lock on file")))
    locked.spool.append(_event(1))
    assert not any(locked.flush_once() for _ in range(5))  # locked: retried forever, never degraded
    assert locked.loader.calls == [(1, False)] * 5 and locked.spool.pending == 1
    assert locked.health()["lock_waits"] == 5
    locked.httpd.server_close()
    locked.spool.close()
    locked.spool.release()
    broken = _receiver(tmp_path / "b", _FlakyLoader(ValueError("poison")))
    broken.spool.append(_event(1))
    assert [broken.flush_once() for _ in range(4)] == [False, False, False, True]
    assert broken.loader.calls == [(1, False)] * 3 + [(1, True)]
    health = broken.health()
    assert health["raw_only_batches"] == 1 and health["loaded"] == 1 and health["spooled"] == 0
    assert health["flush_errors"] == 3
    broken.httpd.server_close()
    broken.spool.close()
    broken.spool.release()

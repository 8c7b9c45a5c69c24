"""Durability and load: kill -9 before and during a flush, a 1,000-event burst, a locked DuckDB file."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List

import duckdb
import pytest

from tests.webhook.helpers import Client, Receiver, count, envelope, query


def _segments(workdir: Path) -> List[Path]:
    return sorted(p for p in (workdir / ".klink" / "webhook-spool").iterdir() if p.suffix == ".seg")


def _send_messages(port: int, ids: List[str]) -> List[int]:
    client = Client(port)
    try:
        return [client.post(envelope("message.inbound", {"id": i, "text": f"text {i}"}))[0] for i in ids]
    finally:
        client.close()


def test_kill9_after_accept_before_flush_then_restart_loads_each_event_once(tmp_path: Path) -> None:
    n = 300
    rec = Receiver(tmp_path, batch_size=100_000, flush_interval=3600).start()
    try:
        assert _send_messages(rec.port, [f"m-{i}" for i in range(n)]) == [200] * n
        assert rec.health()["spooled"] == n and rec.health()["loaded"] == 0
    finally:
        rec.kill9()
    assert _segments(tmp_path), "accepted events must be on disk"
    assert not (tmp_path / "klink.duckdb").exists()
    again = Receiver(tmp_path, port=rec.port).start()  # restart: the spool is loaded at once
    try:
        again.wait_loaded(n)
        assert count(tmp_path, "webhook_events") == n
        assert count(tmp_path, "messages") == n
        assert query(tmp_path, "SELECT COUNT(DISTINCT id) FROM klink_data.messages") == [(n,)]
        assert _segments(tmp_path) == []
    finally:
        assert again.terminate() == 0


def test_kill9_between_load_and_spool_delete_reloads_idempotently(tmp_path: Path) -> None:
    n = 120
    crashing = Receiver(tmp_path, batch_size=100_000, flush_interval=3600,
                        env={"KLINK_WEBHOOK_TEST_CRASH_AFTER_LOAD": "1"}).start()
    assert _send_messages(crashing.port, [f"m-{i}" for i in range(n)]) == [200] * n
    assert crashing.terminate() == -9  # SIGTERM -> flush -> the load commits -> killed before the delete
    assert count(tmp_path, "messages") == n  # loaded ...
    assert _segments(tmp_path)  # ... but still spooled
    again = Receiver(tmp_path).start()
    try:
        again.wait_loaded(n)
        assert count(tmp_path, "messages") == n
        assert count(tmp_path, "webhook_events") == n
        assert _segments(tmp_path) == []
    finally:
        assert again.terminate() == 0


@pytest.mark.heavy
def test_burst_of_1000_events_from_concurrent_senders_all_land(tmp_path: Path) -> None:
    n, senders = 1000, 8
    rec = Receiver(tmp_path, batch_size=250, flush_interval=1.0).start()
    try:
        ids = [f"m-{i}" for i in range(n)]
        with ThreadPoolExecutor(senders) as pool:
            statuses = [s for chunk in pool.map(_send_messages, [rec.port] * senders,
                                                [ids[k::senders] for k in range(senders)]) for s in chunk]
        assert statuses == [200] * n
        health = rec.wait_loaded(n, timeout=120)
        assert health["accepted"] == n and health["loaded"] == n and health["rejected"] == 0
        assert count(tmp_path, "webhook_events") == n
        assert count(tmp_path, "messages") == n
    finally:
        assert rec.terminate() == 0


def test_locked_duckdb_keeps_events_spooled_then_loads_them(tmp_path: Path) -> None:
    rec = Receiver(tmp_path, flush_interval=0.3).start()
    try:
        assert _send_messages(rec.port, ["m-0"]) == [200]
        rec.wait_loaded(1)
        holder = duckdb.connect(str(tmp_path / "klink.duckdb"))  # a writer in this process: like `klink sync`
        try:
            assert _send_messages(rec.port, ["m-1", "m-2"]) == [200, 200]
            health = rec.wait_for(lambda h: h["lock_waits"] >= 2)
            assert health["spooled"] == 2 and health["loaded"] == 1
            assert health["last_flush_error"] == "destination locked by another writer"
        finally:
            holder.close()
        rec.wait_loaded(3)
        assert count(tmp_path, "messages") == 3
    finally:
        assert rec.terminate() == 0
    assert "locked" in rec.log()


def test_receiver_does_not_hold_the_duckdb_file_between_flushes(tmp_path: Path) -> None:
    rec = Receiver(tmp_path, flush_interval=0.3).start()
    try:
        assert _send_messages(rec.port, ["m-0"]) == [200]
        rec.wait_loaded(1)
        con = duckdb.connect(str(tmp_path / "klink.duckdb"))  # a writer can open it: no lock held
        con.execute("CREATE TABLE klink_data.sync_was_here AS SELECT 1 AS x")
        con.close()
    finally:
        assert rec.terminate() == 0


@pytest.mark.heavy
@pytest.mark.parametrize("delay", [0.0, 0.5, 1.2])
def test_kill9_during_a_flush_then_restart_loads_each_event_once(tmp_path: Path, delay: float) -> None:
    n = 1500  # the 1500th event starts a flush by count; it is killed somewhere in extract/normalize/load
    rec = Receiver(tmp_path, batch_size=n, flush_interval=3600).start()
    try:
        ids = [f"m-{i}" for i in range(n)]
        with ThreadPoolExecutor(4) as pool:
            statuses = [s for chunk in pool.map(_send_messages, [rec.port] * 4, [ids[k::4] for k in range(4)])
                        for s in chunk]
        assert statuses == [200] * n
        rec.wait_for(lambda h: h["flushing"] == n or h["loaded"] == n, timeout=30)
        time.sleep(delay)
    finally:
        rec.kill9()
    again = Receiver(tmp_path).start()
    try:
        again.wait_loaded(n if again.health()["spooled"] else 0, timeout=120)
        assert count(tmp_path, "webhook_events") == n
        assert query(tmp_path, "SELECT COUNT(*), COUNT(DISTINCT id) FROM klink_data.messages") == [(n, n)]
        assert _segments(tmp_path) == []
    finally:
        assert again.terminate() == 0

"""The receiver into PostgreSQL (`--destination postgres`): needs KLINK_TEST_POSTGRES_DSN, else skipped."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.webhook.helpers import Client, Receiver, contact, envelope

DSN = os.environ.get("KLINK_TEST_POSTGRES_DSN", "").strip()


def _connect():
    psycopg2 = pytest.importorskip("psycopg2")
    if not DSN:
        pytest.skip("KLINK_TEST_POSTGRES_DSN is not set (bash .ci/run installs PostgreSQL and sets it)")
    try:
        return psycopg2.connect(DSN, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"PostgreSQL not reachable: {type(exc).__name__}")


@pytest.mark.postgres
def test_receiver_loads_into_postgres(tmp_path: Path) -> None:
    conn = _connect()
    conn.autocommit = True
    dataset = f"wh_{uuid.uuid4().hex[:10]}"
    rec = Receiver(tmp_path, extra=("--destination", "postgres", "--dataset", dataset),
                   env={"DESTINATION__POSTGRES__CREDENTIALS": DSN})
    try:
        rec.start()
        client = Client(rec.port)
        body = envelope("message.inbound", {"id": "m-1", "text": "hi"})
        assert [client.post(body)[0] for _ in range(2)] == [200, 200]  # a redelivery
        assert client.post(envelope("contact.create", contact("c-1"), "2026-01-09T03:00:00Z"))[0] == 200
        assert client.post(envelope("contact.delete", {"id": "c-1"}, "2026-01-09T04:00:00Z"))[0] == 200
        client.close()
        rec.wait_loaded(4)
        assert rec.terminate() == 0
        with conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM {dataset}.webhook_events")
            assert cur.fetchone() == (3,)
            cur.execute(f"SELECT id, text, direction FROM {dataset}.messages")
            assert cur.fetchall() == [("m-1", "hi", "inbound")]
            cur.execute(f"SELECT id, _klink_deleted_at IS NOT NULL FROM {dataset}.contacts")
            assert cur.fetchall() == [("c-1", True)]
            cur.execute(f"SELECT email FROM {dataset}.contacts__emails")
            assert cur.fetchall() == [("john@klink.cloud",)]
    finally:
        rec.stop()
        with conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA IF EXISTS {dataset} CASCADE")
            cur.execute(f"DROP SCHEMA IF EXISTS {dataset}_staging CASCADE")
        conn.close()

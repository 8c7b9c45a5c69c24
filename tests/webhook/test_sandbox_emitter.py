"""The receiver driven by the sandbox's webhook emitter over real HTTP, and sharing tables with `klink sync`."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from sandbox.webhooks import EVENTS, WebhookEmitter
from tests.source.helpers import sync
from tests.webhook.helpers import SECRET, Receiver, count, query


def _emit(emitter: WebhookEmitter, rounds: int) -> List[Tuple[str, Dict[str, Any], int]]:
    """Rounds of all five events; returns (event, data, status) per request."""
    sent = []
    for _ in range(rounds):
        for event in EVENTS:
            data = emitter.event_data(event)
            sent.append((event, data, emitter.send(event, data)["status"]))
    return sent


def _interests(data: Dict[str, Any]) -> Any:
    return next((f["value"] for f in data["customFields"] if f["system_name"] == "cf_interests" and f["value"]), None)


def _final_contacts(sent: List[Tuple[str, Dict[str, Any], int]]) -> Dict[str, Tuple[str, Dict[str, Any]]]:
    final: Dict[str, Tuple[str, Dict[str, Any]]] = {}
    for event, data, _ in sent:
        if event.startswith("contact."):
            final[data["id"]] = (event, data)
    return final


def test_forged_missing_and_replayed_deliveries(sandbox: Any, tmp_path: Path) -> None:
    rec = Receiver(tmp_path).start()
    emitter = WebhookEmitter(f"http://127.0.0.1:{rec.port}/webhooks/klink", SECRET, sandbox=sandbox)
    try:
        data = next(d for d in map(emitter.contact_data, range(50)) if d["contactEmails"])
        body = emitter.build("contact.update", data)
        assert emitter.send_raw(body, signature="00" * 32)["status"] == 401  # forged
        assert emitter.send_raw(body, signature="")["status"] == 401  # missing
        assert WebhookEmitter(emitter.url, "other-secret").send_raw(body)["status"] == 401  # wrong secret
        assert rec.health()["accepted"] == 0 and rec.health()["spooled"] == 0
        assert [emitter.send_raw(body)["status"] for _ in range(3)] == [200, 200, 200]  # a replayed delivery
        rec.wait_loaded(3)
        assert count(tmp_path, "webhook_events") == 1
        assert count(tmp_path, "contacts") == 1
        assert count(tmp_path, "contacts__emails") == len(data["contactEmails"])
    finally:
        emitter.close()
        rec.stop()


def test_emitted_rounds_land_in_every_table(sandbox: Any, tmp_path: Path) -> None:
    rec = Receiver(tmp_path).start()
    emitter = WebhookEmitter(f"http://127.0.0.1:{rec.port}/", SECRET, sandbox=sandbox)
    try:
        sent = _emit(emitter, rounds=4)
        assert [s for _, _, s in sent] == [200] * 20
        rec.wait_loaded(20)
    finally:
        emitter.close()
        assert rec.terminate() == 0
    assert count(tmp_path, "webhook_events") == 20
    assert count(tmp_path, "messages") == 8
    assert sorted(r[0] for r in query(tmp_path, "SELECT direction FROM klink_data.messages")) == ["inbound"] * 4 + [
        "outbound"] * 4
    final = _final_contacts(sent)
    rows = {r[0]: r[1:] for r in query(tmp_path, "SELECT id, name, _klink_deleted_at IS NOT NULL, "
                                                 "(SELECT COUNT(*) FROM klink_data.contacts__emails e "
                                                 " WHERE e._dlt_parent_id = c._dlt_id) FROM klink_data.contacts c")}
    assert set(rows) == set(final)
    for cid, (event, data) in final.items():
        assert rows[cid] == (data["name"], event == "contact.delete", len(data["contactEmails"])), cid


def test_kill9_with_emitted_events_then_restart_loads_each_once(sandbox: Any, tmp_path: Path) -> None:
    rec = Receiver(tmp_path, batch_size=100_000, flush_interval=3600).start()
    emitter = WebhookEmitter(f"http://127.0.0.1:{rec.port}/webhooks/klink", SECRET, sandbox=sandbox)
    try:
        sent = _emit(emitter, rounds=20)
        assert [s for _, _, s in sent] == [200] * 100
    finally:
        emitter.close()
        rec.kill9()
    again = Receiver(tmp_path).start()
    try:
        again.wait_loaded(100)
        assert count(tmp_path, "webhook_events") == 100
        assert query(tmp_path, "SELECT COUNT(DISTINCT event_id) FROM klink_data.webhook_events") == [(100,)]
        assert count(tmp_path, "messages") == 40
        assert count(tmp_path, "contacts") == len(_final_contacts(sent))
    finally:
        assert again.terminate() == 0


@pytest.mark.heavy
def test_burst_of_1000_emitted_events_from_8_senders(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory(contacts=300, shape="webhook")
    rec = Receiver(tmp_path, batch_size=250, flush_interval=1.0).start()
    url = f"http://127.0.0.1:{rec.port}/webhooks/klink"
    statuses: List[int] = []
    lock = threading.Lock()

    def sender(k: int) -> None:
        emitter = WebhookEmitter(url, SECRET, sandbox=sb)
        try:
            for n in range(k, 1000, 8):  # 800 distinct messages, 200 distinct contact updates
                if n < 800:
                    result = emitter.send("message.inbound", emitter.message_data("inbound", n))
                else:
                    result = emitter.send("contact.update", emitter.contact_data(n - 800))
                with lock:
                    statuses.append(result["status"])
        finally:
            emitter.close()

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert statuses == [200] * 1000
        health = rec.wait_loaded(1000, timeout=180)
        assert health["accepted"] == 1000 and health["rejected"] == 0
    finally:
        assert rec.terminate() == 0
    assert count(tmp_path, "webhook_events") == 1000
    assert count(tmp_path, "messages") == 800
    assert count(tmp_path, "contacts") == 200


def test_webhook_and_sync_share_one_contacts_table(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory(contacts=40, tickets=5, cx_logs=5, shape="webhook")
    sync(sb, tmp_path, name="klink", resources=["contacts", "contact_fields"])
    before = count(tmp_path, "contacts")
    rec = Receiver(tmp_path).start()  # same working directory: the same klink.duckdb
    emitter = WebhookEmitter(f"http://127.0.0.1:{rec.port}/webhooks/klink", SECRET, sandbox=sb)
    try:
        sent = [(e, emitter.event_data(e)) for e in ("contact.update", "contact.update", "contact.delete")]
        multi = next(d for d in map(emitter.contact_data, range(40)) if _interests(d) and d["id"] not in
                     {x["id"] for _, x in sent})
        sent.append(("contact.update", multi))
        assert [emitter.send(e, d)["status"] for e, d in sent] == [200] * 4
        rec.wait_loaded(4)
        updated, deleted = sent[0][1], sent[2][1]
        assert count(tmp_path, "contacts") == before  # upserted in place, no duplicates
        assert query(tmp_path, f"SELECT name FROM klink_data.contacts WHERE id = '{updated['id']}'") == [
            (updated["name"],)]
        assert count(tmp_path, "contacts", f"id = '{deleted['id']}' AND _klink_deleted_at IS NOT NULL") == 1
        # the next scan runs while the receiver is up (it holds no lock between flushes)
        sync(sb, tmp_path, name="klink", resources=["contacts", "contact_fields"])
    finally:
        emitter.close()
        assert rec.terminate() == 0
    assert query(tmp_path, "SELECT COUNT(*), COUNT(DISTINCT id) FROM klink_data.contacts") == [(before, before)]
    for child in ("emails", "phones", "tags", "platform_contacts"):
        orphans = count(tmp_path, f"contacts__{child}",
                        "_dlt_root_id NOT IN (SELECT _dlt_id FROM klink_data.contacts)")
        assert orphans == 0, child
    assert query(tmp_path, f"SELECT _klink_deleted_at IS NOT NULL FROM klink_data.contacts "
                           f"WHERE id = '{deleted['id']}'") == [(True,)]
    # custom fields typed like the scan types them (from contact_fields): a multi_select is one JSON column
    stray = query(tmp_path, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'klink_data' "
                            "AND table_name LIKE 'contacts\\_\\_custom\\_\\_%' ESCAPE '\\'")
    assert stray == []
    (stored,) = query(tmp_path, f"SELECT custom__cf_interests FROM klink_data.contacts WHERE id = '{multi['id']}'")[0]
    assert json.loads(stored) == _interests(multi)
    emails = query(tmp_path, f"SELECT e.email FROM klink_data.contacts__emails e JOIN klink_data.contacts c "
                             f"ON e._dlt_parent_id = c._dlt_id WHERE c.id = '{updated['id']}' ORDER BY 1")
    assert emails == sorted((e["email"],) for e in updated["contactEmails"])

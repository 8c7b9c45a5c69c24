"""The receiver and the sync write one set of contact tables: children follow whichever wrote last."""

from __future__ import annotations

import requests

from pipelines.klink_pipeline import make_pipeline
from pipelines.webhook.loader import Loader
from pipelines.webhook.rows import event_id_of
from pipelines.webhook.spool import SpooledEvent
from tests.source.helpers import api_list, query, scalar, sync
from tests.webhook.helpers import contact, envelope


def _event(name: str, data: object) -> SpooledEvent:
    body = envelope(name, data)
    return SpooledEvent(event_id_of(body), "2026-01-10T00:00:00+00:00", "signature", body)


def test_webhook_children_go_when_a_seed_shape_sync_rewrites_the_contact(sandbox_factory, tmp_path):
    sb = sandbox_factory(contacts=12, tickets=0, cx_logs=0)  # seed shape: no platformContacts
    sync(sb, tmp_path, name="klink", resources=["contacts", "contact_fields"])
    target = api_list(sb, "contacts")[0]
    data = contact(target["id"], name="From a webhook", emails=("a@x.io", "b@x.io", "c@x.io"))
    data["platformContacts"] = [{"id": "pc1", "channelId": "ch1", "socialPlatformId": "sp1", "type": "line"}]
    loader = Loader(lambda: make_pipeline(duckdb_path=str(tmp_path / "klink.duckdb"),
                                          pipelines_dir=str(tmp_path / "wh"), pipeline_name="klink_webhooks"))
    loader.load([_event("contact.update", data)])
    where = f"WHERE contact_id = '{target['id']}'"
    assert scalar(tmp_path, f"SELECT COUNT(*) FROM contacts__platform_contacts {where}", name="klink") == 1
    assert scalar(tmp_path, f"SELECT COUNT(*) FROM contacts__emails {where}", name="klink") == 3

    r = requests.patch(f"{sb.base_url}/api/v1/contacts/{target['id']}", json={"name": "Renamed in klink"},
                       headers={"Authorization": f"Bearer {sb.token}"}, timeout=30)
    assert r.status_code == 200
    result = sync(sb, tmp_path, name="klink", resources=["contacts", "contact_fields"])
    assert result.rows_written.get("contacts") == 1
    assert scalar(tmp_path, f"SELECT COUNT(*) FROM contacts__platform_contacts {where}", name="klink") == 0
    emails = query(tmp_path, f"SELECT email FROM contacts__emails {where} ORDER BY email", name="klink")
    assert emails == sorted((e["email"],) for e in target["email"])
    assert query(tmp_path, f"SELECT name FROM contacts {where.replace('contact_id', 'id')}", name="klink") == [
        ("Renamed in klink",)]

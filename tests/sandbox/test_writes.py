"""Write endpoints change what the lists and details return."""

from __future__ import annotations

L = "/api/v1/contacts"
SEED_ID = "c786bb40-a58e-4d60-afe6-061e2b819811"


def test_contact_create_update_delete(sandbox, api):
    sandbox.advance_clock(days=2)
    r = api.req("POST", L, json={"name": "Kyaw Kyaw", "email": ["kyaw@example.com"], "phone": [{"phone": "+95 9 1"}],
                                 "tags": ["vip", "brand-new-tag"], "customFields": {"cf_birthday": "1990-01-31"}})
    assert r.status_code == 201, r.text
    c = r.json()["data"]
    assert r.json()["status"] == "success" and c["createdAt"] == "2026-04-01T00:00:00.000Z"
    assert [t["name"] for t in c["tags"]] == ["vip", "brand-new-tag"]
    assert c["customFields"][0]["display_name"] == "Birthday" and c["email"][0]["isPrimary"] is True
    assert api.json(L, params={"keyword": "kyaw kyaw"})["data"][-1]["id"] == c["id"]
    assert api.json(L)["total"] == 101 and "brand-new-tag" in [t["name"] for t in api.json("/api/v1/tags", params={"pageSize": 100})["data"]]

    sandbox.advance_clock(hours=1)
    r = api.req("PATCH", f"{L}/{c['id']}", json={"notes": "called back", "address": "Yangon"})
    assert r.status_code == 200 and r.json()["data"]["notes"] == "called back"
    assert api.json(f"{L}/{c['id']}")["data"]["updatedAt"] == "2026-04-01T01:00:00.000Z"

    r = api.req("DELETE", f"{L}/{c['id']}")
    assert r.status_code == 200 and r.json() == {"status": "success", "message": "Contact deleted successfully",
                                                 "data": None}
    assert api.get(f"{L}/{c['id']}").status_code == 404
    assert api.json(L)["total"] == 100 and c["id"] not in api.all_ids(L)
    assert api.req("DELETE", f"{L}/{c['id']}").status_code == 404


def test_contact_write_validation(api):
    assert api.req("POST", L, json={"address": "no name"}).status_code == 400
    assert api.req("POST", L, json={"name": "X", "customFields": {"cf_nope": 1}}).status_code == 400
    assert api.req("POST", L, json={"name": "X", "customFields": {"cf_birthday": "31/01/1990"}}).status_code == 400
    assert api.req("PATCH", f"{L}/00000000-0000-4000-8000-000000000000", json={"notes": "x"}).status_code == 404


def test_update_tags_merge_replace_remove(api):
    def tags():
        return [t["name"] for t in api.json(f"{L}/{SEED_ID}")["data"]["tags"]]

    r = api.req("PATCH", f"{L}/{SEED_ID}/tags", json={"actionType": "MERGE", "tags": ["vip", "new"]})
    assert r.json() == {"status": "success", "message": "Contact tags updated successfully", "data": None}
    assert tags() == ["platinum", "vip", "new"]
    api.req("PATCH", f"{L}/{SEED_ID}/tags", json={"actionType": "REMOVE", "tags": ["vip"]})
    assert tags() == ["platinum", "new"]
    api.req("PATCH", f"{L}/{SEED_ID}/tags", json={"actionType": "REPLACE", "tags": ["gold"]})
    assert tags() == ["gold"]
    first_page = api.json(L)["data"]
    assert [t["name"] for t in first_page[0]["tags"]] == ["gold"]
    assert api.req("PATCH", f"{L}/{SEED_ID}/tags", json={"actionType": "EXPLODE", "tags": []}).status_code == 400
    assert api.req("PATCH", f"{L}/{SEED_ID}/tags", json={"tags": "vip"}).status_code == 400


def test_ticket_create_update_status_and_filter_by_contact(sandbox, api):
    tag_id = api.json("/api/v1/tags")["data"][0]["id"]
    body = {"title": "Customer cannot access account", "description": "after reset", "status": "open",
            "priority": "high", "contact_id": SEED_ID, "channel": "email", "tags": [tag_id],
            "customFields": {"cf_trackingid": "Id-1001", "cf_date": "2025-10-23"}}
    r = api.req("POST", "/api/v1/tickets", json=body)
    assert r.status_code == 201 and r.json()["success"] is True
    t = r.json()["data"]
    assert t["contactId"] == SEED_ID and t["tags"] == [{"id": tag_id, "name": "platinum"}]
    assert t["customFields"] == {"cf_trackingid": "Id-1001", "cf_date": "2025-10-23"}
    assert api.json("/api/v1/tickets")["total"] == 101
    mine = api.json(f"/api/v1/tickets/contact/{SEED_ID}", params={"pageSize": 100})["data"]
    assert t["id"] in [x["id"] for x in mine] and all(x["contactId"] == SEED_ID for x in mine)

    sandbox.advance_clock(minutes=5)
    r = api.req("PUT", f"/api/v1/tickets/{t['id']}/status", json={"status": "resolved"})
    assert r.status_code == 200 and r.json()["data"]["status"] == "resolved"
    r = api.req("PATCH", f"/api/v1/tickets/{t['id']}", json={"priority": "low", "title": "Solved"})
    listed = {x["id"]: x for x in api.json("/api/v1/tickets", params={"page": 11})["data"]}[t["id"]]
    assert (listed["status"], listed["priority"], listed["title"]) == ("resolved", "low", "Solved")
    assert listed["updatedAt"] == "2026-03-30T00:05:00.000Z"
    assert api.req("PUT", f"/api/v1/tickets/{t['id']}/status", json={"status": "exploded"}).status_code == 400
    assert api.req("POST", "/api/v1/tickets", json={"title": "no contact"}).status_code == 400
    assert api.req("POST", "/api/v1/tickets", json={**body, "customFields": {"cf_date": "23/10/2025"}}).status_code == 400


def test_channel_create(api):
    r = api.req("POST", "/api/v1/channels", json={"name": "LINE OA", "type": "line"})
    assert r.status_code == 201 and r.json()["data"]["name"] == "LINE OA"
    assert api.json("/api/v1/channels")["total"] == 7
    assert api.req("POST", "/api/v1/channels", json={"name": "x", "type": "pigeon"}).status_code == 400


def test_filter_by_social_platform_id(sandbox_factory, api_for):
    api = api_for(sandbox_factory(shape="webhook"))
    contact = next(c for c in api.json(L, params={"pageSize": 100})["data"] if c["platformContacts"])
    social = contact["platformContacts"][0]["socialPlatformId"]
    hits = api.json(f"{L}/social-platform/{social}")
    assert contact["id"] in [c["id"] for c in hits["data"]]
    assert api.json(f"{L}/social-platform/PSID-0")["total"] == 0


def test_send_message(api):
    r = api.req("POST", "/api/v1/messages/send", json={"contactId": SEED_ID, "messageType": "text",
                                                       "message": "It is your message.",
                                                       "createdAt": "2026-01-08T16:03:39.923Z"})
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["message"]) == (200, "Message sent successfully")
    assert list(body["data"])[:6] == ["id", "createdAt", "updatedAt", "deletedAt", "clientRequestId", "partition_key"]
    assert body["data"]["partition_key"] == "2026_03" and len(body["data"]["createdAt"]) == 30
    assert api.req("POST", "/api/v1/messages/send", json={"message": "x"}).status_code == 400
    assert api.req("POST", "/api/v1/messages/send",
                   json={"contactId": "00000000-0000-4000-8000-000000000000", "message": "x"}).status_code == 404

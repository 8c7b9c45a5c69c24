"""Envelopes, shapes and pagination arithmetic against the documented examples, over real HTTP."""

from __future__ import annotations

import math

import orjson
import pytest

# data of the founding document, seed-contact-detail.txt (GET /api/v1/contacts/{id})
SEED_DETAIL = {
    "status": "success",
    "message": "contact",
    "data": {
        "id": "c786bb40-a58e-4d60-afe6-061e2b819811", "name": "FrankMcCallister", "address": None, "channel": None,
        "notes": None, "socialProfileUrl": "https://assets.protocol.chat/avatars/frank.jpg",
        "tags": [{"id": "4d45ba6c-728e-4ca8-91cb-91bac1572622", "name": "platinum"}],
        "company": {"id": "547f2af6-1e6d-420e-aaed-b6448d37fd08", "name": "K-Link", "phone": None, "address": None,
                    "industry": None},
        "email": [{"email": "frankmccallister@gmail.com", "isPrimary": True}],
        "phone": [{"phone": "1-800-759-3000", "isPrimary": True}],
        "customFields": [{"system_name": "demo_test", "display_name": "demo test ddddfee erefesf", "type": "text",
                          "value": "another field"}],
    },
}
LIST_KEYS = ["total", "page", "pageSize", "lastPage", "data"]


def test_doc_example_65_contacts_page_size_10_has_7_pages(sandbox_factory, api_for):
    api = api_for(sandbox_factory(contacts=65))
    body = api.json("/api/v1/contacts", params={"page": 1, "pageSize": 10})
    assert list(body) == LIST_KEYS
    assert (body["total"], body["page"], body["pageSize"], body["lastPage"]) == (65, 1, 10, 7)
    last = api.json("/api/v1/contacts", params={"page": 7, "pageSize": 10})
    assert len(last["data"]) == 5 and last["lastPage"] == 7


def test_default_page_size_is_10_and_clamped_at_100(sandbox_factory, api_for):
    api = api_for(sandbox_factory(contacts=250))
    body = api.json("/api/v1/contacts")
    assert (body["page"], body["pageSize"], len(body["data"])) == (1, 10, 10)
    big = api.json("/api/v1/contacts", params={"pageSize": 500})
    assert big["pageSize"] == 100 and len(big["data"]) == 100 and big["lastPage"] == 3
    blank = api.json("/api/v1/contacts?page&pageSize")  # as in the docs' cx-logs example
    assert blank["pageSize"] == 10


def test_page_past_last_page_is_empty_with_same_totals(sandbox_factory, api_for):
    api = api_for(sandbox_factory(contacts=23))
    body = api.json("/api/v1/contacts", params={"page": 9, "pageSize": 10})
    assert body["data"] == [] and body["total"] == 23 and body["lastPage"] == 3 and body["page"] == 9


@pytest.mark.parametrize("n,size", [(10, 10), (11, 10), (99, 100), (100, 100), (101, 7)])
def test_pages_cover_every_row_exactly_once(sandbox_factory, api_for, n, size):
    api = api_for(sandbox_factory(contacts=n))
    ids = api.all_ids("/api/v1/contacts", page_size=size)
    assert len(ids) == n == len(set(ids))
    assert api.json("/api/v1/contacts", params={"pageSize": size})["lastPage"] == math.ceil(n / size)


def test_empty_result_has_total_0_and_last_page_0(api):
    body = api.json("/api/v1/contacts", params={"keyword": "no-such-name-anywhere"})
    assert (body["total"], body["lastPage"], body["data"]) == (0, 0, [])


def test_keyword_is_a_case_insensitive_substring_of_the_name(api):
    body = api.json("/api/v1/contacts", params={"keyword": "mccall", "pageSize": 100})
    names = [c["name"] for c in body["data"]]
    assert "FrankMcCallister" in names and all("mccall" in n.lower() for n in names)


def test_detail_is_the_seed_document_without_timestamps(sandbox_factory, api_for):
    api = api_for(sandbox_factory(timestamps=False))
    assert api.json("/api/v1/contacts/c786bb40-a58e-4d60-afe6-061e2b819811") == SEED_DETAIL
    for c in api.json("/api/v1/contacts", params={"pageSize": 100})["data"]:
        assert not {"createdAt", "updatedAt", "deletedAt"} & set(c)
        assert list(c) == list(SEED_DETAIL["data"])


def test_seed_shape_with_timestamps_and_soft_deleted_rows(sandbox_factory, api_for):
    api = api_for(sandbox_factory(contacts=400))
    rows = [c for p in range(1, 5) for c in api.json("/api/v1/contacts", params={"page": p, "pageSize": 100})["data"]]
    assert list(rows[0]) == list(SEED_DETAIL["data"]) + ["createdAt", "updatedAt", "deletedAt"]
    assert rows[0]["createdAt"].endswith("Z") and len(rows[0]["createdAt"]) == 24  # ms, Z
    soft = [c for c in rows if c["deletedAt"]]
    assert soft, "some seeded rows are soft-deleted and still listed"
    # variety: nulls, empty and multi-item arrays, every custom field type, non-Latin names
    assert any(c["company"] is None for c in rows) and any(c["company"] for c in rows)
    assert any(c["email"] == [] for c in rows) and any(len(c["email"]) > 1 for c in rows)
    types = {f["type"] for c in rows for f in c["customFields"]}
    assert types >= {"text", "textarea", "number", "date", "select", "multi_select", "checkbox", "email", "phone", "url"}
    assert any(any("\u1000" <= ch <= "\u109f" for ch in c["name"]) for c in rows)  # Burmese script
    assert any(any("\u0e00" <= ch <= "\u0e7f" for ch in c["name"]) for c in rows)  # Thai script


def test_webhook_shape_matches_the_documented_contact_object(sandbox_factory, api_for):
    api = api_for(sandbox_factory(shape="webhook"))
    c = api.json("/api/v1/contacts", params={"pageSize": 1})["data"][0]
    assert list(c) == ["id", "name", "address", "channel", "company", "companyId", "contactEmails", "contactPhones",
                       "contactNumber", "contactProfile", "socialProfileUrl", "notes", "customFields", "tags",
                       "platformContacts", "createdAt", "updatedAt", "deletedAt"]
    assert list(c["contactEmails"][0]) == ["id", "email", "isPrimary", "createdAt", "updatedAt", "deletedAt"]
    assert list(c["tags"][0]) == ["id", "name", "position", "createdAt", "updatedAt", "deletedAt"]
    assert len(c["createdAt"]) == len("2026-01-09T03:42:38.000000Z")
    detail = api.json(f"/api/v1/contacts/{c['id']}")
    assert detail["data"] == c


def test_contact_and_ticket_form_fields(api):
    body = api.json("/api/v1/contacts/fields", params={"pageSize": 100})
    assert list(body) == LIST_KEYS
    f = body["data"][1]
    assert list(f) == ["id", "system_name", "display_name", "type", "is_default", "is_archived", "is_required",
                       "is_unique", "options"]
    assert f["system_name"] == "channel" and f["options"][0] == {"value": "phone", "label": "Phone", "is_default": True}
    assert {x["system_name"] for x in body["data"]} >= {"cf_birthday", "demo_test"}
    tf = api.json("/api/v1/tickets/fields")
    assert list(tf) == LIST_KEYS and tf["total"] > 0


def test_ticket_list_shape(api):
    body = api.json("/api/v1/tickets", params={"pageSize": 3})
    assert list(body) == LIST_KEYS and body["total"] == 100 and body["lastPage"] == 34
    t = body["data"][0]
    assert list(t)[:16] == ["id", "createdAt", "updatedAt", "deletedAt", "title", "description", "type", "channel",
                            "priority", "status", "contactId", "creatorId", "assigneeId", "reasonToAssign",
                            "ticketNumber", "assignee"]
    assert isinstance(t["ticketNumber"], int) and isinstance(t["customFields"], dict)


def test_categories_tree_is_unpaginated_and_at_least_3_deep(api):
    body = api.json("/api/v1/categories")
    assert list(body) == ["data"]

    def depth(nodes, level=1):
        assert all(n["level"] == level for n in nodes)
        return max([level] + [depth(n["childCategoryList"], level + 1) for n in nodes if n["childCategoryList"]])

    assert depth(body["data"]) >= 3
    assert list(body["data"][0]) == ["id", "createdAt", "updatedAt", "deletedAt", "value", "parentId", "level",
                                     "sortOrder", "childCategoryList"]


def test_tags_channels_groups_and_agent_activities(api):
    for path, total in [("/api/v1/tags", 12), ("/api/v1/channels", 6), ("/api/v1/contact-groups", 5)]:
        body = api.json(path)
        assert list(body) == LIST_KEYS and body["total"] == total
    tags = api.json("/api/v1/tags")["data"]
    assert tags[0] == {**tags[0], "id": "4d45ba6c-728e-4ca8-91cb-91bac1572622", "name": "platinum"}
    act = api.json("/api/v1/user-presence-status-log", params={"pageSize": 20})
    assert list(act) == ["data", "total", "page", "pageSize", "lastPage"] and act["total"] == 50
    assert set(act["data"][0]["previousPresenceStatus"]) == {"id", "systemName", "displayName", "emoji"}


def test_cx_log_envelope_and_record(api):
    body = api.json("/api/v1/cx-logs", params={"selectedDate": "2026/02/28 00:00:00-2026/03/30 00:00:00"},
                    headers={"x-client-timezone": "UTC"})
    assert list(body) == ["requestId", "cxLogs"]
    assert list(body["cxLogs"]) == ["data", "total", "page", "pageSize", "lastPage"]
    assert body["cxLogs"]["total"] == 100
    log = next(x for x in body["cxLogs"]["data"] if x["closedAt"])
    assert log["firstAssignee"]["deletedaAt"] is None and "deletedAt" not in log["firstAssignee"]
    assert log["startedDate"].endswith(".000+00") and log["closedAt"].endswith("+00")
    assert isinstance(log["handledTime"], int) and isinstance(log["contactLabel"], list)
    assert set(log["contact"]) >= {"tags", "platformContacts", "contactNumber"}
    assert (log["mailRoom"] is None) != (log["room"] is None)


def test_newest_first_order_puts_created_rows_on_page_1(sandbox_factory, api_for):
    sb = sandbox_factory(contacts=30, order="newest_first")
    api = api_for(sb)
    before = api.json("/api/v1/contacts")["data"]
    created = sb.mutate(create=3)["created"]
    after = api.json("/api/v1/contacts")["data"]
    assert [c["id"] for c in after[:3]] == created[::-1]
    assert [c["id"] for c in after[3:]] == [c["id"] for c in before[:7]]


def test_bodies_are_compact_json_with_content_length(api):
    r = api.get("/api/v1/contacts")
    assert r.headers["Content-Type"].startswith("application/json")
    assert int(r.headers["Content-Length"]) == len(r.content)
    assert orjson.loads(r.content)["total"] == 100

"""Seed determinism, scripted mutations, the virtual clock, counters, renames and cx-log windows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

L = "/api/v1/contacts"
UTC = {"x-client-timezone": "UTC"}


def cx(api, start, end, tz="UTC", **params):
    body = api.json("/api/v1/cx-logs", params={"selectedDate": f"{start}-{end}", "pageSize": 100, **params},
                    headers={"x-client-timezone": tz})
    return body["cxLogs"]


def test_same_seed_serves_byte_identical_pages(sandbox_factory, api_for):
    a, b, c = (api_for(sandbox_factory(seed=s, contacts=300)) for s in (5, 5, 6))
    for path in [f"{L}?page=2&pageSize=100", "/api/v1/tickets?pageSize=50", "/api/v1/categories",
                 "/api/v1/tags", "/api/v1/contacts/fields", "/api/v1/user-presence-status-log"]:
        assert a.get(path).content == b.get(path).content
        if path != "/api/v1/contacts/fields":
            assert a.get(path).content != c.get(path).content
    q = "/api/v1/cx-logs?selectedDate=2026/03/01 00:00:00-2026/03/20 00:00:00"
    assert a.get(q, headers=UTC).content == b.get(q, headers=UTC).content  # requestId included


def test_same_seed_same_mutations(sandbox_factory):
    a, b = sandbox_factory(seed=3), sandbox_factory(seed=3)
    for sb in (a, b):
        sb.advance_clock(days=1)
    assert a.mutate(update=5, create=2, delete=3) == b.mutate(update=5, create=2, delete=3)


def test_large_sizes_are_lazy(sandbox_factory, api_for):
    api = api_for(sandbox_factory(contacts=1_000_000, tickets=200_000, cx_logs=500_000))
    last = api.json(L, params={"page": 10_000, "pageSize": 100})
    assert last["total"] == 1_000_000 and last["lastPage"] == 10_000 and len(last["data"]) == 100
    uid = last["data"][-1]["id"]
    assert api.json(f"{L}/{uid}")["data"]["id"] == uid
    assert cx(api, "2026/03/29 00:00:00", "2026/03/29 23:59:59")["total"] > 10_000


def test_mutate_changes_what_lists_return(sandbox_factory, api_for):
    sb = sandbox_factory(contacts=60)
    api = api_for(sb)
    before = {c["id"]: c for c in (api.json(L, params={"pageSize": 100})["data"])}
    sb.advance_clock(days=1)
    out = sb.mutate("contacts", update=50, create=20, delete=10)
    assert [len(out[k]) for k in ("updated", "created", "deleted")] == [50, 20, 10]
    after = {c["id"]: c for c in api.json(L, params={"pageSize": 100})["data"]}
    assert len(after) == 70 and set(out["created"]) <= set(after) and not set(out["deleted"]) & set(after)
    now = "2026-03-31T00:00:00.000Z"
    for uid in out["updated"]:
        if uid in after:
            assert after[uid]["updatedAt"] == now and after[uid]["notes"] != before[uid]["notes"]
    assert all(after[uid]["createdAt"] == now for uid in out["created"])
    for uid in out["deleted"]:
        assert api.get(f"{L}/{uid}").status_code == 404


def test_mutate_other_resources_and_progress_cx_logs(sandbox_factory, api_for):
    sb = sandbox_factory()
    api = api_for(sb)
    for res, path in [("tickets", "/api/v1/tickets"), ("tags", "/api/v1/tags"), ("channels", "/api/v1/channels")]:
        total = api.json(path)["total"]
        out = sb.mutate(res, update=2, create=3, delete=1)
        assert api.json(path)["total"] == total + 2
        ids = set(api.all_ids(path))
        assert set(out["created"]) <= ids and not set(out["deleted"]) & ids
    sb.advance_clock(hours=2)
    created = sb.mutate("cx_logs", create=2)["created"]
    logs = {x["id"]: x for x in cx(api, "2026/03/30 00:00:00", "2026/03/30 23:59:59")["data"]}
    assert all(logs[i]["closedAt"] is None and logs[i]["slaStatus"] is None for i in created)
    assert logs[created[0]]["startedDate"] == "2026-03-30 02:00:00.000+00"
    sb.advance_clock(minutes=30)
    assert sb.mutate("cx_logs", update=2)["updated"] == created  # open logs progress first
    logs = {x["id"]: x for x in cx(api, "2026/03/30 00:00:00", "2026/03/30 23:59:59")["data"]}
    assert logs[created[0]]["closedAt"] == "2026-03-30 02:30:00+00"
    assert isinstance(logs[created[0]]["handledTime"], int) and logs[created[0]]["updatedAt"] == "2026-03-30T02:30:00.000Z"


def test_clock_and_control_over_http(sandbox, api):
    assert sandbox.now() == datetime(2026, 3, 30, tzinfo=timezone.utc)
    assert api.control("advance_clock", days=1, hours=2) == "2026-03-31T02:00:00Z"
    assert sandbox.now() - datetime(2026, 3, 30, tzinfo=timezone.utc) == timedelta(days=1, hours=2)
    out = api.control("mutate", resource="contacts", update=1, create=1)
    assert api.json(f"{L}/{out['created'][0]}")["data"]["createdAt"] == "2026-03-31T02:00:00.000Z"
    assert api.control("info")["contacts"] == 100
    r = api.s.post(f"{sandbox.base_url}/_sandbox/explode", json={})
    assert r.status_code == 404
    assert api.s.post(f"{sandbox.base_url}/_sandbox/mutate", json={"resource": "nope"}).status_code == 400


def test_counters_per_endpoint(sandbox, api):
    api.get(L)
    api.get(L, params={"page": 2})
    api.get(f"{L}/c786bb40-a58e-4d60-afe6-061e2b819811")
    api.get("/api/v1/tickets")
    api.get("/api/v1/nope")
    assert sandbox.counters() == {"contacts.list": 2, "contacts.detail": 1, "tickets.list": 1, "unknown": 1}
    assert api.control("counters")["contacts.list"] == 2
    sandbox.reset_counters()
    assert sandbox.counters() == {}


def test_rename_custom_field(sandbox, api):
    sandbox.rename_custom_field("demo_test", "Demo Test (renamed)")
    detail = api.json(f"{L}/c786bb40-a58e-4d60-afe6-061e2b819811")["data"]
    assert detail["customFields"][0] == {"system_name": "demo_test", "display_name": "Demo Test (renamed)",
                                         "type": "text", "value": "another field"}
    fields = api.json("/api/v1/contacts/fields", params={"pageSize": 100})["data"]
    assert {f["system_name"]: f["display_name"] for f in fields}["demo_test"] == "Demo Test (renamed)"
    assert api.control("rename_custom_field", system_name="cf_tier", display_name="Level") is None


def test_cx_logs_spread_over_30_days_with_midnight_edges(sandbox, api):
    everything = cx(api, "2026/02/28 00:00:00", "2026/03/30 00:00:00")
    assert everything["total"] == 100
    midnights = [x["startedDate"] for x in everything["data"] if x["startedDate"].endswith(" 00:00:00.000+00")]
    assert midnights
    day = datetime.strptime(midnights[0][:10], "%Y-%m-%d")
    d, prev = day.strftime("%Y/%m/%d"), (day - timedelta(days=1)).strftime("%Y/%m/%d")
    ends_at = cx(api, f"{prev} 00:00:00", f"{d} 00:00:00")
    ends_before = cx(api, f"{prev} 00:00:00", f"{prev} 23:59:59")
    starts_at = cx(api, f"{d} 00:00:00", f"{d} 23:59:59")
    assert midnights[0] in [x["startedDate"] for x in ends_at["data"]]
    assert midnights[0] not in [x["startedDate"] for x in ends_before["data"]]
    assert midnights[0] in [x["startedDate"] for x in starts_at["data"]]
    assert ends_at["total"] == ends_before["total"] + 1


def test_cx_log_window_is_read_in_the_client_timezone(sandbox, api):
    utc = cx(api, "2026/03/10 00:00:00", "2026/03/10 23:59:59")
    bkk = cx(api, "2026/03/10 07:00:00", "2026/03/11 06:59:59", tz="Asia/Bangkok")
    assert utc["data"] == bkk["data"] and utc["total"] > 0
    shifted = cx(api, "2026/03/10 00:00:00", "2026/03/10 23:59:59", tz="Asia/Bangkok")
    assert shifted["data"] != utc["data"]


def test_cx_log_pagination_inside_a_window(sandbox_factory, api_for):
    api = api_for(sandbox_factory(cx_logs=500))
    w = cx(api, "2026/03/01 00:00:00", "2026/03/10 23:59:59", pageSize=7)
    pages = [cx(api, "2026/03/01 00:00:00", "2026/03/10 23:59:59", page=p, pageSize=7)["data"]
             for p in range(1, w["lastPage"] + 1)]
    ids = [x["id"] for p in pages for x in p]
    assert len(ids) == w["total"] == len(set(ids)) and w["lastPage"] == -(-w["total"] // 7)
    starts = [x["startedDate"] for p in pages for x in p]
    assert starts == sorted(starts) and starts[0] >= "2026-03-01" and starts[-1] < "2026-03-11"


def test_concurrent_scans_while_mutating(sandbox_factory, api_for):
    import threading

    sb = sandbox_factory(contacts=300, order="newest_first")
    errors: list[str] = []

    def scan() -> None:
        api = api_for(sb)
        for _ in range(3):
            for page in range(1, 5):
                r = api.get(L, params={"page": page, "pageSize": 100})
                if r.status_code != 200 or len(r.json()["data"]) > 100:
                    errors.append(r.text[:200])

    threads = [threading.Thread(target=scan) for _ in range(3)]
    for t in threads:
        t.start()
    for _ in range(20):
        sb.mutate(update=5, create=3, delete=2)
    for t in threads:
        t.join()
    assert errors == []
    api = api_for(sb)
    assert len(set(api.all_ids(L))) == api.json(L)["total"] == 320

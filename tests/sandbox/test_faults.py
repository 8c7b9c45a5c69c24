"""Every fault mode, its triggering rules and the requests-per-minute limit, over real HTTP."""

from __future__ import annotations

import email.utils

import orjson
import pytest
import requests

from sandbox import Fault, parse_faults

L = "/api/v1/contacts"


def statuses(api, n, path=L, **kw):
    return [api.get(path, **kw).status_code for _ in range(n)]


def test_parse_compact_fault_strings():
    fs = parse_faults("contacts.list:5xx:rate=0.2;*:429:every=7:retry_after=1;tickets.list:repeat:pages=2,3:n=4;"
                      "*:429:retry_after_http_date;cx_logs.list:5xx:status=503:count=2")
    assert [(f.endpoint, f.kind) for f in fs] == [("contacts.list", "5xx"), ("*", "429"), ("tickets.list", "repeat"),
                                                  ("*", "429"), ("cx_logs.list", "5xx")]
    assert fs[0].rate == 0.2 and fs[1].every == 7 and fs[2].pages == [2, 3] and fs[2].n == 4
    assert fs[3].retry_after_http_date is True and fs[4].status == 503 and fs[4].count == 2
    with pytest.raises(ValueError):
        parse_faults("contacts.list:explode")
    with pytest.raises(ValueError):
        parse_faults("contacts.list:5xx:bogus=1")


def test_5xx_every_and_count(sandbox_factory, api_for):
    sb = sandbox_factory(faults=[Fault("contacts.list", "5xx", status=503, every=2, count=2)])
    api = api_for(sb)
    assert statuses(api, 6) == [200, 503, 200, 503, 200, 200]
    assert api.get("/api/v1/tickets").status_code == 200  # other endpoints untouched
    assert sb.faults_fired() == [2]


def test_after_and_endpoint_prefix(sandbox_factory, api_for):
    api = api_for(sandbox_factory(faults=["contacts.*:5xx:after=2"]))
    assert statuses(api, 4) == [200, 200, 500, 500]
    assert api.get("/api/v1/contacts/fields").status_code == 500
    assert api.get("/api/v1/tags").status_code == 200


def test_rate_faults_are_deterministic_per_seed(sandbox_factory, api_for):
    runs = [statuses(api_for(sandbox_factory(seed=s, faults="*:5xx:rate=0.4")), 40) for s in (7, 7, 8)]
    assert runs[0] == runs[1] != runs[2]
    assert 0 < runs[0].count(500) < 40


def test_429_retry_after_seconds_and_http_date(sandbox_factory, api_for):
    sb = sandbox_factory(faults=[Fault(kind="429", retry_after=3, count=1)])
    api = api_for(sb)
    r = api.get(L)
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    assert api.get(L).status_code == 200
    sb.set_faults([Fault(kind="429", retry_after=120, retry_after_http_date=True, count=1)])
    r = api.get(L)
    assert r.status_code == 429
    assert email.utils.parsedate_to_datetime(r.headers["Retry-After"]).tzinfo is not None
    sb.set_faults("*:429:retry_after=-5:count=1")
    assert api.get(L).headers["Retry-After"] == "-5"


def test_403_404_drop_slow(sandbox_factory, api_for):
    sb = sandbox_factory()
    api = api_for(sb)
    sb.set_faults("contacts.list:403:count=1;tickets.list:404:count=1")
    assert api.get(L).status_code == 403 and api.get("/api/v1/tickets").status_code == 404
    sb.set_faults("contacts.list:drop:count=1")
    with pytest.raises(requests.ConnectionError):
        api.get(L)
    assert api.get(L).status_code == 200  # a fresh connection works
    sb.set_faults("contacts.list:slow:ms=3000:count=1")
    with pytest.raises(requests.Timeout):
        api.s.get(sb.base_url + L, timeout=0.3)


def test_truncated_and_malformed(sandbox_factory, api_for):
    sb = sandbox_factory()
    api = api_for(sb)
    full = api.get(L).content
    sb.set_faults("contacts.list:truncated:count=1")
    r = api.get(L)
    assert r.status_code == 200 and full.startswith(r.content) and len(r.content) < len(full)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(r.content)
    sb.set_faults("contacts.list:truncated:short_read:count=1")
    with pytest.raises(requests.RequestException):
        api.get(L)
    sb.set_faults("contacts.list:malformed:count=1")
    r = api.get(L)
    assert r.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(r.content)


def test_repeat_and_skip_shift_the_page_window(sandbox_factory, api_for):
    sb = sandbox_factory(contacts=50)
    api = api_for(sb)
    clean = api.all_ids(L, page_size=10)
    sb.set_faults("contacts.list:repeat:pages=2:n=3")
    page1 = api.json(L, params={"page": 1})["data"]
    page2 = api.json(L, params={"page": 2})["data"]
    assert [c["id"] for c in page2[:3]] == [c["id"] for c in page1[-3:]]
    sb.set_faults("contacts.list:skip:pages=3:n=4")
    seen = api.all_ids(L, page_size=10)
    assert len(set(seen)) == 46 and set(seen) < set(clean)


def test_total_change_mid_scan(sandbox_factory, api_for):
    api = api_for(sandbox_factory(contacts=50, faults="contacts.list:total_change:pages=2:delta=15"))
    p1, p2 = (api.json(L, params={"page": p}) for p in (1, 2))
    assert (p1["total"], p1["lastPage"]) == (50, 5) and (p2["total"], p2["lastPage"]) == (65, 7)


def test_missing_id_type_change_empty_page_oversize(sandbox_factory, api_for):
    sb = sandbox_factory()
    api = api_for(sb)
    sb.set_faults("contacts.list:missing_id:count=1")
    data = api.json(L)["data"]
    assert "id" not in data[0] and all("id" in c for c in data[1:])
    sb.set_faults("tickets.list:type_change:count=1")
    assert all(isinstance(t["ticketNumber"], str) for t in api.json("/api/v1/tickets")["data"])
    sb.set_faults("contacts.list:type_change:field=total:count=1")
    assert api.json(L)["total"] == "100"
    sb.set_faults("contacts.list:empty_page:pages=1")
    body = api.json(L)
    assert body["data"] == [] and body["lastPage"] == 10
    sb.set_faults("contacts.list:oversize:size=2000000:count=1")
    r = api.get(L)
    assert len(r.content) > 2_000_000 and len(r.json()["data"]) == 10


def test_cx_log_faults_use_the_nested_envelope(sandbox_factory, api_for):
    api = api_for(sandbox_factory(faults="cx_logs.list:total_change:delta=-3;cx_logs.list:type_change"))
    body = api.json("/api/v1/cx-logs", params={"selectedDate": "2026/02/28 00:00:00-2026/03/30 00:00:00"},
                    headers={"x-client-timezone": "UTC"})
    assert body["cxLogs"]["total"] == 97 and isinstance(body["cxLogs"]["data"][0]["caseId"], str)


def test_faults_set_and_cleared_over_http(sandbox, api):
    api.control("set_faults", faults="contacts.list:5xx:status=502")
    assert api.get(L).status_code == 502
    api.control("clear_faults")
    assert api.get(L).status_code == 200


def test_requests_per_minute_limit(sandbox_factory, api_for):
    api = api_for(sandbox_factory(rate_limit_per_minute=5))
    codes = statuses(api, 7)
    assert codes == [200] * 5 + [429, 429]
    r = api.get(L)
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60


def test_latency_ms_delays_every_request(sandbox_factory):
    sb = sandbox_factory(latency_ms=3000)
    with pytest.raises(requests.Timeout):
        requests.get(sb.base_url + L, headers={"Authorization": f"Bearer {sb.token}"}, timeout=0.3)

"""Auth, unknown ids/paths and bad parameters."""

from __future__ import annotations

import pytest

TZ = {"x-client-timezone": "Asia/Bangkok"}
WINDOW = {"selectedDate": "2026/03/01 00:00:00-2026/03/02 00:00:00"}


@pytest.mark.parametrize("token", [False, "kpt_wrong"])
@pytest.mark.parametrize("path", ["/api/v1/contacts", "/api/v1/contacts/c786bb40-a58e-4d60-afe6-061e2b819811",
                                  "/api/v1/tickets", "/api/v1/categories", "/api/v1/nope"])
def test_missing_or_wrong_token_is_401(sandbox, api_for, token, path):
    r = api_for(sandbox, token=token).get(path)
    assert r.status_code == 401
    assert r.json()["status"] == "error" and r.json()["message"]


def test_basic_auth_is_401(sandbox, api_for):
    api = api_for(sandbox, token=False)
    assert api.get("/api/v1/contacts", auth=("user", "pass")).status_code == 401


def test_custom_token(sandbox_factory, api_for):
    sb = sandbox_factory(token="kpt_custom")
    assert api_for(sb).get("/api/v1/contacts").status_code == 200
    assert api_for(sb, token="kpt_sandbox_token").get("/api/v1/contacts").status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/contacts/00000000-0000-4000-8000-000000000000", "/api/v1/contacts/abc",
                                  "/api/v1/tickets/contact/abc", "/api/v1/nope", "/api/v2/contacts", "/"])
def test_unknown_ids_and_paths_are_404(api, path):
    r = api.get(path)
    assert r.status_code == 404 and r.json()["status"] == "error"


def test_ids_of_another_seed_are_404(sandbox_factory, api_for):
    a, b = api_for(sandbox_factory(seed=1)), api_for(sandbox_factory(seed=2))
    uid = a.json("/api/v1/contacts")["data"][3]["id"]
    assert a.get(f"/api/v1/contacts/{uid}").status_code == 200
    assert b.get(f"/api/v1/contacts/{uid}").status_code == 404


def test_wrong_method_is_405(api):
    assert api.req("DELETE", "/api/v1/tickets").status_code == 405


@pytest.mark.parametrize("params", [{"page": "x"}, {"page": 0}, {"pageSize": -1}, {"pageSize": "ten"}])
def test_bad_paging_is_400(api, params):
    r = api.get("/api/v1/contacts", params=params)
    assert r.status_code == 400 and r.json()["status"] == "error"


@pytest.mark.parametrize("params,headers", [
    (WINDOW, {}),  # header missing
    ({}, TZ),  # selectedDate missing
    ({"selectedDate": "2026-03-01"}, TZ),
    ({"selectedDate": "2026/03/01 00:00:00-2026/02/01 00:00:00"}, TZ),  # ends before it starts
    ({"selectedDate": "2026/13/01 00:00:00-2026/13/02 00:00:00"}, TZ),
    (WINDOW, {"x-client-timezone": "Mars/Olympus"}),
])
def test_cx_logs_bad_window_or_timezone_is_400(api, params, headers):
    r = api.get("/api/v1/cx-logs", params=params, headers=headers)
    assert r.status_code == 400 and r.json()["status"] == "error"


def test_bad_json_body_is_400(api):
    r = api.req("POST", "/api/v1/tickets", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert api.req("POST", "/api/v1/tickets", json=[1, 2]).status_code == 400

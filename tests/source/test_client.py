"""sources/klink/client.py: environment settings read once, not on every request."""

from __future__ import annotations

import requests

from sources.klink.client import KlinkClient, environment_settings

BASE = "https://apigw.klinkcx.com"


def test_proxy_and_ca_bundle_come_from_the_environment(monkeypatch):
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/klink/ca.pem")
    found = environment_settings(BASE)
    assert found["proxies"].get("https") == "http://proxy.example:3128"
    assert found["verify"] == "/etc/klink/ca.pem"
    assert found["trust_env"] is False
    monkeypatch.setenv("NO_PROXY", "apigw.klinkcx.com")
    assert environment_settings(BASE)["proxies"] == {}


def test_requests_do_not_reread_the_environment(sandbox_factory, monkeypatch):
    sb = sandbox_factory(contacts=5)
    calls = []
    original = requests.utils.get_environ_proxies

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    client = KlinkClient(sb.base_url, sb.token)
    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counting)
    for _ in range(3):
        assert client.get_json("contacts", "/api/v1/contacts", params={"page": 1})["data"]
    assert calls == []  # requests' per-request os.environ scan (0.7 ms a page) is skipped

"""sources/klink/client.py: the environment read once, proxies and CA bundles honoured, retry waits."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List
from urllib.parse import urlsplit

import pytest
import requests
import urllib3

from sources.klink.client import KlinkClient, LoggedRetry, environment_settings, pool_manager

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


def test_pool_manager_takes_the_proxy_its_credentials_and_the_ca_bundle():
    manager = pool_manager(BASE, {"proxies": {"https": "http://user:pw@proxy.example:3128"},
                                  "verify": "/etc/klink/ca.pem"})
    assert isinstance(manager, urllib3.ProxyManager)
    assert manager.proxy.host == "proxy.example" and manager.proxy.port == 3128
    assert manager.proxy_headers["Proxy-Authorization"].startswith("Basic ")
    assert manager.connection_pool_kw["ca_certs"] == "/etc/klink/ca.pem"
    assert manager.connection_pool_kw["cert_reqs"] == "CERT_REQUIRED"
    direct = pool_manager(BASE, {"proxies": {"http": "http://proxy.example:3128"}, "verify": True})
    assert not isinstance(direct, urllib3.ProxyManager)  # an http proxy does not apply to https
    assert direct.connection_pool_kw["ca_certs"] == requests.utils.DEFAULT_CA_BUNDLE_PATH
    assert pool_manager(BASE, {"verify": False}).connection_pool_kw["cert_reqs"] == "CERT_NONE"


def test_requests_do_not_reread_the_environment(sandbox_factory, monkeypatch):
    sb = sandbox_factory(contacts=5)
    calls = []
    original = requests.utils.get_environ_proxies

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    client = KlinkClient(sb.base_url, sb.token)
    monkeypatch.setattr(requests.utils, "get_environ_proxies", counting)
    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counting)
    for _ in range(3):
        assert client.get_json("contacts", "/api/v1/contacts", params={"page": 1})["data"]
    assert calls == []  # requests' per-request os.environ scan (0.7 ms a page) is not done


@pytest.fixture
def forward_proxy() -> Iterator[Dict[str, Any]]:
    """A plain HTTP forward proxy on a loopback port, recording what it forwarded."""
    seen: List[Dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            target = urlsplit(self.path)  # a proxy receives the absolute URL
            seen.append({"url": self.path, "authorization": self.headers.get("Authorization"),
                         "proxy_authorization": self.headers.get("Proxy-Authorization")})
            upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-authorization", "host")}
            upstream.request("GET", target.path + (f"?{target.query}" if target.query else ""), headers=headers)
            response = upstream.getresponse()
            body = response.read()
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            upstream.close()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://user:secret@127.0.0.1:{server.server_address[1]}", "seen": seen}
    server.shutdown()
    server.server_close()


def test_pages_go_through_the_configured_proxy(sandbox_factory, forward_proxy, monkeypatch):
    sb = sandbox_factory(contacts=30)
    truth = requests.get(f"{sb.base_url}/api/v1/contacts", params={"page": 2, "pageSize": 10},
                         headers={"Authorization": f"Bearer {sb.token}"}, timeout=30).json()["data"]
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", forward_proxy["url"])
    client = KlinkClient(sb.base_url, sb.token)
    body = client.get_json("contacts", "/api/v1/contacts", params={"page": 2, "pageSize": 10})
    assert [c["id"] for c in body["data"]] == [c["id"] for c in truth]
    (forwarded,) = forward_proxy["seen"]
    assert forwarded["url"] == f"{sb.base_url}/api/v1/contacts?page=2&pageSize=10"
    assert forwarded["authorization"] == f"Bearer {sb.token}"
    assert forwarded["proxy_authorization"].startswith("Basic ")


def _failed(retry: LoggedRetry, status: int, retry_after: str = "") -> LoggedRetry:
    headers = {"Retry-After": retry_after} if retry_after else {}
    return retry.increment("GET", "/api/v1/contacts", response=urllib3.HTTPResponse(status=status, headers=headers))


def test_retry_waits_back_off_then_honour_a_capped_retry_after():
    retry = LoggedRetry(max_attempts=6, backoff_factor=1.5, max_retry_delay=5)
    waits = []
    for _ in range(4):
        retry = _failed(retry, 503)
        waits.append(retry.get_backoff_time())
    assert waits == [1.5, 3.0, 5.0, 5.0]  # backoff_factor * 2**(n-1), capped at max_retry_delay
    with_header = LoggedRetry(max_attempts=3, backoff_factor=0, max_retry_delay=5)
    assert with_header.get_retry_after(urllib3.HTTPResponse(status=429, headers={"Retry-After": "2"})) == 2
    assert with_header.get_retry_after(urllib3.HTTPResponse(status=429, headers={"Retry-After": "300"})) == 5
    for unusable in ("0", "-5", "soon"):  # fall back to the backoff
        assert with_header.get_retry_after(urllib3.HTTPResponse(status=429, headers={"Retry-After": unusable})) is None
    assert _failed(_failed(with_header, 429), 500).total == 0
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        _failed(_failed(_failed(with_header, 429), 500), 502)

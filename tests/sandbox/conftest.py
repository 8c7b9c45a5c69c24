"""Helpers for the sandbox tests: an authenticated requests session per sandbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from sandbox import Sandbox


class Api:
    """requests.Session bound to a sandbox's base URL and token."""

    def __init__(self, sb: Sandbox, token: str | None = None) -> None:
        self.sb = sb
        self.s = requests.Session()
        self.s.trust_env = False
        if token is not False:
            self.s.headers["Authorization"] = f"Bearer {token or sb.token}"

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.s.get(self.sb.base_url + path, timeout=10, **kw)

    def req(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self.s.request(method, self.sb.base_url + path, timeout=10, **kw)

    def json(self, path: str, **kw: Any) -> Any:
        r = self.get(path, **kw)
        assert r.status_code == 200, r.text
        return r.json()

    def all_ids(self, path: str, page_size: int = 100, **params: Any) -> list[str]:
        """Every id of a standard list, page by page until lastPage."""
        out, page = [], 1
        while True:
            body = self.json(path, params={"page": page, "pageSize": page_size, **params})
            out += [r["id"] for r in body["data"]]
            if page >= body["lastPage"]:
                return out
            page += 1

    def control(self, name: str, **kw: Any) -> Any:
        r = self.s.post(f"{self.sb.base_url}/_sandbox/{name}", json=kw, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["result"]


@pytest.fixture
def api_for() -> Callable[..., Api]:
    return Api


@pytest.fixture
def api(sandbox: Sandbox) -> Api:
    return Api(sandbox)


CX_TZ = {"x-client-timezone": "UTC"}

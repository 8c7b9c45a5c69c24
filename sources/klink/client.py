"""HTTP access to the klink API: auth, retries, a rate budget, JSON envelopes, clear errors.

Pages are fetched with urllib3 (what requests sends through) and urllib3's `Retry` (429/5xx and
connection failures, Retry-After honoured), not with dlt's requests `Client`: the per-request work of
requests and dlt's tenacity wrapper cost a no-change re-run of 300k records 12.8 s against 9.8 s
without (median of 3 alternating runs; docs/performance.md). requests still resolves the environment
(proxy, CA bundle) once per client.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, Iterator, List, Literal, Optional
from urllib.parse import urlencode, urlparse

import orjson
import requests
import urllib3
from dlt.common import logger
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.util.retry import Retry

from .exceptions import (
    KlinkAuthError,
    KlinkConfigError,
    KlinkEndpointUnavailable,
    KlinkMalformedResponse,
    KlinkRequestError,
    KlinkResponseTooLarge,
    KlinkServerError,
)

if TYPE_CHECKING:
    from .pagememo import MemoEntry

RETRY_STATUSES = (429, 500, 502, 503, 504)
POOL_SIZE = 10  # connections kept per host (requests' default); more threads open extra ones


def sanitize(text: str, secret: Optional[str]) -> str:
    """`text` with every occurrence of `secret` masked."""
    if not secret or not text:
        return text
    return text.replace(secret, "***")


RateMode = Literal["spaced", "window"]


class RateBudget:
    """A shared requests-per-minute budget: callers wait for a slot instead of provoking 429s.

    `spaced` (the default, safe against any server-side limiter) grants one slot every 60/N seconds, so
    a slot nobody used is gone. `window` allows at most N requests in any 60 s, bursts included: time spent
    elsewhere (the first page of each list, a pause between lists) is made up later. Each request counts
    from when its response came back, which is never before the server counted it, so the server's own
    60 s window can only see fewer.
    """

    WINDOW_SECONDS = 60.0

    def __init__(self, requests_per_minute: Optional[float], clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, mode: RateMode = "spaced") -> None:
        if requests_per_minute is not None and requests_per_minute <= 0:
            raise KlinkConfigError(f"requests_per_minute must be positive, got {requests_per_minute}",
                                   hint="unset sources.klink.requests_per_minute to disable the budget")
        if mode not in ("spaced", "window"):
            raise KlinkConfigError(f"rate_limit_mode {mode!r} unknown",
                                   hint="set sources.klink.rate_limit_mode to spaced or window")
        self.mode = mode
        self.limit = int(requests_per_minute) if requests_per_minute else 0
        self.interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._next = 0.0
        self._in_flight = 0
        self._done: Deque[float] = deque()  # response times of window-mode requests, oldest first
        self._lock = threading.Condition()
        self._clock, self._sleep = clock, sleep

    def acquire(self) -> float:
        """Block until the next request may be sent; returns the slot time granted."""
        if not self.interval:
            return 0.0
        if self.mode == "window":
            return self._acquire_in_window()
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)
        return slot

    def _acquire_in_window(self) -> float:
        while True:
            with self._lock:
                now = self._clock()
                while self._done and self._done[0] <= now - self.WINDOW_SECONDS:
                    self._done.popleft()
                if len(self._done) + self._in_flight < max(self.limit, 1):
                    self._in_flight += 1
                    return now
                if not self._done:  # every counted request is still in flight: wait for one to answer
                    self._lock.wait()
                    continue
                wait = self._done[0] + self.WINDOW_SECONDS - now
            self._sleep(wait)

    def release(self) -> None:
        """The response of an acquired request came back (window mode counts it from now)."""
        if self.mode != "window" or not self.interval:
            return
        with self._lock:
            self._in_flight -= 1
            self._done.append(self._clock())
            self._lock.notify()


@dataclass
class Page:
    """One list page: its records and the pagination numbers the envelope gave.

    With a page memo (pagememo.py), `memo` holds the ids and hashes remembered for this page's body or
    data; when it was found from the body alone, `records` stays empty until `load()` parses it."""

    number: int
    records: List[Dict[str, Any]]
    total: Optional[int]
    last_page: Optional[int]
    memo: Optional["MemoEntry"] = None
    unparsed: Optional[Callable[[], List[Dict[str, Any]]]] = None
    body_key: str = ""
    data_key: str = ""

    @property
    def size(self) -> int:
        """Records on the page, parsed or not."""
        return len(self.memo) if self.unparsed is not None else len(self.records)

    def ids(self) -> Iterator[str]:
        """The ids of the page's records, as text (records without one are left out)."""
        if self.unparsed is not None:
            return iter(self.memo.ids)
        return (str(r["id"]) for r in self.records if isinstance(r, dict) and r.get("id") is not None)

    def load(self) -> List[Dict[str, Any]]:
        """The records, parsed now if only the memo had answered for them."""
        if self.unparsed is not None:
            self.records, self.unparsed = self.unparsed(), None
        return self.records


def validate_base_url(base_url: str) -> str:
    """The base URL without a trailing slash; KlinkConfigError if it is not http(s)://host."""
    parsed = urlparse(base_url or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise KlinkConfigError(
            f"malformed base_url {base_url!r}",
            hint="set sources.klink.base_url to e.g. https://apigw.klinkcx.com",
        )
    return base_url.rstrip("/")


class KlinkClient:
    """Sends authenticated GETs to one klink tenant. Thread-safe: the fetch threads share one connection pool."""

    def __init__(
        self,
        base_url: str,
        api_token: str,
        *,
        timeout: float = 60.0,
        max_attempts: int = 5,
        backoff_factor: float = 1.0,
        max_retry_delay: float = 60.0,
        requests_per_minute: Optional[float] = None,
        rate_limit_mode: RateMode = "spaced",
        max_response_bytes: int = 50 * 1024 * 1024,
    ) -> None:
        if not api_token or not str(api_token).strip():
            raise KlinkConfigError(
                "missing API token",
                hint="set sources.klink.api_token in .dlt/secrets.toml or env SOURCES__KLINK__API_TOKEN",
            )
        self.base_url = validate_base_url(base_url)
        self._token = str(api_token).strip()
        self.max_attempts = max(1, max_attempts)
        self.backoff_factor = backoff_factor
        self.max_response_bytes = max_response_bytes
        self.budget = RateBudget(requests_per_minute, mode=rate_limit_mode)
        self.requests_made = 0
        self._count_lock = threading.Lock()
        self._timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self._retry = LoggedRetry(self.max_attempts, backoff_factor, max_retry_delay)
        self._headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json",
                         **urllib3.util.make_headers(accept_encoding=True, user_agent="klink-dlt")}
        self._http = pool_manager(self.base_url, environment_settings(self.base_url))

    def __repr__(self) -> str:
        return f"KlinkClient(base_url={self.base_url!r}, api_token='***')"

    def get_json(self, endpoint: str, path: str, params: Optional[Dict[str, Any]] = None,
                 headers: Optional[Dict[str, str]] = None, where: str = "",
                 decode: Callable[[bytes], Any] = orjson.loads) -> Any:
        """GET `path` and return the body decoded (parsed JSON by default); transient failures are
        retried (a body `decode` finds malformed too), the rest raise KlinkError."""
        url = self.base_url + path
        label = f"{endpoint} {where}".strip()
        last_problem = ""
        for attempt in range(1, self.max_attempts + 1):
            self.budget.acquire()
            try:
                response = self._http.urlopen(
                    "GET", f"{url}?{urlencode(params)}" if params else url,
                    headers={**self._headers, **headers} if headers else self._headers,
                    retries=self._retry, timeout=self._timeout, preload_content=True)
            except (Urllib3Error, OSError) as exc:
                reason = exc.reason if isinstance(exc, MaxRetryError) and exc.reason is not None else exc
                raise KlinkServerError(
                    f"{label}: no answer from {self.base_url} after {self.max_attempts} attempts"
                    f" ({type(reason).__name__})",
                    hint="check sources.klink.base_url and the network",
                ) from None
            finally:
                self.budget.release()
            with self._count_lock:
                self.requests_made += 1
            status = response.status
            if status == 401:
                raise KlinkAuthError(f"{label}: HTTP 401, the API rejected the token")
            if status in (403, 404):
                raise KlinkEndpointUnavailable(f"{label}: HTTP {status} for {path}", status=status)
            if status in RETRY_STATUSES:
                raise KlinkServerError(f"{label}: HTTP {status} after {self.max_attempts} attempts")
            if status >= 400:
                raise KlinkRequestError(f"{label}: HTTP {status}: {_error_message(response)}")
            body = response.data
            if len(body) > self.max_response_bytes:
                raise KlinkResponseTooLarge(
                    f"{label}: body of {len(body)} bytes exceeds the cap of {self.max_response_bytes}",
                    hint="raise sources.klink.max_response_bytes if this is expected",
                )
            try:
                return decode(body)
            except orjson.JSONDecodeError as exc:
                last_problem = f"invalid JSON ({exc.msg} at byte {exc.pos} of {len(body)})"
                logger.warning(f"klink: {label}: {last_problem}; attempt {attempt} of {self.max_attempts}")
                time.sleep(min(self.backoff_factor * (2 ** (attempt - 1)), 30.0))
        raise KlinkMalformedResponse(f"{label}: {last_problem}")

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.clear()


class LoggedRetry(Retry):
    """urllib3's Retry for the API: 429/5xx and connection failures, logged; waits as dlt's retries do.

    The wait before retry n is Retry-After when the server sent a positive one, else
    `backoff_factor * 2**(n-1)`; both capped at `max_retry_delay`. An unreadable Retry-After falls back
    to the backoff.
    """

    RETRY_AFTER_STATUS_CODES = frozenset(RETRY_STATUSES)

    def __init__(self, max_attempts: int = 5, backoff_factor: float = 1.0, max_retry_delay: float = 60.0,
                 **kwargs: Any) -> None:
        kwargs.setdefault("total", max(0, max_attempts - 1))
        kwargs.setdefault("status_forcelist", RETRY_STATUSES)
        kwargs.setdefault("allowed_methods", frozenset({"GET"}))
        kwargs.setdefault("raise_on_status", False)
        kwargs.setdefault("backoff_factor", backoff_factor)
        kwargs.setdefault("backoff_max", max_retry_delay)  # caps Retry-After too (get_retry_after)
        super().__init__(**kwargs)

    def get_backoff_time(self) -> float:
        failed = len(self.history)
        return 0.0 if not failed else float(min(self.backoff_max, self.backoff_factor * 2 ** (failed - 1)))

    def get_retry_after(self, response: Any) -> Optional[float]:
        try:
            seconds = super().get_retry_after(response)
        except (InvalidHeader, ValueError, OverflowError):
            return None
        return None if seconds is None or seconds <= 0 else min(seconds, self.backoff_max)

    def increment(self, method: Optional[str] = None, url: Optional[str] = None, response: Any = None,
                  error: Optional[Exception] = None, _pool: Any = None, _stacktrace: Any = None) -> "LoggedRetry":
        retry = super().increment(method, url, response, error, _pool, _stacktrace)  # raises when spent
        if response is not None and response.status in RETRY_STATUSES:
            logger.warning(f"klink: HTTP {response.status} from {urlparse(url or '').path}; retrying"
                           f" (Retry-After={response.headers.get('Retry-After')!r})")
        elif error is not None:
            logger.warning(f"klink: {type(error).__name__} talking to the API; retrying")
        return retry


def pool_manager(base_url: str, settings: Dict[str, Any]) -> urllib3.PoolManager:
    """Connection pools for `base_url` with the environment's proxy and CA bundle, as requests would use."""
    verify = settings.get("verify", True)
    if verify is False:
        tls: Dict[str, Any] = {"cert_reqs": "CERT_NONE"}
    elif isinstance(verify, str) and os.path.isdir(verify):
        tls = {"cert_reqs": "CERT_REQUIRED", "ca_cert_dir": verify}
    else:
        tls = {"cert_reqs": "CERT_REQUIRED",
               "ca_certs": verify if isinstance(verify, str) else requests.utils.DEFAULT_CA_BUNDLE_PATH}
    proxy = requests.utils.select_proxy(base_url, settings.get("proxies") or {})
    if not proxy:
        return urllib3.PoolManager(maxsize=POOL_SIZE, **tls)
    if proxy.lower().startswith("socks"):
        try:
            from urllib3.contrib.socks import SOCKSProxyManager
        except ImportError:
            raise KlinkConfigError("a SOCKS proxy is configured but PySocks is not installed",
                                   hint="pip install pysocks, or unset the proxy for the API host") from None
        return SOCKSProxyManager(proxy, maxsize=POOL_SIZE, **tls)
    headers = requests.adapters.HTTPAdapter().proxy_headers(proxy)  # Proxy-Authorization from user:pass@
    return urllib3.ProxyManager(proxy, proxy_headers=headers, maxsize=POOL_SIZE, **tls)


def environment_settings(base_url: str) -> Dict[str, Any]:
    """The environment's proxy and CA-bundle settings for `base_url`, read once (as requests Session
    attributes; `pool_manager` builds the connection pools from them).

    requests otherwise re-reads them from os.environ on every request (`trust_env`): 0.7 ms a page,
    1.5 s of a 2,100-page re-run (cProfile of `python -m benchmarks.profile --rerun`)."""
    with requests.Session() as session:
        found = session.merge_environment_settings(base_url, {}, None, None, None)
    return {"trust_env": False, "proxies": found.get("proxies") or {}, "verify": found.get("verify", True)}


def _error_message(response: Any) -> str:
    try:
        body = orjson.loads(response.data)
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])[:200]
    except orjson.JSONDecodeError:
        pass
    return response.data[:200].decode("utf-8", "replace")


def parse_page(body: Any, envelope: str, number: int, page_size: int, label: str) -> Page:
    """Read one page from any documented envelope (`paged`, `cx_logs`, `data`)."""
    container = body.get("cxLogs") if envelope == "cx_logs" and isinstance(body, dict) else body
    if not isinstance(container, dict) or not isinstance(container.get("data"), list):
        raise KlinkMalformedResponse(f"{label}: response lacks the documented `data` list")
    total = container.get("total")
    last_page = container.get("lastPage")
    total = total if isinstance(total, int) else None
    last_page = last_page if isinstance(last_page, int) else None
    if last_page is None and total is not None:
        size = container.get("pageSize") if isinstance(container.get("pageSize"), int) else page_size
        last_page = max(1, -(-total // max(size, 1)))
    return Page(number=number, records=container["data"], total=total, last_page=last_page)


def json_dumps(value: Any) -> str:
    """Compact JSON text for quarantined records."""
    return orjson.dumps(value, default=str).decode()

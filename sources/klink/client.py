"""HTTP access to the klink API: auth, retries (dlt's), a rate budget, JSON envelopes, clear errors."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, List, Literal, Optional
from urllib.parse import urlparse

import orjson
import requests
from dlt.common import logger
from dlt.sources.helpers.requests import Client

from .exceptions import (
    KlinkAuthError,
    KlinkConfigError,
    KlinkEndpointUnavailable,
    KlinkMalformedResponse,
    KlinkRequestError,
    KlinkResponseTooLarge,
    KlinkServerError,
)

RETRY_STATUSES = (429, 500, 502, 503, 504)
RETRY_EXCEPTIONS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


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
    """One list page: its records and the pagination numbers the envelope gave."""

    number: int
    records: List[Dict[str, Any]]
    total: Optional[int]
    last_page: Optional[int]


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
    """Sends authenticated GETs to one klink tenant. Thread-safe: each thread gets its own session."""

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
        self._http = Client(
            request_timeout=timeout,
            raise_for_status=False,
            # one predicate decides *and* logs: dlt's own status/exception rules would short-circuit it
            status_codes=(),
            exceptions=(),
            request_max_attempts=self.max_attempts,
            request_backoff_factor=backoff_factor,
            request_max_retry_delay=max_retry_delay,
            respect_retry_after_header=True,
            retry_condition=self._log_retry,
            session_attrs={"headers": {"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
                           **environment_settings(self.base_url)},
        )

    def __repr__(self) -> str:
        return f"KlinkClient(base_url={self.base_url!r}, api_token='***')"

    def _log_retry(self, response: Optional[requests.Response], exc: Optional[BaseException]) -> bool:
        """Retry 429/5xx and connection failures (dlt waits, honouring Retry-After); log each one."""
        if response is not None and response.status_code in RETRY_STATUSES:
            logger.warning(
                f"klink: HTTP {response.status_code} from {urlparse(response.url).path}; retrying"
                f" (Retry-After={response.headers.get('Retry-After')!r})"
            )
            return True
        if isinstance(exc, RETRY_EXCEPTIONS):
            logger.warning(f"klink: {type(exc).__name__} talking to the API; retrying")
            return True
        return False

    def get_json(self, endpoint: str, path: str, params: Optional[Dict[str, Any]] = None,
                 headers: Optional[Dict[str, str]] = None, where: str = "") -> Any:
        """GET `path` and return parsed JSON; transient failures are retried, the rest raise KlinkError."""
        url = self.base_url + path
        label = f"{endpoint} {where}".strip()
        last_problem = ""
        for attempt in range(1, self.max_attempts + 1):
            self.budget.acquire()
            try:
                response = self._http.session.get(url, params=params, headers=headers)
            except requests.RequestException as exc:
                raise KlinkServerError(
                    f"{label}: no answer from {self.base_url} after {self.max_attempts} attempts"
                    f" ({type(exc).__name__})",
                    hint="check sources.klink.base_url and the network",
                ) from None
            finally:
                self.budget.release()
            with self._count_lock:
                self.requests_made += 1
            status = response.status_code
            if status == 401:
                raise KlinkAuthError(f"{label}: HTTP 401, the API rejected the token")
            if status in (403, 404):
                raise KlinkEndpointUnavailable(f"{label}: HTTP {status} for {path}", status=status)
            if status in RETRY_STATUSES:
                raise KlinkServerError(f"{label}: HTTP {status} after {self.max_attempts} attempts")
            if status >= 400:
                raise KlinkRequestError(f"{label}: HTTP {status}: {_error_message(response)}")
            body = response.content
            if len(body) > self.max_response_bytes:
                raise KlinkResponseTooLarge(
                    f"{label}: body of {len(body)} bytes exceeds the cap of {self.max_response_bytes}",
                    hint="raise sources.klink.max_response_bytes if this is expected",
                )
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                last_problem = f"invalid JSON ({exc.msg} at byte {exc.pos} of {len(body)})"
                logger.warning(f"klink: {label}: {last_problem}; attempt {attempt} of {self.max_attempts}")
                time.sleep(min(self.backoff_factor * (2 ** (attempt - 1)), 30.0))
        raise KlinkMalformedResponse(f"{label}: {last_problem}")

    def close(self) -> None:
        """Close this thread's session."""
        self._http.session.close()


def environment_settings(base_url: str) -> Dict[str, Any]:
    """Session attributes that apply the environment's proxy and CA-bundle settings for `base_url` once.

    requests otherwise re-reads them from os.environ on every request (`trust_env`): 0.7 ms a page,
    1.5 s of a 2,100-page re-run (cProfile of `python -m benchmarks.profile --rerun`)."""
    with requests.Session() as session:
        found = session.merge_environment_settings(base_url, {}, None, None, None)
    return {"trust_env": False, "proxies": found.get("proxies") or {}, "verify": found.get("verify", True)}


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])[:200]
    except ValueError:
        pass
    return response.text[:200]


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

"""dlt source for the klink.cloud (K-LINK) public API.

    pipeline.run(klink_source())                      # everything, incremental
    pipeline.run(klink_source(resources=["contacts"]))
"""

from __future__ import annotations

import datetime as dt
from typing import Dict, List, Literal, Optional, Sequence

import dlt
from dlt.sources import DltResource

from .client import KlinkClient, sanitize
from .exceptions import (
    KlinkAuthError,
    KlinkConfigError,
    KlinkEndpointUnavailable,
    KlinkError,
    KlinkMalformedResponse,
    KlinkRequestError,
    KlinkResponseError,
    KlinkResponseTooLarge,
    KlinkServerError,
)
from .resources import SourceContext, make_resource
from .settings import ALL_RESOURCES, DEFAULT_BASE_URL, DEFAULT_PAGE_SIZE, DEFAULT_TIMEZONE, MAX_PAGE_SIZE
from .windows import parse_date, zone

__all__ = [
    "klink_source", "ALL_RESOURCES", "KlinkError", "KlinkConfigError", "KlinkAuthError",
    "KlinkEndpointUnavailable", "KlinkRequestError", "KlinkResponseError", "KlinkServerError",
    "KlinkMalformedResponse", "KlinkResponseTooLarge", "sanitize", "select_resources",
]


def select_resources(resources: Optional[Sequence[str] | str]) -> List[str]:
    """The resource names to load, validated; all of them when `resources` is empty."""
    if not resources:
        return list(ALL_RESOURCES)
    names = [r.strip() for r in (resources.split(",") if isinstance(resources, str) else resources) if r.strip()]
    unknown = [r for r in names if r not in ALL_RESOURCES]
    if unknown:
        raise KlinkConfigError(
            f"unknown resource(s) {', '.join(unknown)}", hint=f"choose from {', '.join(ALL_RESOURCES)}"
        )
    return names


@dlt.source(name="klink", max_table_nesting=2)
def klink_source(
    api_token: str = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    page_size: int = DEFAULT_PAGE_SIZE,
    resources: Optional[List[str]] = None,
    start_date: Optional[str] = None,
    end_date: Optional[str] = None,
    timezone: str = DEFAULT_TIMEZONE,
    cx_logs_lookback_days: float = 3,
    cx_logs_window_days: float = 7,
    paths: Optional[Dict[str, str]] = None,
    max_workers: int = 4,
    max_rescans: int = 2,
    requests_per_minute: Optional[float] = None,
    rate_limit_mode: Literal["spaced", "window"] = "spaced",
    delete_mode: Literal["soft", "hard"] = "soft",
    change_detection: bool = True,
    request_timeout: float = 60.0,
    max_attempts: int = 5,
    retry_backoff_factor: float = 1.0,
    max_response_bytes: int = 50 * 1024 * 1024,
    batch_rows: int = 5000,
    offload_min_rows: int = 20000,
    direct_merge: bool = False,
    page_memo: bool = True,
) -> List[DltResource]:
    """Resources for every documented klink list; see .dlt/config.toml for what each setting does."""
    names = select_resources(resources)
    if not 1 <= int(page_size) <= MAX_PAGE_SIZE:
        raise KlinkConfigError(f"page_size {page_size} out of range", hint=f"set sources.klink.page_size to 1..{MAX_PAGE_SIZE}")
    if delete_mode not in ("soft", "hard"):
        raise KlinkConfigError(f"delete_mode {delete_mode!r} unknown", hint="set sources.klink.delete_mode to soft or hard")
    tz = zone(timezone)
    start = parse_date(start_date, "sources.klink.start_date", tz)
    end = parse_date(end_date, "sources.klink.end_date", tz)
    if start and end and end < start:
        raise KlinkConfigError(f"end_date {end_date} is before start_date {start_date}")
    client = KlinkClient(
        base_url, api_token, timeout=request_timeout, max_attempts=max_attempts,
        backoff_factor=retry_backoff_factor, requests_per_minute=requests_per_minute,
        rate_limit_mode=rate_limit_mode, max_response_bytes=max_response_bytes,
    )
    ctx = SourceContext(
        client=client, page_size=int(page_size), workers=max(1, int(max_workers)), max_rescans=max(0, int(max_rescans)),
        paths=dict(paths or {}), change_detection=bool(change_detection), delete_mode=delete_mode,
        timezone=timezone, tz=tz, start_date=start, end_date=end,
        lookback=dt.timedelta(days=float(cx_logs_lookback_days)), window=dt.timedelta(days=float(cx_logs_window_days)),
        batch_rows=max(1, int(batch_rows)), offload_min_rows=max(0, int(offload_min_rows)),
        direct_merge=bool(direct_merge), page_memo=bool(page_memo),
    )
    return [make_resource(ctx, name) for name in names]

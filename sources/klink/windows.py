"""`selectedDate` windows for CX logs: chunked backfill, then incremental with a lookback."""

from __future__ import annotations

import datetime as dt
from typing import Iterator, Optional, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pendulum

from .exceptions import KlinkConfigError

SELECTED_DATE_FORMAT = "%Y/%m/%d %H:%M:%S"
DEFAULT_BACKFILL_DAYS = 30


def parse_date(value: object, setting: str, tz: dt.tzinfo = dt.timezone.utc) -> Optional[dt.datetime]:
    """A config date/datetime as an aware datetime; KlinkConfigError naming `setting` if unparseable."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=tz)
    try:
        parsed = pendulum.parse(str(value), tz=tz)
    except Exception:
        raise KlinkConfigError(
            f"unparseable date {value!r} for {setting}", hint="use ISO 8601, e.g. 2026-01-31 or 2026-01-31T12:00:00Z"
        ) from None
    if isinstance(parsed, dt.datetime):
        return parsed
    raise KlinkConfigError(f"{setting} must be a date or datetime, got {value!r}")


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; KlinkConfigError if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise KlinkConfigError(
            f"unknown timezone {name!r}", hint="set sources.klink.timezone to an IANA name, e.g. Asia/Singapore"
        ) from None


def selected_date(start: dt.datetime, end: dt.datetime, tz: dt.tzinfo) -> str:
    """The documented `selectedDate` value: `YYYY/MM/DD HH:mm:ss-YYYY/MM/DD HH:mm:ss` in `tz`."""
    return f"{start.astimezone(tz).strftime(SELECTED_DATE_FORMAT)}-{end.astimezone(tz).strftime(SELECTED_DATE_FORMAT)}"


def plan_windows(
    start: dt.datetime, end: dt.datetime, window: dt.timedelta
) -> Iterator[Tuple[dt.datetime, dt.datetime]]:
    """Consecutive windows covering [start, end]; each shares its end second with the next one's start.

    The filter is inclusive at both ends to the second, so an edge record is read twice and merged
    once (by id) instead of falling between two windows.
    """
    cursor = start.replace(microsecond=0)
    end = end.replace(microsecond=0)
    while cursor < end:
        upper = min(cursor + window, end)
        yield cursor, upper
        cursor = upper


def incremental_start(
    last_end: Optional[dt.datetime], start_date: Optional[dt.datetime], lookback: dt.timedelta,
    now: dt.datetime,
) -> dt.datetime:
    """Where this run's windows begin: the last window end minus the lookback, else the backfill start."""
    if last_end is not None:
        begin = last_end - lookback
        return max(begin, start_date) if start_date else begin
    return start_date or (now - dt.timedelta(days=DEFAULT_BACKFILL_DAYS))

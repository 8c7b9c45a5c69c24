"""cx-log windows: exact edges, lookback, timezone formatting, config errors."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from sources.klink.exceptions import KlinkConfigError
from sources.klink.windows import incremental_start, parse_date, plan_windows, selected_date, zone

UTC = dt.timezone.utc


def test_windows_share_their_edge_second_and_cover_the_range():
    start = dt.datetime(2026, 3, 1, tzinfo=UTC)
    end = dt.datetime(2026, 3, 15, 12, tzinfo=UTC)
    windows = list(plan_windows(start, end, dt.timedelta(days=7)))
    assert windows == [
        (dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 3, 8, tzinfo=UTC)),
        (dt.datetime(2026, 3, 8, tzinfo=UTC), dt.datetime(2026, 3, 15, tzinfo=UTC)),
        (dt.datetime(2026, 3, 15, tzinfo=UTC), dt.datetime(2026, 3, 15, 12, tzinfo=UTC)),
    ]


def test_selected_date_is_the_documented_format_in_the_client_timezone():
    start = dt.datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    end = dt.datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    assert selected_date(start, end, ZoneInfo("Asia/Bangkok")) == "2026/03/01 07:00:00-2026/03/02 07:00:00"
    assert selected_date(start, end, UTC) == "2026/03/01 00:00:00-2026/03/02 00:00:00"


def test_incremental_start_uses_lookback_but_never_before_start_date():
    now = dt.datetime(2026, 3, 30, tzinfo=UTC)
    last = dt.datetime(2026, 3, 29, tzinfo=UTC)
    assert incremental_start(last, None, dt.timedelta(days=3), now) == dt.datetime(2026, 3, 26, tzinfo=UTC)
    floor = dt.datetime(2026, 3, 28, tzinfo=UTC)
    assert incremental_start(last, floor, dt.timedelta(days=3), now) == floor
    assert incremental_start(None, None, dt.timedelta(days=3), now) == dt.datetime(2026, 2, 28, tzinfo=UTC)


def test_bad_dates_and_zones_name_the_setting():
    with pytest.raises(KlinkConfigError, match="sources.klink.start_date"):
        parse_date("yesterday-ish", "sources.klink.start_date")
    with pytest.raises(KlinkConfigError, match="Mars/Olympus"):
        zone("Mars/Olympus")
    assert parse_date("2026-03-01", "x") == dt.datetime(2026, 3, 1, tzinfo=UTC)

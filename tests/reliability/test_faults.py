"""Transient faults: 5xx/429 storms, Retry-After in both forms, and the proactive rate budget."""

from __future__ import annotations

import threading
import time

import pytest

from sandbox.faults import Fault
from sources.klink.client import KlinkClient, RateBudget
from sources.klink.exceptions import KlinkConfigError
from tests.source.helpers import api_list, scalar, sync


def test_5xx_storm_plus_429_every_7th_completes_exactly(sandbox_factory, tmp_path, dlt_logs):
    sb = sandbox_factory(contacts=260, tickets=90, cx_logs=80, faults=[
        Fault(endpoint="*", kind="5xx", rate=0.2, status=503),
        Fault(endpoint="*", kind="429", every=7, retry_after=0),
    ])
    result = sync(sb, tmp_path, page_size=20, max_attempts=8)
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts") == 260
    assert scalar(tmp_path, "SELECT COUNT(DISTINCT id) FROM contacts") == 260
    assert scalar(tmp_path, "SELECT COUNT(*) FROM tickets") == 90
    assert scalar(tmp_path, "SELECT COUNT(*) FROM cx_logs") == 80
    sb.clear_faults()  # read the truth without faults
    contacts = api_list(sb, "contacts")
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts__tags") == sum(len(c["tags"]) for c in contacts)
    retries = [r for r in dlt_logs.records if "retrying" in r.getMessage()]
    assert any("HTTP 503" in r.getMessage() for r in retries)
    assert any("HTTP 429" in r.getMessage() for r in retries)
    assert all(r["complete"] for r in result.resources if r["resource"] != "cx_logs")


def test_retry_after_is_honoured_in_seconds_and_http_date_form(sandbox_factory):
    sb = sandbox_factory(contacts=5, faults=[
        Fault(endpoint="tags.list", kind="429", count=1, retry_after=1),
        Fault(endpoint="channels.list", kind="429", count=1, retry_after_http_date=True, retry_after=2),
        Fault(endpoint="contact_groups.list", kind="429", count=1, retry_after=0),
        Fault(endpoint="agent_activities.list", kind="429", count=1, retry_after=-5),
    ])
    client = KlinkClient(sb.base_url, sb.token, backoff_factor=0, max_attempts=3)
    for path, minimum in (("/api/v1/tags", 0.9), ("/api/v1/channels", 0.5)):
        started = time.monotonic()
        body = client.get_json("x", path, params={"page": 1})
        waited = time.monotonic() - started
        assert body["data"], path
        assert waited >= minimum, f"{path}: Retry-After ignored (waited {waited:.2f}s)"
    # 0 and negative Retry-After fall back to the (here zero) backoff and still succeed
    assert client.get_json("x", "/api/v1/contact-groups", params={"page": 1})["data"] is not None
    assert client.get_json("x", "/api/v1/user-presence-status-log", params={"page": 1})["data"] is not None
    counters = sb.counters()
    assert [counters[e] for e in ("tags.list", "channels.list", "contact_groups.list", "agent_activities.list")] == [2] * 4


def test_rate_budget_spaces_requests_across_threads():
    fake_now = [0.0]
    lock = threading.Lock()

    def clock():
        with lock:
            return fake_now[0]

    budget = RateBudget(600, clock=clock, sleep=lambda seconds: None)  # time advances to each granted slot
    slots = []

    def worker():
        for _ in range(25):
            slot = budget.acquire()
            with lock:
                slots.append(slot)
                fake_now[0] = max(fake_now[0], slot)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slots.sort()
    assert len(slots) == 100
    gaps = [b - a for a, b in zip(slots, slots[1:], strict=False)]
    assert min(gaps) >= 0.1 - 1e-9  # 600/minute = one slot every 100 ms, whatever the thread
    window = [s for s in slots if s < slots[0] + 60]
    assert len(window) <= 600


class _FakeTime:
    """A clock that only moves when the budget sleeps, recording each wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def test_window_budget_bursts_then_waits_for_the_oldest_response_to_age_out():
    t = _FakeTime()
    budget = RateBudget(3, clock=t.clock, sleep=t.sleep, mode="window")
    assert [budget.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]  # a burst: no waiting
    assert t.waits == []
    for answered_at in (1.0, 2.0, 2.5):
        t.now = answered_at
        budget.release()
    assert budget.acquire() == 61.0  # 60 s after the first *response*, not the first request
    assert t.waits == [58.5]
    t.now = 61.5
    budget.release()
    assert budget.acquire() == 62.0  # the next oldest (answered at 2.0) ages out
    assert budget.acquire() == 62.5


def test_window_budget_counts_requests_in_flight():
    t = _FakeTime()
    budget = RateBudget(2, clock=t.clock, sleep=t.sleep, mode="window")
    budget.acquire()
    budget.acquire()
    events: list[str] = []
    waiter = threading.Thread(target=lambda: (budget.acquire(), events.append("acquired")))
    waiter.start()
    events.append("released")
    budget.release()  # only an answer frees a slot: nothing has aged out, nothing was answered before
    waiter.join(timeout=10)
    assert events == ["released", "acquired"]
    assert t.waits == [60.0]  # then it waited for that answer to leave the window


def test_unknown_rate_limit_mode_is_a_config_error():
    with pytest.raises(KlinkConfigError, match="rate_limit_mode"):
        RateBudget(10, mode="burst")  # type: ignore[arg-type]


def test_window_budget_never_provokes_the_sandbox_limit(sandbox_factory):
    sb = sandbox_factory(contacts=5, rate_limit_per_minute=12)
    client = KlinkClient(sb.base_url, sb.token, max_attempts=1, requests_per_minute=12, rate_limit_mode="window")
    waits: list[float] = []

    def refuse_to_wait(seconds: float) -> None:
        waits.append(seconds)
        raise TimeoutError("the budget asked to wait")

    client.budget._sleep = refuse_to_wait
    threads = [threading.Thread(target=lambda: [client.get_json("x", "/api/v1/tags", params={"page": 1})
                                                for _ in range(3)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sb.counters()["tags.list"] == 12  # the whole minute's allowance at once, and no 429
    assert client.requests_made == 12
    with pytest.raises(TimeoutError):
        client.get_json("x", "/api/v1/tags", params={"page": 1})
    assert len(waits) == 1 and 59 < waits[0] <= 60  # the 13th waits for the window, not for a 429
    assert sb.counters()["tags.list"] == 12

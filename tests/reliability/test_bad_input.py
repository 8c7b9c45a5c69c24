"""Bad input from the API, one test each: retried, quarantined, or stopped with a clear error.

Every stop is checked for "nothing lost, nothing half-written": the rows of an earlier good sync are
still there and the next clean sync is exact.
"""

from __future__ import annotations

import json
from typing import Optional, Type

import pytest

from sandbox.faults import Fault
from sources.klink import (
    KlinkAuthError,
    KlinkError,
    KlinkMalformedResponse,
    KlinkResponseTooLarge,
)
from tests.source.helpers import query, scalar, sync

CONTACTS = 60  # 6 pages of 10


def klink_cause(exc: BaseException) -> Optional[KlinkError]:
    """The KlinkError somewhere in an exception's cause/context chain."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KlinkError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def expect_stop(sb, tmp_path, error: Type[KlinkError], *fragments: str) -> KlinkError:
    with pytest.raises(Exception) as info:
        sync(sb, tmp_path, page_size=10, resources=["contacts"], max_attempts=2)
    cause = klink_cause(info.value)
    assert isinstance(cause, error), info.value
    for fragment in fragments:
        assert fragment in str(cause)
    return cause


def assert_recovers_exactly(sb, tmp_path):
    sb.clear_faults()
    result = sync(sb, tmp_path, page_size=10, resources=["contacts"])
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts") == CONTACTS
    assert scalar(tmp_path, "SELECT COUNT(DISTINCT id) FROM contacts") == CONTACTS
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts WHERE _klink_deleted_at IS NOT NULL") == 0
    return result


@pytest.fixture
def synced(sandbox_factory, tmp_path):
    """A sandbox whose contacts were synced once cleanly."""
    sb = sandbox_factory(contacts=CONTACTS, tickets=5, cx_logs=5)
    sync(sb, tmp_path, page_size=10, resources=["contacts"])
    return sb


@pytest.mark.parametrize("kind", ["malformed", "truncated"])
def test_persistently_broken_json_stops_naming_endpoint_and_page(synced, tmp_path, kind):
    synced.mutate("contacts", update=5)
    synced.set_faults([Fault(endpoint="contacts.list", kind=kind, pages=[3])])
    expect_stop(synced, tmp_path, KlinkMalformedResponse, "contacts page 3", "invalid JSON")
    # nothing half-written: the failed run's package was never loaded
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts") == CONTACTS
    result = assert_recovers_exactly(synced, tmp_path)
    assert {r["resource"]: r["changed"] for r in result.resources}["contacts"] == 5


@pytest.mark.parametrize("kind", ["malformed", "truncated", "drop"])
def test_a_one_off_broken_response_is_retried(synced, tmp_path, kind):
    synced.set_faults([Fault(endpoint="contacts.list", kind=kind, pages=[2], count=1)])
    result = sync(synced, tmp_path, page_size=10, resources=["contacts"], max_attempts=3)
    assert {r["resource"]: r["complete"] for r in result.resources}["contacts"]
    assert synced.counters()["contacts.list"] == 2 * 6 + 1  # two syncs of 6 pages, one retry


def test_a_record_without_id_is_quarantined_and_blocks_deletions(synced, tmp_path):
    synced.mutate("contacts", delete=2)
    synced.set_faults([Fault(endpoint="contacts.list", kind="missing_id", pages=[4])])
    result = sync(synced, tmp_path, page_size=10, resources=["contacts"])
    run = {r["resource"]: r for r in result.resources}["contacts"]
    assert run["rejected"] >= 1 and not run["complete"] and run["deleted"] == 0
    rejected = query(tmp_path, "SELECT resource, endpoint, page, reason, record FROM _klink_rejected")
    assert rejected[0][:4] == ("contacts", "/api/v1/contacts", 4, "record without a usable id")
    assert "id" not in json.loads(rejected[0][4])
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts WHERE _klink_deleted_at IS NOT NULL") == 0
    synced.clear_faults()
    sync(synced, tmp_path, page_size=10, resources=["contacts"])
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts WHERE _klink_deleted_at IS NOT NULL") == 2


def test_a_number_sent_as_string_keeps_its_column_type(sandbox_factory, tmp_path):
    sb = sandbox_factory(contacts=5, tickets=30, cx_logs=5)
    sync(sb, tmp_path, page_size=10, resources=["tickets"])
    numbers = dict(query(tmp_path, "SELECT id, ticket_number FROM tickets"))
    sb.set_faults([Fault(endpoint="tickets.list", kind="type_change", field="ticketNumber")])
    sb.mutate("tickets", update=30)  # every row changes, so every row is rewritten with string numbers
    sync(sb, tmp_path, page_size=10, resources=["tickets"])
    types = dict(query(tmp_path, "SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_name = 'tickets' AND column_name LIKE 'ticket_number%'"))
    assert types == {"ticket_number": "BIGINT"}
    assert dict(query(tmp_path, "SELECT id, ticket_number FROM tickets")) == numbers


@pytest.mark.parametrize("fault", [
    Fault(endpoint="contacts.list", kind="empty_page", pages=[3], count=1),
    Fault(endpoint="contacts.list", kind="total_change", delta=-7, pages=[4], count=1),
    Fault(endpoint="contacts.list", kind="total_change", delta=12, pages=[2], count=1),
    Fault(endpoint="contacts.list", kind="repeat", n=4, pages=[3], count=1),
    Fault(endpoint="contacts.list", kind="skip", n=4, pages=[3], count=1),
], ids=["empty-page", "total-shrinks", "total-grows-past-lastPage", "duplicated-ids", "skipped-rows"])
def test_page_shifts_are_reread_until_consistent(synced, tmp_path, fault):
    synced.mutate("contacts", delete=3)
    synced.set_faults([fault])
    result = sync(synced, tmp_path, page_size=10, resources=["contacts"])
    run = {r["resource"]: r for r in result.resources}["contacts"]
    assert run["complete"] and run["passes"] == 2
    assert run["deleted"] == 3  # a consistent second pass may mark deletions; the first alone never does
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts") == CONTACTS
    assert scalar(tmp_path, "SELECT COUNT(DISTINCT id) FROM contacts") == CONTACTS


def test_a_list_that_never_settles_loads_rows_but_marks_no_deletions(synced, tmp_path):
    synced.mutate("contacts", delete=3, create=2)
    synced.set_faults([Fault(endpoint="contacts.list", kind="empty_page", pages=[2])])
    result = sync(synced, tmp_path, page_size=10, resources=["contacts"])
    run = {r["resource"]: r for r in result.resources}["contacts"]
    assert not run["complete"] and run["deleted"] == 0 and "empty" in run["problems"]
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts WHERE _klink_deleted_at IS NOT NULL") == 0


def test_wrong_token_stops_with_401_and_the_setting(synced, tmp_path):
    synced.set_faults([])
    with pytest.raises(Exception) as info:
        from pipelines.klink_pipeline import make_pipeline, run_sync

        run_sync(make_pipeline(duckdb_path=str(tmp_path / "k.duckdb"), pipelines_dir=str(tmp_path / "k_pipelines"),
                               pipeline_name="klink_k"),
                 api_token="kpt_wrong_token_value", base_url=synced.base_url, resources=["contacts"])
    cause = klink_cause(info.value)
    assert isinstance(cause, KlinkAuthError)
    assert "401" in str(cause) and "sources.klink.api_token" in str(cause)
    assert "kpt_wrong_token_value" not in str(info.value)
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts") == CONTACTS


@pytest.mark.parametrize("status", ["403", "404"])
def test_an_endpoint_the_plan_lacks_is_skipped_with_one_warning(sandbox_factory, tmp_path, dlt_logs, status):
    sb = sandbox_factory(contacts=15, tickets=5, cx_logs=5, faults=[Fault(endpoint="contact_groups.list", kind=status)])
    result = sync(sb, tmp_path, page_size=10, resources=["contacts", "contact_groups", "tags"])
    warnings = [r.getMessage() for r in dlt_logs.records if "skipping resource" in r.getMessage()]
    assert len(warnings) == 1 and "contact_groups" in warnings[0] and f"HTTP {status}" in warnings[0]
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts") == 15
    assert "contact_groups" not in {r["resource"] for r in result.resources}


def test_a_body_over_the_size_cap_stops_naming_endpoint_and_page(synced, tmp_path):
    synced.set_faults([Fault(endpoint="contacts.list", kind="oversize", pages=[2], size=300_000)])
    with pytest.raises(Exception) as info:
        sync(synced, tmp_path, page_size=10, resources=["contacts"], max_response_bytes=100_000)
    cause = klink_cause(info.value)
    assert isinstance(cause, KlinkResponseTooLarge) and "contacts page 2" in str(cause)
    assert "max_response_bytes" in str(cause)
    assert_recovers_exactly(synced, tmp_path)

"""The klink source end to end: sandbox over HTTP -> dlt -> a real DuckDB file."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.source.helpers import api_list, query, scalar, sync

SIMPLE = ["tags", "channels", "contact_fields", "ticket_fields", "contact_groups", "agent_activities"]


def email_key(contact):
    return "email" if "email" in contact else "contactEmails"


@pytest.mark.parametrize(
    "sizes,page_size,shape,timestamps",
    [
        ((35, 23, 17), 10, "seed", True),
        ((150, 101, 60), 100, "webhook", True),
        ((64, 10, 10), 7, "seed", False),
    ],
)
def test_exact_row_counts_for_every_table(sandbox_factory, tmp_path, sizes, page_size, shape, timestamps):
    contacts, tickets, cx_logs = sizes
    sb = sandbox_factory(contacts=contacts, tickets=tickets, cx_logs=cx_logs, shape=shape, timestamps=timestamps)
    result = sync(sb, tmp_path, page_size=page_size)

    api_contacts = api_list(sb, "contacts")
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts") == contacts == len(api_contacts)
    assert scalar(tmp_path, "SELECT COUNT(*) FROM tickets") == tickets
    assert scalar(tmp_path, "SELECT COUNT(*) FROM cx_logs") == cx_logs
    key = email_key(api_contacts[0])
    phone_key = "phone" if key == "email" else "contactPhones"
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts__emails") == sum(len(c[key]) for c in api_contacts)
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts__phones") == sum(len(c[phone_key]) for c in api_contacts)
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts__tags") == sum(len(c["tags"]) for c in api_contacts)
    for resource in SIMPLE:
        assert scalar(tmp_path, f"SELECT COUNT(*) FROM {resource}") == len(api_list(sb, resource)), resource
    # every child row joins back to its parent by the id column we add
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts__emails e LEFT JOIN contacts c ON c.id = e.contact_id "
                            "WHERE c.id IS NULL") == 0
    has_ts = {r[0] for r in query(tmp_path, "SELECT column_name FROM information_schema.columns "
                                            "WHERE table_name = 'contacts'")}
    assert "created_at" in has_ts  # typed from the docs even when the API sends no timestamps
    runs = {r["resource"]: r for r in result.resources}
    assert runs["contacts"]["new"] == contacts and runs["contacts"]["complete"]


def test_rerun_without_changes_writes_nothing(sandbox_factory, tmp_path):
    sb = sandbox_factory(contacts=40, tickets=30, cx_logs=30)
    sync(sb, tmp_path, page_size=10)
    second = sync(sb, tmp_path, page_size=10)
    data_rows = {t: n for t, n in second.rows_written.items() if not t.startswith("_klink")}
    assert data_rows == {}
    assert all(r["new"] == 0 and r["changed"] == 0 and r["deleted"] == 0 for r in second.resources)


def test_update_create_delete_land_exactly(sandbox_factory, tmp_path):
    sb = sandbox_factory(contacts=120, tickets=20, cx_logs=10)
    sync(sb, tmp_path, page_size=25)
    before = dict(query(tmp_path, "SELECT id, _klink_hash FROM contacts"))
    changes = sb.mutate("contacts", update=50, create=20, delete=10)
    result = sync(sb, tmp_path, page_size=25)

    runs = {r["resource"]: r for r in result.resources}
    assert (runs["contacts"]["new"], runs["contacts"]["changed"], runs["contacts"]["deleted"]) == (20, 50, 10)
    assert result.rows_written["contacts"] == 70
    assert result.soft_deleted == {"contacts": 10}
    deleted = {r[0] for r in query(tmp_path, "SELECT id FROM contacts WHERE _klink_deleted_at IS NOT NULL")}
    assert deleted == set(changes["deleted"])
    after = dict(query(tmp_path, "SELECT id, _klink_hash FROM contacts"))
    assert {i for i in after if i in before and after[i] != before[i]} == set(changes["updated"])
    assert set(after) - set(before) == set(changes["created"])
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts") == 140  # deleted rows stay, marked
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts WHERE _klink_deleted_at IS NULL") == 130
    # a third run changes nothing and does not re-mark
    third = sync(sb, tmp_path, page_size=25)
    assert third.soft_deleted == {}
    assert {t for t in third.rows_written if not t.startswith("_klink")} == set()


def test_custom_field_rename_keeps_its_column(sandbox_factory, tmp_path):
    sb = sandbox_factory(contacts=30, tickets=5, cx_logs=5)
    sync(sb, tmp_path)
    fields = api_list(sb, "contact_fields")
    custom = next(f for f in fields if not f.get("is_default"))
    column = f"custom__{custom['system_name']}"
    cols_before = {r[0] for r in query(tmp_path, "SELECT column_name FROM information_schema.columns "
                                                 "WHERE table_name = 'contacts'")}
    assert column in cols_before
    sb.rename_custom_field(custom["system_name"], "A brand new display name")
    sync(sb, tmp_path)
    cols_after = {r[0] for r in query(tmp_path, "SELECT column_name FROM information_schema.columns "
                                                "WHERE table_name = 'contacts'")}
    assert cols_after == cols_before
    assert scalar(tmp_path, "SELECT display_name FROM contact_fields WHERE system_name = ?".replace(
        "?", f"'{custom['system_name']}'")) == "A brand new display name"


def test_cx_logs_on_window_edges_load_once(sandbox_factory, tmp_path):
    sb = sandbox_factory(contacts=10, tickets=5, cx_logs=200)
    logs = api_list(sb, "/api/v1/cx-logs", params={"selectedDate": "2000/01/01 00:00:00-2100/01/01 00:00:00"},
                    headers={"x-client-timezone": "UTC"})
    on_edge = [x for x in logs if x["startedDate"][11:19] == "00:00:00"]
    assert on_edge, "the sandbox seeds logs exactly on midnight edges"
    result = sync(sb, tmp_path, resources=["cx_logs"], cx_logs_window_days=1)
    assert scalar(tmp_path, "SELECT COUNT(*) FROM cx_logs") == len(logs) == 200
    assert scalar(tmp_path, "SELECT COUNT(DISTINCT id) FROM cx_logs") == 200
    assert result.rows_written["cx_logs"] == 200
    # incremental: the lookback re-reads the last 3 days but writes nothing unchanged
    again = sync(sb, tmp_path, resources=["cx_logs"], cx_logs_window_days=1)
    assert again.rows_written.get("cx_logs", 0) == 0


def test_cx_logs_incremental_picks_up_changed_logs_in_lookback(sandbox_factory, tmp_path):
    sb = sandbox_factory(contacts=10, tickets=5, cx_logs=100)
    sync(sb, tmp_path, resources=["cx_logs"])
    sb.advance_clock(days=1)
    changed = sb.mutate("cx_logs", update=5, create=7)
    result = sync(sb, tmp_path, resources=["cx_logs"], start_date=None)
    runs = {r["resource"]: r for r in result.resources}
    assert runs["cx_logs"]["new"] == 7
    updated_in_lookback = runs["cx_logs"]["changed"]
    assert updated_in_lookback <= 5
    assert scalar(tmp_path, "SELECT COUNT(*) FROM cx_logs") == 107
    assert len(changed["created"]) == 7


def test_state_window_end_advances(sandbox_factory, tmp_path):
    sb = sandbox_factory(contacts=5, tickets=5, cx_logs=20)
    sync(sb, tmp_path, resources=["cx_logs"])
    import dlt  # local: reads the pipeline's state file

    pipeline = dlt.attach("klink_k", pipelines_dir=str(tmp_path / "k_pipelines"))
    end = pipeline.state["sources"]["klink"]["resources"]["cx_logs"]["last_window_end"]
    assert dt.datetime.fromisoformat(end) == sb.now().replace(microsecond=0)


def test_bounded_backfill_rereads_an_older_range_after_incremental_runs(sandbox_factory, tmp_path):
    sb = sandbox_factory(contacts=5, tickets=5, cx_logs=120)
    now = sb.now()
    recent = (now - dt.timedelta(days=5)).isoformat()
    sync(sb, tmp_path, resources=["cx_logs"], start_date=recent, end_date=None)
    recent_count = scalar(tmp_path, "SELECT COUNT(*) FROM cx_logs")
    assert 0 < recent_count < 120
    sync(sb, tmp_path, resources=["cx_logs"], start_date=(now - dt.timedelta(days=31)).isoformat(),
         end_date=(now - dt.timedelta(days=4)).isoformat())
    assert scalar(tmp_path, "SELECT COUNT(*) FROM cx_logs") == 120


def test_hard_delete_mode_removes_rows_and_their_children(sandbox_factory, tmp_path):
    sb = sandbox_factory(contacts=50, tickets=5, cx_logs=5)
    sync(sb, tmp_path, resources=["contacts"], delete_mode="hard")
    gone = sb.mutate("contacts", delete=4)["deleted"]
    result = sync(sb, tmp_path, resources=["contacts"], delete_mode="hard")
    assert {r["resource"]: r["deleted"] for r in result.resources}["contacts"] == 4
    ids = ", ".join(f"'{i}'" for i in gone)
    assert scalar(tmp_path, f"SELECT COUNT(*) FROM contacts WHERE id IN ({ids})") == 0
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts") == 46
    assert scalar(tmp_path, f"SELECT COUNT(*) FROM contacts__emails WHERE contact_id IN ({ids})") == 0


def test_dlt_state_holds_no_per_row_data(sandbox_factory, tmp_path):
    import json

    import dlt

    sb = sandbox_factory(contacts=400, tickets=200, cx_logs=200)
    sync(sb, tmp_path, page_size=50)
    state = dlt.attach("klink_k", pipelines_dir=str(tmp_path / "k_pipelines")).state
    text = json.dumps(state, default=str)
    assert len(text) < 4000, text[:500]
    assert not any(c["id"] in text for c in api_list(sb, "contacts")[:50])

"""Child tables follow their parent: a rewritten contact replaces its children, also down to none."""

from __future__ import annotations

import pytest
import requests

import pipelines.klink_pipeline as klink_pipeline
from tests.source.helpers import api_list, query, scalar, sync

CHILDREN = ("emails", "phones", "tags", "custom_fields")


def child_counts(tmp_path, contact_id):
    return {c: scalar(tmp_path, f"SELECT COUNT(*) FROM contacts__{c} WHERE contact_id = '{contact_id}'")
            for c in CHILDREN}


def patch_contact(sb, contact_id, body):
    r = requests.patch(f"{sb.base_url}/api/v1/contacts/{contact_id}", json=body,
                       headers={"Authorization": f"Bearer {sb.token}"}, timeout=30)
    assert r.status_code == 200, r.text


def assert_children_match_api(sb, tmp_path):
    contacts = api_list(sb, "contacts")
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts__emails") == sum(len(c["email"]) for c in contacts)
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts__phones") == sum(len(c["phone"]) for c in contacts)
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts__tags") == sum(len(c["tags"]) for c in contacts)
    for child in CHILDREN:  # every child row belongs to the current version of its parent
        assert scalar(tmp_path, f"SELECT COUNT(*) FROM contacts__{child} c WHERE NOT EXISTS "
                                "(SELECT 1 FROM contacts p WHERE p._dlt_id = c._dlt_root_id)") == 0, child


def test_a_contact_rewritten_with_fewer_or_no_children_replaces_them(sandbox_factory, tmp_path):
    sb = sandbox_factory(contacts=30, tickets=0, cx_logs=0)
    sync(sb, tmp_path, resources=["contacts", "contact_fields"])
    target = next(c for c in api_list(sb, "contacts") if len(c["email"]) >= 1 and c["tags"] and c["phone"])
    before = child_counts(tmp_path, target["id"])
    assert before["emails"] and before["tags"]

    patch_contact(sb, target["id"], {"emails": [], "tags": [], "phones": ["+95 9 000 111"]})
    result = sync(sb, tmp_path, resources=["contacts", "contact_fields"])
    assert result.rows_written.get("contacts") == 1
    assert child_counts(tmp_path, target["id"]) == {**before, "emails": 0, "tags": 0, "phones": 1}
    assert result.stale_children == {"contacts__emails": before["emails"], "contacts__tags": before["tags"]}
    assert query(tmp_path, f"SELECT phone FROM contacts__phones WHERE contact_id = '{target['id']}'") == [
        ("+95 9 000 111",)]
    assert_children_match_api(sb, tmp_path)

    again = sync(sb, tmp_path, resources=["contacts", "contact_fields"])
    assert again.rows_written.get("contacts", 0) == 0 and again.stale_children == {}


def test_stale_children_left_by_an_interrupted_step_go_at_the_next_sync(sandbox_factory, tmp_path, monkeypatch):
    sb = sandbox_factory(contacts=25, tickets=0, cx_logs=0)
    sync(sb, tmp_path, resources=["contacts"])
    target = next(c for c in api_list(sb, "contacts") if c["email"])
    patch_contact(sb, target["id"], {"emails": []})
    monkeypatch.setattr(klink_pipeline, "remove_stale_children", lambda pipeline: {})  # "killed" before it
    sync(sb, tmp_path, resources=["contacts"])
    assert child_counts(tmp_path, target["id"])["emails"] == len(target["email"])  # stale until the step runs
    monkeypatch.undo()
    result = sync(sb, tmp_path, resources=["contacts"])
    assert result.rows_written.get("contacts", 0) == 0
    assert child_counts(tmp_path, target["id"])["emails"] == 0
    assert_children_match_api(sb, tmp_path)


@pytest.mark.parametrize("direct_merge", [True, False], ids=["direct", "staging"])
def test_a_copy_job_run_twice_after_a_crash_does_not_double_child_rows(sandbox_factory, tmp_path, monkeypatch,
                                                                       direct_merge):
    # a job whose commit landed but was not yet marked done when the process was killed runs again on
    # restart (dlt's at-least-once loading): through staging its rows reach the staging table twice; a
    # direct merge job deletes what its first run inserted
    from dlt.destinations.impl.duckdb.duck import DuckDbCopyJob

    from pipelines.direct_merge import DirectMergeJob

    job_class = DirectMergeJob if direct_merge else DuckDbCopyJob
    original = job_class.run
    runs = []

    def run_twice(self):
        original(self)
        if "__" in self._file_path.rsplit("/", 1)[-1]:  # every child table's copy job
            original(self)
            runs.append(self._file_path)

    monkeypatch.setattr(job_class, "run", run_twice)
    sb = sandbox_factory(contacts=40, tickets=20, cx_logs=0)
    sync(sb, tmp_path, resources=["contacts", "tickets", "contact_fields", "ticket_fields"],
         pipeline_options={"direct_merge": direct_merge})
    assert len(runs) >= 4  # the patched job really loaded the child tables
    for table in ("contacts__tags", "contacts__emails", "contacts__custom_fields", "tickets__tags"):
        rows, distinct = query(tmp_path, f"SELECT COUNT(*), COUNT(DISTINCT _dlt_id) FROM {table}")[0]
        assert rows == distinct > 0, table

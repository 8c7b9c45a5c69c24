"""The helper process that builds Arrow batches for big lists: same rows as in-process, clear failures."""

from __future__ import annotations

import gc
import io
import json
import os
import signal
import threading

import orjson
import pytest

from sources.klink import columnar, offload, resources
from sources.klink.offload import HelperFailed, Offload, _read_frame, _write_frame, serve
from sources.klink.records import HeldJson
from sources.klink.resources import _main_hints
from tests.source.helpers import query, sync

TABLES = ["contacts", "contacts__emails", "contacts__custom_fields", "tickets", "tickets__tags", "cx_logs",
          "cx_logs__contact_label"]


def content(tmp_path, name, table):
    """The table's rows without dlt's per-load ids, sorted (comparable across two syncs)."""
    columns = [r[0] for r in query(tmp_path, f"SELECT column_name FROM information_schema.columns WHERE "
                                             f"table_name = '{table}' AND table_schema = 'klink_data' "
                                             "AND column_name NOT LIKE '_dlt_%' ORDER BY column_name", name)]
    return sorted(map(repr, query(tmp_path, f"SELECT {', '.join(columns)} FROM {table}", name)))


def test_offloaded_sync_writes_exactly_what_an_in_process_sync_writes(sandbox_factory, tmp_path):
    sb = sandbox_factory(contacts=700, tickets=500, cx_logs=400)
    inline = sync(sb, tmp_path, name="inline", offload_min_rows=0)
    offloaded = sync(sb, tmp_path, name="offloaded", offload_min_rows=1, batch_rows=150)
    assert offloaded.rows_written == inline.rows_written
    for table in TABLES:
        assert content(tmp_path, "offloaded", table) == content(tmp_path, "inline", table), table
    again = sync(sb, tmp_path, name="offloaded", offload_min_rows=1, batch_rows=150)
    assert sum(n for t, n in again.rows_written.items() if not t.startswith("_")) == 0


def test_the_helper_starts_only_for_a_full_batch_of_changes(sandbox_factory, tmp_path, monkeypatch):
    started = []

    class Counted(Offload):
        def __init__(self, resource, *args):
            started.append(resource)
            super().__init__(resource, *args)

    monkeypatch.setattr(resources, "Offload", Counted)
    sb = sandbox_factory(contacts=400, tickets=0, cx_logs=0)
    options = dict(name="o", resources=["contacts", "contact_fields"], offload_min_rows=300, batch_rows=150)
    first = sync(sb, tmp_path, **options)
    assert started == ["contacts"] and first.rows_written["contacts"] == 400  # contact_fields: < 300 rows
    sb.mutate("contacts", update=5)
    again = sync(sb, tmp_path, **options)
    assert again.rows_written["contacts"] == 5
    assert started == ["contacts"]  # 5 changed rows: built here, no helper started


def test_a_sync_builds_one_resource_at_a_time_unless_round_robin_is_configured(sandbox_factory, tmp_path,
                                                                             monkeypatch):
    alive, most = [], []

    class Tracked(Offload):
        def __init__(self, resource, *args):
            super().__init__(resource, *args)
            alive.append(resource)
            most.append(len(alive))

        def close(self):
            if self.resource in alive:
                alive.remove(self.resource)
            super().close()

    monkeypatch.setattr(resources, "Offload", Tracked)
    sb = sandbox_factory(contacts=300, tickets=300, cx_logs=0)
    options = dict(resources=["contacts", "tickets"], offload_min_rows=1, batch_rows=50)
    sync(sb, tmp_path, name="fifo", **options)
    assert len(most) == 2 and max(most) == 1  # run_sync extracts one resource after the other
    monkeypatch.setenv("EXTRACT__NEXT_ITEM_MODE", "round_robin")  # the user's setting wins
    most.clear()
    sync(sb, tmp_path, name="rr", **options)
    assert max(most) == 2


def _offload() -> Offload:
    return Offload("contacts", _main_hints("contacts", {}, "soft"), {}, "1764000000.1")


def test_a_failure_in_the_helper_is_raised_with_its_traceback():
    offload = _offload()
    try:
        offload.add("0123456789abcdef", b"{not json")
        with pytest.raises(HelperFailed, match="JSONDecodeError"):
            list(offload.drain())
    finally:
        offload.close()


def test_a_helper_that_dies_is_reported_not_waited_for():
    offload = _offload()
    try:
        offload._proc.kill()
        offload.add("0123456789abcdef", b'{"id": "a"}')
        with pytest.raises(HelperFailed, match="exited"):
            list(offload.drain())
    finally:
        offload.close()


def test_sending_a_batch_does_not_wait_for_the_helper_to_read_it():
    offload = _offload()
    sent = threading.Event()
    try:
        os.kill(offload._proc.pid, signal.SIGSTOP)  # a helper still importing, or busy building
        for i in range(2000):  # ~2 MB of JSON: far more than a pipe holds
            offload.add(f"{i:016x}", orjson.dumps({"id": f"c{i}", "name": "x" * 1000}))

        def submit() -> None:
            list(offload.submit())
            sent.set()

        threading.Thread(target=submit, daemon=True).start()
        assert sent.wait(timeout=20), "submit() blocked until the helper read the batch"
        os.kill(offload._proc.pid, signal.SIGCONT)
        parents = [arrow for _, arrow, _ in offload.drain() if "_klink_hash" in arrow.column_names]
        assert sum(table.num_rows for table in parents) == 2000
    finally:
        os.kill(offload._proc.pid, signal.SIGCONT)
        offload.close()


def test_the_helper_builds_each_batch_with_collection_paused(monkeypatch):
    seen = []
    build_row = columnar.hashed_row
    monkeypatch.setattr(columnar, "hashed_row", lambda *a: seen.append(gc.isenabled()) or build_row(*a))
    held = HeldJson()
    held.add("0123456789abcdef", b'{"id": "a", "contactEmails": [{"email": "x@y.io"}]}')
    requests, results = io.BytesIO(), io.BytesIO()
    _write_frame(requests, ("contacts", {}, {}, _main_hints("contacts", {}, "soft"), "1764000000.1"))
    _write_frame(requests, held)
    requests.seek(0)
    try:
        serve(requests, results)  # in this process, on in-memory frames, as the helper runs it
    finally:
        gc.unfreeze()
    results.seek(0)
    status, built = _read_frame(results)
    assert status == "ok" and [name for name, _, _ in built] == ["contacts", "contacts__emails"]
    assert seen == [False] and gc.isenabled()


def test_the_helper_process_builds_tables_without_importing_dlt(monkeypatch, tmp_path):
    """The helper stands in for the package __init__ (which imports dlt), so it starts in a fraction of
    the time and memory; on exit it lists what it has loaded."""
    loaded = tmp_path / "modules.json"
    report = (f"import json; json.dump(sorted(m for m in sys.modules if m.split('.')[0] in "
              f"('dlt', 'requests', 'urllib3', 'duckdb')), open({str(loaded)!r}, 'w'))")
    monkeypatch.setattr(offload, "_HELPER", offload._HELPER + "; " + report)
    held = HeldJson()
    held.add("0123456789abcdef", b'{"id": "a", "contactEmails": [{"email": "x@y.io"}]}')
    helper = offload.Offload("contacts", _main_hints("contacts", {}, "soft"), {}, "1764000000.1", held)
    try:
        tables = list(helper.drain())
    finally:
        helper.close()
    assert [name for name, _, _ in tables] == ["contacts", "contacts__emails"]
    assert tables[0][2]["primary_key"] == "id"  # hint arguments: items.py makes them dlt hints
    assert json.loads(loaded.read_text()) == []

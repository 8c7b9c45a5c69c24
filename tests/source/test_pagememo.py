"""The page memo: unchanged pages are not parsed again, and nothing it remembers can hide a change."""

from __future__ import annotations

import duckdb
import orjson
import pytest

from pipelines.klink_pipeline import DATASET_NAME
from sources.klink.client import parse_page
from sources.klink.pagememo import MEMO_FOLDER, PageMemo
from sources.klink.records import record_hash
from tests.source.helpers import query, scalar, sync

RECORDS = [{"id": "a1", "name": "Ann", "tags": [{"id": 1}]}, {"id": 7, "name": "Bo"}]


def body(request_id: str = "r1", records=RECORDS, total: int = 2) -> bytes:
    return orjson.dumps({"requestId": request_id, "cxLogs": {"data": records, "total": total, "page": 1,
                                                             "pageSize": 100, "lastPage": 1}})


def parse(decoded_body):
    return parse_page(decoded_body, "cx_logs", 1, 100, "cx_logs page 1")


def fetched(memo: PageMemo, raw: bytes):
    """A page as `_Run.take` sees it: recognised by its bytes, else parsed and looked up by its data."""
    page = memo.page(memo.decode(raw), parse, 1)
    if page.memo is None:
        memo.match_data(page)
    return page


def remembered(memo: PageMemo, raw: bytes):
    page = fetched(memo, raw)
    memo.remember(page, [(str(r["id"]), record_hash(r)) for r in page.records])
    return page


def runs_by_resource(result):
    return {r["resource"]: r for r in result.resources}


def test_a_saved_memo_answers_for_the_same_bytes_without_parsing(tmp_path):
    memo = PageMemo(tmp_path / "cx_logs.jsonl")
    first = remembered(memo, body())
    assert first.memo is None and first.records == RECORDS  # nothing known yet: parsed
    memo.save()

    again = PageMemo(tmp_path / "cx_logs.jsonl")
    page = again.page(again.decode(body()), parse, 1)
    assert page.records == [] and page.size == 2 and list(page.ids()) == ["a1", "7"]
    assert (page.total, page.last_page) == (2, 1)
    assert (page.memo.ids, page.memo.hashes) == (["a1", "7"], f"{record_hash(RECORDS[0])}\n{record_hash(RECORDS[1])}")
    assert page.load() == RECORDS and page.size == 2  # parsed on demand, the same records


def test_a_page_with_another_envelope_but_the_same_data_is_found_by_its_data(tmp_path):
    memo = PageMemo(tmp_path / "m.jsonl")
    remembered(memo, body("r1"))
    memo.save()
    again = PageMemo(tmp_path / "m.jsonl")
    page = fetched(again, body("r2"))
    assert page.records == RECORDS  # parsed (the bytes differ) ...
    assert page.memo is not None and page.memo.ids == ["a1", "7"]  # ... but the hashes need not be computed
    changed = fetched(again, body("r3", [RECORDS[0], {"id": 7, "name": "Bob"}]))
    assert changed.memo is None


def test_a_page_found_by_its_data_is_kept_with_its_own_envelope_numbers(tmp_path):
    memo = PageMemo(tmp_path / "m.jsonl")
    remembered(memo, body(total=2))
    memo.save()
    shrunk = PageMemo(tmp_path / "m.jsonl")  # rows deleted on later pages: same data, another total
    page = fetched(shrunk, body(total=9))
    assert page.memo is not None and page.total == 9
    shrunk.keep(page)
    shrunk.save()
    again = PageMemo(tmp_path / "m.jsonl")
    known = again.page(again.decode(body(total=9)), parse, 1)
    assert known.records == [] and known.total == 9  # found by its bytes, with the total those bytes hold


def test_an_unreadable_or_foreign_memo_is_ignored(tmp_path):
    (tmp_path / "bad.jsonl").write_bytes(b"{not json")
    assert len(PageMemo(tmp_path / "bad.jsonl")) == 0
    memo = PageMemo(tmp_path / "m.jsonl")
    remembered(memo, body())
    memo.save()
    header, row = (orjson.loads(line) for line in (tmp_path / "m.jsonl").read_bytes().splitlines())
    assert len(PageMemo(tmp_path / "m.jsonl")) == 1

    def stored(header, *rows) -> PageMemo:
        (tmp_path / "odd.jsonl").write_bytes(b"\n".join(orjson.dumps(line) for line in (header, *rows)))
        return PageMemo(tmp_path / "odd.jsonl")

    assert len(stored({**header, "normalizer": "0"}, row)) == 0  # another hash version
    body_key, data_key, ids, hashes, total, last_page = row
    for odd in ([body_key, data_key, ids + ["x"], hashes, total, last_page], [body_key, data_key, ids, hashes, "2", 1],
                [body_key, data_key, ids], [body_key, data_key, [7, 8], hashes, total, last_page]):
        assert len(stored(header, row, odd)) == 0, odd


@pytest.mark.parametrize("finished", [True, False])
def test_a_finished_scan_replaces_the_memo_and_an_unfinished_one_leaves_it(tmp_path, finished):
    memo = PageMemo(tmp_path / "m.jsonl")
    remembered(memo, body("r1", RECORDS[:1]))
    memo.save()
    later = PageMemo(tmp_path / "m.jsonl")
    remembered(later, body("r1", RECORDS[1:]))
    later.save() if finished else later.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.jsonl"]
    stored = PageMemo(tmp_path / "m.jsonl")
    assert len(stored) == 1
    assert (fetched(stored, body("r1", RECORDS[1:])).records == []) is finished
    assert (fetched(stored, body("r1", RECORDS[:1])).records == []) is not finished


def test_a_rerun_answers_every_unchanged_page_from_the_memo(sandbox_factory, tmp_path):
    sb = sandbox_factory(contacts=120, tickets=30, cx_logs=60)
    first = sync(sb, tmp_path, page_size=25)
    assert all(r["pages_from_memo"] == 0 for r in first.resources)
    assert (tmp_path / "k_pipelines" / "klink_k" / MEMO_FOLDER / "contacts.jsonl").exists()

    second = sync(sb, tmp_path, page_size=25)
    runs = runs_by_resource(second)
    for resource, count in (("contacts", 120), ("tickets", 30), ("cx_logs", 60)):
        run = runs[resource]
        assert run["pages_from_memo"] == run["pages"] > 0, resource  # cx-logs: a new requestId on every page
        assert (run["unchanged"], run["new"], run["changed"]) == (count, 0, 0), resource
        assert run["records_seen"] >= count  # cx-logs on a window edge are read in both windows
    assert {t for t in second.rows_written if not t.startswith("_klink")} == set()


def test_changes_and_deletions_land_exactly_while_the_memo_answers_for_the_rest(sandbox_factory, tmp_path):
    sb = sandbox_factory(contacts=200, tickets=5, cx_logs=5)
    sync(sb, tmp_path, page_size=20, resources=["contacts"])
    changes = sb.mutate("contacts", update=3, delete=2)
    result = sync(sb, tmp_path, page_size=20, resources=["contacts"])
    run = runs_by_resource(result)["contacts"]
    assert (run["new"], run["changed"], run["deleted"]) == (0, 3, 2) and run["complete"]
    assert 0 < run["pages_from_memo"] < run["pages"]
    deleted = {r[0] for r in query(tmp_path, "SELECT id FROM contacts WHERE _klink_deleted_at IS NOT NULL")}
    assert deleted == set(changes["deleted"])


def test_rows_missing_from_the_destination_are_written_even_when_the_memo_knows_their_page(sandbox_factory,
                                                                                          tmp_path):
    sb = sandbox_factory(contacts=60, tickets=5, cx_logs=5)
    sync(sb, tmp_path, page_size=20, resources=["contacts"])
    lost = [r[0] for r in query(tmp_path, "SELECT id FROM contacts ORDER BY id LIMIT 4")]
    con = duckdb.connect(str(tmp_path / "k.duckdb"))  # as if a load had failed after the memo was saved
    con.execute(f"DELETE FROM {DATASET_NAME}.contacts WHERE id IN ({', '.join(repr(i) for i in lost)})")
    con.close()

    result = sync(sb, tmp_path, page_size=20, resources=["contacts"])
    run = runs_by_resource(result)["contacts"]
    assert run["new"] == 4 and run["unchanged"] == 56
    assert run["pages_from_memo"] < run["pages"]
    assert scalar(tmp_path, "SELECT COUNT(*) FROM contacts") == 60
    settled = runs_by_resource(sync(sb, tmp_path, page_size=20, resources=["contacts"]))["contacts"]
    assert settled["pages_from_memo"] == settled["pages"] and settled["unchanged"] == 60  # remembered again


def test_page_memo_off_parses_every_page(sandbox_factory, tmp_path):
    sb = sandbox_factory(contacts=50, tickets=5, cx_logs=5)
    sync(sb, tmp_path, page_size=20, resources=["contacts"], page_memo=False)
    again = sync(sb, tmp_path, page_size=20, resources=["contacts"], page_memo=False)
    run = runs_by_resource(again)["contacts"]
    assert run["pages_from_memo"] == 0 and run["unchanged"] == 50
    assert not (tmp_path / "k_pipelines" / "klink_k" / MEMO_FOLDER).exists()

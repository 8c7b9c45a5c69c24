"""Scan consistency: shifted pages are re-read; only consistent passes count as complete.

The fetch function here stands in for one HTTP page (a unit below the client); end-to-end scans run
against the sandbox in test_source_e2e.py.
"""

import math

from sources.klink.client import Page
from sources.klink.scan import Scanner


def pager(ids, page_size, mutate=None):
    calls = []

    def fetch(number):
        calls.append(number)
        if mutate:
            mutate(number, ids)
        total = len(ids)
        chunk = ids[(number - 1) * page_size: number * page_size]
        return Page(number, [{"id": i} for i in chunk], total, max(1, math.ceil(total / page_size)))

    return fetch, calls


def run(scanner):
    return [r["id"] for page in scanner.pages() for r in page.records]


def test_stable_list_is_read_once_with_one_request_per_page():
    fetch, calls = pager(list(range(95)), 10)
    scanner = Scanner(fetch, 10, workers=3)
    assert sorted(run(scanner)) == list(range(95))
    assert sorted(calls) == list(range(1, 11))
    assert scanner.report.complete and scanner.report.passes == 1


def test_insert_at_the_front_mid_scan_repeats_rows_and_is_reread():
    state = {"done": False}

    def insert_once(number, ids):
        if number == 3 and not state["done"]:
            state["done"] = True
            ids.insert(0, "new")

    fetch, calls = pager(list(range(30)), 10, insert_once)
    scanner = Scanner(fetch, 10, workers=1)
    seen = run(scanner)
    assert set(seen) == set(range(30)) | {"new"}
    assert scanner.report.complete and scanner.report.passes == 2


def test_delete_mid_scan_skips_rows_so_the_pass_is_redone():
    state = {"done": False}

    def delete_once(number, ids):
        if number == 2 and not state["done"]:
            state["done"] = True
            del ids[0]

    fetch, _ = pager(list(range(30)), 10, delete_once)
    scanner = Scanner(fetch, 10, workers=1)
    seen = set(run(scanner))
    assert seen == set(range(30))  # row 10 slipped to page 1 in pass one; pass two reads it
    assert scanner.report.complete and scanner.report.passes == 2


def test_a_list_that_never_settles_is_incomplete():
    def always_insert(number, ids):
        if number == 2:
            ids.insert(0, f"n{len(ids)}")

    fetch, _ = pager(list(range(30)), 10, always_insert)
    scanner = Scanner(fetch, 10, workers=1, max_rescans=2)
    run(scanner)
    assert not scanner.report.complete
    assert scanner.report.passes == 3
    assert any("total changed" in p for p in scanner.report.problems)

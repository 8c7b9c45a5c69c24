"""ChangeTracker: what is written, what is counted, and a whole page skipped at once."""

from __future__ import annotations

from sources.klink.changes import ChangeTracker

KNOWN = {"1": "aaaaaaaaaaaaaaaa", "2": "bbbbbbbbbbbbbbbb", "3": "cccccccccccccccc"}


def test_a_page_of_unchanged_records_is_counted_and_seen_without_writing():
    tracker = ChangeTracker(dict(KNOWN))
    assert tracker.skip_page(["1", "2"], "aaaaaaaaaaaaaaaa\nbbbbbbbbbbbbbbbb")
    assert (tracker.unchanged, tracker.new, tracker.changed) == (2, 0, 0)
    assert tracker.missing_ids() == ["3"]
    assert not tracker.should_write("2", "bbbbbbbbbbbbbbbb")  # a repeat now
    assert tracker.duplicates == 1


def test_a_page_with_a_changed_or_new_record_is_not_skipped_and_nothing_is_counted():
    for ids, hashes in ((["1", "2"], "aaaaaaaaaaaaaaaa\nxxxxxxxxxxxxxxxx"), (["1", "9"], "aaaaaaaaaaaaaaaa\nbbbbbbbbbbbbbbbb")):
        tracker = ChangeTracker(dict(KNOWN))
        assert not tracker.skip_page(ids, hashes)
        assert (tracker.unchanged, tracker.seen) == (0, {})


def test_destination_hashes_that_are_missing_or_odd_never_match():
    assert not ChangeTracker({"1": None, "2": "b"}).skip_page(["1", "2"], "\nb")
    # one destination value holding the separator cannot line up with two hashes
    assert not ChangeTracker({"1": "a\nb", "2": ""}).skip_page(["1", "2"], "a\nb")


def test_repeats_of_this_runs_reads_are_compared_with_what_was_read():
    tracker = ChangeTracker(dict(KNOWN))
    assert not tracker.should_write("1", "aaaaaaaaaaaaaaaa")
    assert tracker.skip_page(["1", "3"], "aaaaaaaaaaaaaaaa\ncccccccccccccccc")
    assert (tracker.unchanged, tracker.duplicates) == (2, 1)
    assert tracker.should_write("3", "dddddddddddddddd")  # changed while we scanned
    assert not tracker.skip_page(["3"], "cccccccccccccccc")  # the later read wins

"""Full scans of page-number lists, fast (concurrent pages) and checked (shift detection, re-reads).

The API has no cursor and no documented order, so rows inserted or deleted while we page can shift
records between pages: a page may repeat rows (inserts before it) or rows may slip past us (deletes
before them). A pass is *consistent* when `total` never changed, no page came back empty before
`lastPage`, and the unique ids seen equal the final `total`. An inconsistent pass is re-read (up to
`max_rescans` more passes); only a consistent pass counts as a complete scan, and only a complete
scan may mark deletions.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Set

from dlt.common import logger

from .client import Page

FetchPage = Callable[[int], Page]


@dataclass
class ScanReport:
    """What a scan saw, for the completeness decision and the run log."""

    pages: int = 0
    passes: int = 0
    first_total: Optional[int] = None
    last_total: Optional[int] = None
    complete: bool = False
    problems: List[str] = field(default_factory=list)


def _pages_in_order(fetch: FetchPage, first: int, last: int, workers: int) -> Iterator[Page]:
    """Fetch pages first..last with up to `workers` in flight, yielding in page order."""
    if last < first:
        return
    if workers <= 1:
        for number in range(first, last + 1):
            yield fetch(number)
        return
    window = workers * 2  # bounds memory: at most this many pages held at once
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="klink-page") as pool:
        pending: Dict[int, Future[Page]] = {}
        next_submit = first
        for number in range(first, last + 1):
            while next_submit <= last and next_submit < number + window:
                pending[next_submit] = pool.submit(fetch, next_submit)
                next_submit += 1
            try:
                yield pending.pop(number).result()
            except BaseException:
                for future in pending.values():
                    future.cancel()
                raise


def scan_pass(fetch: FetchPage, page_size: int, workers: int, report: ScanReport,
              seen_this_pass: Set[Any]) -> Iterator[Page]:
    """One pass over every page; records problems that make the pass inconsistent."""
    first = fetch(1)
    report.pages += 1
    totals = {first.total}
    last_page = first.last_page
    yield first
    seen_this_pass.update(first.ids())
    if last_page is None:
        # no lastPage/total in the envelope: read until a short or empty page
        number, size = 1, first.size
        while size >= page_size:
            number += 1
            page = fetch(number)
            report.pages += 1
            size = page.size
            seen_this_pass.update(page.ids())
            yield page
        report.first_total = report.last_total = len(seen_this_pass)
        return
    report.first_total = latest_total = first.total
    highest = last_page
    for page in _pages_in_order(fetch, 2, last_page, workers):
        report.pages += 1
        totals.add(page.total)
        latest_total = page.total
        if page.last_page and page.last_page > highest:
            highest = page.last_page
        if not page.size:
            report.problems.append(f"page {page.number} empty before lastPage {last_page}")
        seen_this_pass.update(page.ids())
        yield page
    # `total` grew during the scan: read the pages that appeared after our first look
    for page in _pages_in_order(fetch, last_page + 1, highest, workers):
        report.pages += 1
        totals.add(page.total)
        latest_total = page.total
        seen_this_pass.update(page.ids())
        yield page
    report.last_total = latest_total
    if len(totals) > 1:
        report.problems.append(f"total changed during the scan ({sorted(t for t in totals if t is not None)})")


class Scanner:
    """Runs passes until one is consistent or the re-read budget is spent."""

    def __init__(self, fetch: FetchPage, page_size: int, workers: int = 4, max_rescans: int = 2,
                 label: str = "") -> None:
        self.fetch = fetch
        self.page_size = page_size
        self.workers = workers
        self.max_rescans = max_rescans
        self.label = label
        self.report = ScanReport()

    def pages(self) -> Iterator[Page]:
        """Pages of every pass; callers dedupe records by id."""
        for attempt in range(self.max_rescans + 1):
            self.report.passes += 1
            self.report.problems = []
            seen_this_pass: Set[Any] = set()
            yield from scan_pass(self.fetch, self.page_size, self.workers, self.report, seen_this_pass)
            total = self.report.last_total
            if total is not None and len(seen_this_pass) != total:
                self.report.problems.append(f"{len(seen_this_pass)} unique ids seen but total is {total}")
            if not self.report.problems:
                self.report.complete = True
                return
            if attempt < self.max_rescans:
                logger.warning(f"klink: {self.label}: {'; '.join(self.report.problems)}; reading the list again")
        logger.warning(
            f"klink: {self.label}: scan incomplete after {self.report.passes} passes"
            f" ({'; '.join(self.report.problems)}); rows are loaded but no deletions are marked"
        )


"""One generic generator per resource mode (full scan, category tree, cx-log windows)."""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import gc
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

import dlt
import pyarrow as pa
from dlt.common import logger
from dlt.common.schema.typing import TColumnSchema

from .changes import DELETIONS_TABLE, REJECTED_TABLE, RUNS_TABLE, ChangeTracker, read_known_hashes
from .client import KlinkClient, Page, json_dumps, parse_page
from .columnar import ArrowBatch, paused_gc
from .exceptions import KlinkEndpointUnavailable
from .items import dlt_items
from .offload import Offload
from .pagememo import PageMemo
from .records import HeldJson, flatten_categories, hashed_json, hashed_row, normalizer_for
from .scan import Scanner, ScanReport
from .settings import CUSTOM_FIELD_TYPES, DIRECT_MERGE_HINT, ENDPOINTS, MERGE, TRACKING_COLUMNS, endpoint_path
from .windows import incremental_start, plan_windows, selected_date

FIELD_SOURCES = {"contacts": "contact_fields", "tickets": "ticket_fields"}

SIDE_TABLE_COLUMNS: Dict[str, Dict[str, TColumnSchema]] = {
    RUNS_TABLE: {
        "resource": {"data_type": "text", "nullable": False},
        "started_at": {"data_type": "timestamp"}, "finished_at": {"data_type": "timestamp"},
        "complete": {"data_type": "bool"}, "passes": {"data_type": "bigint"}, "pages": {"data_type": "bigint"},
        "pages_from_memo": {"data_type": "bigint"},
        "records_seen": {"data_type": "bigint"}, "new": {"data_type": "bigint"}, "changed": {"data_type": "bigint"},
        "unchanged": {"data_type": "bigint"}, "deleted": {"data_type": "bigint"},
        "rejected": {"data_type": "bigint"}, "problems": {"data_type": "text"},
    },
    DELETIONS_TABLE: {
        "table_name": {"data_type": "text", "nullable": False}, "id": {"data_type": "text", "nullable": False},
        "deleted_at": {"data_type": "timestamp", "nullable": False},
    },
    REJECTED_TABLE: {
        "resource": {"data_type": "text"}, "endpoint": {"data_type": "text"}, "page": {"data_type": "bigint"},
        "reason": {"data_type": "text"}, "record": {"data_type": "text"}, "rejected_at": {"data_type": "timestamp"},
    },
}


@dataclass
class SourceContext:
    """Everything the resources share within one source instance."""

    client: KlinkClient
    page_size: int
    workers: int
    max_rescans: int
    paths: Dict[str, str]
    change_detection: bool
    delete_mode: str
    timezone: str
    tz: dt.tzinfo
    start_date: Optional[dt.datetime]
    end_date: Optional[dt.datetime]
    lookback: dt.timedelta
    window: dt.timedelta
    batch_rows: int = 5000
    offload_min_rows: int = 20000
    direct_merge: bool = False
    page_memo: bool = True
    _cache: Dict[str, Tuple[List[Dict[str, Any]], ScanReport]] = field(default_factory=dict)

    def fetcher(self, resource: str, params: Optional[Dict[str, Any]] = None,
                headers: Optional[Dict[str, str]] = None, memo: Optional[PageMemo] = None):
        """A function page_number -> Page for `resource` (pages the memo knows come back unparsed)."""
        spec = ENDPOINTS[resource]
        path = endpoint_path(resource, self.paths)

        def fetch(number: int) -> Page:
            query = {**(params or {}), "page": number, "pageSize": self.page_size}
            where = f"page {number}" + (f" {params['selectedDate']!r}" if params and "selectedDate" in params else "")

            def parse(body: Any) -> Page:
                return parse_page(body, spec["envelope"], number, self.page_size, f"{resource} {where}")

            if memo is None:
                return parse(self.client.get_json(resource, path, params=query, headers=headers, where=where))
            decoded = self.client.get_json(resource, path, params=query, headers=headers, where=where,
                                           decode=memo.decode)
            return memo.page(decoded, parse, number)

        return fetch

    def scan_all(self, resource: str) -> Tuple[List[Dict[str, Any]], ScanReport]:
        """Every record of a small list (form fields), read once per source instance."""
        if resource not in self._cache:
            scanner = Scanner(self.fetcher(resource), self.page_size, self.workers, self.max_rescans, resource)
            records = [r for page in scanner.pages() for r in page.records]
            self._cache[resource] = (records, scanner.report)
        return self._cache[resource]

    def field_types(self, resource: str) -> Dict[str, str]:
        """system_name -> form field type for the custom fields of `resource` (empty if unavailable)."""
        source = FIELD_SOURCES.get(resource)
        if not source:
            return {}
        try:
            records, _ = self.scan_all(source)
        except KlinkEndpointUnavailable as exc:
            logger.warning(f"klink: {source} unavailable ({exc}); custom fields of {resource} typed from values")
            return {}
        return {r["system_name"]: r.get("type") or "text" for r in records if isinstance(r, dict) and r.get("system_name")}


def _main_hints(resource: str, field_types: Dict[str, str], delete_mode: str, direct_merge: bool = False) -> Any:
    spec = ENDPOINTS[resource]
    columns: Dict[str, TColumnSchema] = {**spec["columns"], **TRACKING_COLUMNS}
    for name in spec["json_columns"]:
        columns[name] = {"data_type": "json", "nullable": True}
    for system_name, field_type in field_types.items():
        columns[f"custom__{system_name}"] = {"data_type": CUSTOM_FIELD_TYPES.get(field_type, "text"), "nullable": True}  # type: ignore[typeddict-item]
    if delete_mode == "hard" and spec["detect_deletes"]:
        columns["_klink_hard_deleted"] = {"data_type": "bool", "nullable": True, "hard_delete": True}
    # the hint is always set, so a run without it turns off what an earlier run stored in the schema
    return dlt.mark.make_hints(table_name=resource, write_disposition=MERGE, primary_key="id", columns=columns,
                               additional_table_hints={DIRECT_MERGE_HINT: direct_merge})


def _side(table: str, rows: List[Dict[str, Any]]) -> Any:
    hints = dlt.mark.make_hints(table_name=table, write_disposition="append", columns=SIDE_TABLE_COLUMNS[table])
    return dlt.mark.with_hints(rows, hints, create_table_variant=True)


def release_memory() -> None:
    """Give memory a finished scan freed back to the OS, so the load that follows starts lean
    (Arrow's allocator and glibc keep freed memory: 300k records, 324 -> 258 MB RSS before the load)."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class _Run:
    """Per-resource bookkeeping: change decisions, rejects, the run-log row."""

    def __init__(self, ctx: SourceContext, resource: str, known: Dict[str, str], memo: bool = False) -> None:
        self.ctx, self.resource = ctx, resource
        self.memo = PageMemo.for_resource(resource) if memo and ctx.page_memo else None
        self.tracker = ChangeTracker(known)
        self.field_types = ctx.field_types(resource)
        self.hints = _main_hints(resource, self.field_types, ctx.delete_mode, ctx.direct_merge)
        self.normalize = normalizer_for(resource)
        self.batch = ArrowBatch(resource, self.hints.get("columns") or {})
        self.load_id = dlt.current.load_package_state()["load_id"]
        # changes held as their hash and JSON until a first batch decides where batches are built: the
        # JSON is a fifth of the parsed records' memory (cx-logs, 5,000 records: 7 MB against 38 MB)
        self.undecided = HeldJson()
        self.offload: Optional[Offload] = None
        self.decided = False  # whether batches are built in a helper process is decided once
        self.rejected: List[Dict[str, Any]] = []
        self.started_at = dt.datetime.now(dt.timezone.utc)
        self.records_seen = 0
        self.pages_from_memo = 0  # pages neither parsed nor hashed: the memo knew them and nothing changed

    def take(self, page: Page) -> Iterator[Any]:
        """`rows` of one scanned page; a page the memo answers for, with nothing to write, is not parsed."""
        memo = self.memo
        if memo is not None and page.memo is None:
            memo.match_data(page)
        entry = page.memo
        if memo is not None and entry is not None and self.tracker.skip_page(entry.ids, entry.hashes):
            self.records_seen += len(entry)
            self.pages_from_memo += 1
            memo.keep(page)
            return
        records = page.load()
        pairs: Optional[List[Tuple[str, str]]] = [] if memo is not None else None
        yield from self.rows(records, page.number, page.total, pairs)
        if memo is not None and pairs is not None and len(pairs) == len(records):  # no record quarantined
            memo.remember(page, pairs)

    def changed_records(self, records: List[Any], page: int, pairs: Optional[List[Tuple[str, str]]] = None,
                        ) -> Iterator[Tuple[Dict[str, Any], str, bytes]]:
        """(record, hash, its JSON) of each new or changed record of a page; id-less ones quarantined.
        `pairs` collects (id, hash) of every record with an id."""
        for record in records:
            self.records_seen += 1
            rid = record.get("id") if isinstance(record, dict) else None
            if rid is None or rid == "" or isinstance(rid, (dict, list, bool)):
                self.reject(record, page, "record without a usable id")
                continue
            digest, payload = hashed_json(record)
            if pairs is not None:
                pairs.append((str(rid), digest))
            if self.tracker.should_write(rid, digest):
                yield record, digest, payload

    def rows(self, records: List[Any], page: int, total: Optional[int] = None,
             pairs: Optional[List[Tuple[str, str]]] = None) -> Iterator[Any]:
        """Take the new or changed records of one page; yields Arrow tables once a batch is full."""
        with paused_gc():
            for record, digest, payload in self.changed_records(records, page, pairs):
                if self.offload is not None:
                    self.offload.add(digest, payload)
                elif self.decided:
                    self.batch.add(hashed_row(self.normalize, record, self.field_types, digest), self.load_id)
                else:
                    self.undecided.add(digest, payload)
        if self.held() >= self.ctx.batch_rows:  # few big Arrow items: dlt's cost is per item
            yield from self._build(total or 0)

    def held(self) -> int:
        """Changed records taken and not yet sent to be built."""
        if self.offload is not None:
            return self.offload.rows
        return self.batch.rows if self.decided else len(self.undecided)

    def _build(self, total: int) -> Iterator[Any]:
        """Build what is held into a batch, in a helper process or here.

        The first full batch of a list of `offload_min_rows` or more starts the helper; a scan whose first
        batch is not full (few changes: re-runs, small lists) never pays for starting one."""
        if not self.decided and self.undecided:
            self.decided = True
            held, self.undecided = self.undecided, HeldJson()
            full = len(held) >= self.ctx.batch_rows
            if full and self.ctx.offload_min_rows and total >= self.ctx.offload_min_rows:
                self.offload = Offload(self.resource, self.hints, self.field_types, self.load_id, held)
            else:  # parsed again from the held JSON (key order sorted, as the helper sees them)
                self.batch.add_held(held, self.normalize, self.field_types, self.load_id)
            del held  # this generator is suspended while the batch is yielded: not kept alive
        if self.offload is not None:
            yield from dlt_items(self.offload.submit())
        elif self.batch.rows:
            yield from dlt_items(self.batch.build(self.hints))

    def flush(self) -> Iterator[Any]:
        """Everything held or being built, as Arrow tables (hints with a table's first batch only)."""
        yield from self._build(0)
        if self.offload is not None:
            yield from dlt_items(self.offload.drain())

    def close(self) -> None:
        """Stop the helper process, if one was started; drop the page memo of an unfinished scan."""
        if self.memo is not None:
            self.memo.discard()
            self.memo = None
        if self.offload is not None:
            self.offload.close()
            self.offload = None

    def reject(self, record: Any, page: int, reason: str) -> None:
        """Quarantine a record with the reason and where it came from."""
        logger.warning(f"klink: {self.resource} page {page}: {reason}; kept in {REJECTED_TABLE}")
        self.rejected.append({
            "resource": self.resource, "endpoint": endpoint_path(self.resource, self.ctx.paths), "page": page,
            "reason": reason, "record": json_dumps(record), "rejected_at": dt.datetime.now(dt.timezone.utc),
        })

    def finish(self, report: ScanReport, complete: bool) -> Iterator[Any]:
        """Deletions (only after a complete scan), quarantined records and the run-log row."""
        yield from self.flush()
        if self.memo is not None:
            self.memo.save()
            self.memo = None
        self.close()
        if self.tracker.new or self.tracker.changed:  # else little to give back, and gc.collect costs 0.1 s
            release_memory()
        deleted: List[str] = []
        if self.rejected:  # an id-less record could be any known row: do not call anything deleted
            complete = False
            report.problems.append(f"{len(self.rejected)} record(s) quarantined")
        if complete and ENDPOINTS[self.resource]["detect_deletes"]:
            deleted = self.tracker.missing_ids()
        now = dt.datetime.now(dt.timezone.utc)
        if deleted and self.ctx.delete_mode == "hard":
            for i in deleted:
                self.batch.add({"id": i, "_klink_hard_deleted": True}, self.load_id)
            yield from self.flush()
        elif deleted:
            yield _side(DELETIONS_TABLE, [{"table_name": self.resource, "id": i, "deleted_at": now} for i in deleted])
        if self.rejected:
            yield _side(REJECTED_TABLE, self.rejected)
        t = self.tracker
        yield _side(RUNS_TABLE, [{
            "resource": self.resource, "started_at": self.started_at, "finished_at": now, "complete": complete,
            "passes": report.passes, "pages": report.pages, "pages_from_memo": self.pages_from_memo,
            "records_seen": self.records_seen, "new": t.new, "changed": t.changed, "unchanged": t.unchanged,
            "deleted": len(deleted), "rejected": len(self.rejected),
            "problems": "; ".join(report.problems) or None,
        }])


def full_scan(ctx: SourceContext, resource: str) -> Iterator[Any]:
    """Read every page, write new/changed rows, then mark what a complete scan no longer returns."""
    run: Optional[_Run] = None
    try:
        try:
            known = read_known_hashes(resource) if ctx.change_detection else {}
            form_fields = resource in FIELD_SOURCES.values()  # small lists, shared with the custom-field typing
            run = _Run(ctx, resource, known, memo=not form_fields)
            if form_fields:
                records, report = ctx.scan_all(resource)
                yield from run.rows(records, 0)
            else:
                scanner = Scanner(ctx.fetcher(resource, memo=run.memo), ctx.page_size, ctx.workers, ctx.max_rescans,
                                  resource)
                for page in scanner.pages():
                    yield from run.take(page)
                report = scanner.report
        except KlinkEndpointUnavailable as exc:
            logger.warning(f"klink: skipping resource {resource}: {exc} (the tenant's plan may lack it)")
            return
        yield from run.finish(report, report.complete)
    finally:  # a failed or abandoned scan stops its helper process too
        if run is not None:
            run.close()


def category_tree(ctx: SourceContext, resource: str = "categories") -> Iterator[Any]:
    """Read the whole tree (one unpaginated request) into one flat table."""
    try:
        known = read_known_hashes(resource) if ctx.change_detection else {}
        run = _Run(ctx, resource, known)
        body = ctx.client.get_json(resource, endpoint_path(resource, ctx.paths), where="tree")
        page = parse_page(body, "data", 1, ctx.page_size, resource)
    except KlinkEndpointUnavailable as exc:
        logger.warning(f"klink: skipping resource {resource}: {exc} (the tenant's plan may lack it)")
        return
    yield from run.rows(list(flatten_categories(page.records)), 1)
    yield from run.finish(ScanReport(pages=1, passes=1, complete=True), True)


def cx_log_windows(ctx: SourceContext, resource: str = "cx_logs") -> Iterator[Any]:
    """Read `selectedDate` windows: [start_date, end_date] when both are given, else from the last
    window end minus the lookback (or start_date on the first run) up to now. The saved position only
    moves forward."""
    state = dlt.current.resource_state()
    now = ctx.end_date or dt.datetime.now(dt.timezone.utc)
    last_end = dt.datetime.fromisoformat(state["last_window_end"]) if state.get("last_window_end") else None
    if ctx.start_date is not None and ctx.end_date is not None:
        begin = ctx.start_date  # a bounded run (backfill, an Airflow interval) reads exactly its range
    else:
        begin = incremental_start(last_end, ctx.start_date, ctx.lookback, now)
    known: Dict[str, str] = {}
    if ctx.change_detection:
        since = (begin - dt.timedelta(days=1)).isoformat()
        known = read_known_hashes(resource, where=f"t.started_date >= '{since}'")
    run = _Run(ctx, resource, known, memo=True)
    try:
        report = ScanReport(complete=True)
        headers = {"x-client-timezone": ctx.timezone}
        try:
            for lower, upper in plan_windows(begin, now, ctx.window):
                window = {"selectedDate": selected_date(lower, upper, ctx.tz)}
                fetch = ctx.fetcher(resource, params=window, headers=headers, memo=run.memo)
                scanner = Scanner(fetch, ctx.page_size, ctx.workers, ctx.max_rescans, f"{resource} {lower:%Y-%m-%d}")
                for page in scanner.pages():
                    yield from run.take(page)
                yield from run.flush()  # the window's rows go out before its end is saved in state
                report.passes += scanner.report.passes
                report.pages += scanner.report.pages
                report.problems += scanner.report.problems
                report.complete = report.complete and scanner.report.complete
                if last_end is None or upper > last_end:
                    state["last_window_end"] = last_end_iso = upper.isoformat()
                    last_end = dt.datetime.fromisoformat(last_end_iso)
        except KlinkEndpointUnavailable as exc:
            logger.warning(f"klink: skipping resource {resource}: {exc} (the tenant's plan may lack it)")
            return
        yield from run.finish(report, False)
    finally:  # a failed or abandoned scan stops its helper process too
        run.close()


MODES = {"full_scan": full_scan, "tree": category_tree, "windowed": cx_log_windows}


def make_resource(ctx: SourceContext, resource: str) -> Any:
    """The dlt resource for `resource`, built from its entry in settings.ENDPOINTS."""
    generator = MODES[ENDPOINTS[resource]["mode"]]
    return dlt.resource(generator, name=resource)(ctx, resource)

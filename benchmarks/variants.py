"""The variants: what each one runs, and what its minimum request count is made of."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

KLINK_FIELD_LISTS = ["contact_fields", "ticket_fields"]  # read once to type custom fields
NOGZ = {"DATA_WRITER__DISABLE_COMPRESSION": "true"}
SMALL_BUFFERS = {"DATA_WRITER__BUFFER_MAX_ITEMS": "500"}
LOOKBACK_DAYS = 3  # klink_source's cx_logs_lookback_days default


@dataclass
class Variant:
    name: str
    kind: str  # floor | stock | klink
    doc: str
    options: Dict[str, Any] = field(default_factory=dict)
    env: Dict[str, str] = field(default_factory=dict)
    rerun_of: Optional[str] = None  # syncs again into the work directory of this variant's run
    cx_window_days: Optional[float] = None  # None: one selectedDate over the whole range
    extra_lists: List[str] = field(default_factory=list)  # lists read besides contacts/tickets/cx-logs
    cx_days: Optional[float] = None  # cx-logs read for the last N days only (None: the whole 31-day range)


def _klink(name: str, doc: str, rerun_of: Optional[str] = None, env: Optional[Dict[str, str]] = None,
           **options: Any) -> Variant:
    # a re-run reads cx-logs from the last window end minus the lookback (cx_logs_lookback_days=3)
    return Variant(name, "klink", doc, options=options, env=env or {}, rerun_of=rerun_of, cx_window_days=7,
                   extra_lists=list(KLINK_FIELD_LISTS), cx_days=LOOKBACK_DAYS if rerun_of else None)


VARIANTS: Dict[str, Variant] = {v.name: v for v in [
    Variant("floor", "floor", "requests + orjson + flatten + one bulk insert per table into DuckDB, no dlt"),
    Variant("stock_dlt", "stock", "dlt rest_api_source, page_number paginator, merge on id, defaults"),
    _klink("klink", "klink_source, full sync into a fresh DuckDB (defaults)"),
    _klink("klink_rerun", "klink_source again on the same DuckDB, nothing changed", rerun_of="klink"),
    _klink("klink_workers1", "lever: pages fetched one at a time (max_workers=1)",
           source_options={"max_workers": 1}),
    _klink("klink_workers8", "lever: 8 pages in flight (max_workers=8)", source_options={"max_workers": 8}),
    _klink("klink_parquet", "lever: loader_file_format=parquet", loader_file_format="parquet"),
    _klink("klink_normw2", "lever: 2 normalize worker processes", env={"NORMALIZE__WORKERS": "2"}),
    _klink("klink_jsonl", "lever: loader_file_format=jsonl (DuckDB COPY from JSON)", loader_file_format="jsonl"),
    _klink("klink_nogz", "lever: dlt's intermediate files uncompressed", env=NOGZ),
    _klink("klink_hints1", "lever: table hints sent with the first batch only (patch)", patches=["hints_once"]),
    _klink("klink_hints1_parquet", "levers: hints once + parquet", patches=["hints_once"],
           loader_file_format="parquet"),
    _klink("klink_hints1_parquet_nogz", "levers: hints once + parquet + uncompressed", patches=["hints_once"],
           loader_file_format="parquet", env=NOGZ),
    _klink("klink_levers_normw2", "levers: hints once + parquet + uncompressed + 2 normalize workers",
           patches=["hints_once"], loader_file_format="parquet", env={**NOGZ, "NORMALIZE__WORKERS": "2"}),
    _klink("klink_levers_normw2_rot", "levers: hints once + parquet + uncompressed + files of 20k rows + 2 "
           "normalize workers", patches=["hints_once"], loader_file_format="parquet",
           env={**NOGZ, "NORMALIZE__WORKERS": "2", "EXTRACT__DATA_WRITER__FILE_MAX_ITEMS": "20000"}),
    _klink("klink_levers_smallbuf", "levers: hints once + parquet + uncompressed + 500-item write buffers",
           patches=["hints_once"], loader_file_format="parquet", env={**NOGZ, **SMALL_BUFFERS}),
]}

DEFAULT = ["floor", "stock_dlt", "klink", "klink_rerun", "klink_workers1", "klink_parquet", "klink_normw2"]
REALISTIC_DEFAULT = ["klink"]


def select(names: Optional[str], realistic: bool) -> List[Variant]:
    chosen = [n.strip() for n in names.split(",") if n.strip()] if names else (
        REALISTIC_DEFAULT if realistic else DEFAULT)
    unknown = [n for n in chosen if n not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    return [VARIANTS[n] for n in chosen]

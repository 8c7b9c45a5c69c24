"""The variants: what each one runs, and what its minimum request count is made of."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

KLINK_FIELD_LISTS = ["contact_fields", "ticket_fields"]  # read once to type custom fields
NOGZ = {"DATA_WRITER__DISABLE_COMPRESSION": "true"}
NORMALIZE_2 = {"NORMALIZE__WORKERS": "2", "DATA_WRITER__FILE_MAX_ITEMS": "20000"}
LOOKBACK_DAYS = 3  # klink_source's cx_logs_lookback_days default
BACKFILL_DAYS = 30  # the first run's cx-log range without a start_date (windows.DEFAULT_BACKFILL_DAYS)


@dataclass
class Variant:
    name: str
    kind: str  # floor | stock | klink
    doc: str
    options: Dict[str, Any] = field(default_factory=dict)
    env: Dict[str, Optional[str]] = field(default_factory=dict)  # None: unset
    rerun_of: Optional[str] = None  # syncs again into the work directory of this variant's run
    cx_window_days: Optional[float] = None  # None: one selectedDate over the whole range
    extra_lists: List[str] = field(default_factory=list)  # lists read besides contacts/tickets/cx-logs
    cx_days: Optional[float] = None  # cx-logs read for the last N days only (None: the whole 31-day range)


def _klink(name: str, doc: str, rerun_of: Optional[str] = None, env: Optional[Dict[str, Optional[str]]] = None,
           **options: Any) -> Variant:
    # a re-run reads cx-logs from the last window end minus the lookback (cx_logs_lookback_days=3)
    return Variant(name, "klink", doc, options=options, env=env or {}, rerun_of=rerun_of, cx_window_days=7,
                   extra_lists=list(KLINK_FIELD_LISTS), cx_days=LOOKBACK_DAYS if rerun_of else BACKFILL_DAYS)


VARIANTS: Dict[str, Variant] = {v.name: v for v in [
    Variant("floor", "floor", "requests + orjson + flatten + one bulk insert per table into DuckDB, no dlt"),
    Variant("stock_dlt", "stock", "dlt rest_api_source, page_number paginator, merge on id, destination defaults"),
    Variant("stock_dlt_parquet", "stock", "stock_dlt with loader_file_format=parquet",
            options={"loader_file_format": "parquet"}),
    _klink("klink", "klink_source as committed, full sync into a fresh DuckDB (run_sync defaults)"),
    _klink("klink_rerun", "klink as committed again on the same DuckDB, nothing changed", rerun_of="klink"),
    # one lever at a time: each of these is klink with one thing changed (or undone)
    _klink("klink_dlt_normalizer", "klink without Arrow batches: dicts through dlt's JSON normalizer",
           patches=["dlt_normalizer"]),
    _klink("klink_dlt_normalizer_tuned", "klink_dlt_normalizer + 2 normalize workers, uncompressed files "
           "(the best the dict path did)", patches=["dlt_normalizer"], env={**NOGZ, **NORMALIZE_2}),
    _klink("klink_insert_values", "klink with dlt's default loader format for DuckDB (before 37365de)",
           loader_file_format="insert_values"),
    _klink("klink_workers1", "klink with pages fetched one at a time (max_workers=1)",
           source_options={"max_workers": 1}),
    _klink("klink_workers8", "klink with 8 pages in flight (max_workers=8)", source_options={"max_workers": 8}),
    _klink("klink_batch1000", "klink with 1,000-row Arrow batches", source_options={"batch_rows": 1000}),
    _klink("klink_batch20000", "klink with 20,000-row Arrow batches", source_options={"batch_rows": 20000}),
    # make_pipeline passes the limit in the credentials, so it is set there (an env setting would not apply)
    _klink("klink_duckdb_mem", "klink with DuckDB memory_limit=128MB, 1 load worker", env={"LOAD__WORKERS": "1"},
           pipeline_options={"duckdb_memory_limit": "128MB"}),
    _klink("klink_no_offload", "klink with every Arrow batch built in the main process (offload_min_rows=0)",
           source_options={"offload_min_rows": 0}),
    _klink("klink_offload_5k", "klink offloading lists of 5,000+ rows (offload_min_rows=5000)",
           source_options={"offload_min_rows": 5000}),
    _klink("klink_staging_merge", "klink with dlt's staging merge (duckdb_direct_merge=false): every row "
           "copied to a staging table, then deleted-and-inserted", pipeline_options={"direct_merge": False}),
    _klink("klink_window", "klink with rate_limit_mode=window: at most N requests in any 60 s, not one every 60/N s"
           " (the same as klink without a rate limit)", source_options={"rate_limit_mode": "window"}),
    _klink("klink_nochange", "klink with change_detection=False (no hash read-back)",
           source_options={"change_detection": False}),
]}

DEFAULT = ["floor", "stock_dlt", "stock_dlt_parquet", "klink", "klink_rerun"]
LEVERS = ["klink", "klink_staging_merge", "klink_no_offload", "klink_dlt_normalizer", "klink_dlt_normalizer_tuned", "klink_workers1", "klink_workers8",
          "klink_batch1000", "klink_batch20000", "klink_duckdb_mem"]
REALISTIC_DEFAULT = ["klink", "klink_window"]


def select(names: Optional[str], realistic: bool) -> List[Variant]:
    groups = {"default": DEFAULT, "levers": LEVERS, "all": list(VARIANTS)}
    chosen = [n.strip() for n in names.split(",") if n.strip()] if names else (
        REALISTIC_DEFAULT if realistic else DEFAULT)
    chosen = list(dict.fromkeys(v for n in chosen for v in groups.get(n, [n])))
    unknown = [n for n in chosen if n not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    return [VARIANTS[n] for n in chosen]

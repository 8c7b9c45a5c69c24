"""Runnable klink pipelines, one named function per scenario (this file is also the examples page).

Each `load_*` function can be run as `python -m pipelines.klink_pipeline <name>`; all read the token
and other settings from `.dlt/` or env vars (`SOURCES__KLINK__API_TOKEN`, `SOURCES__KLINK__BASE_URL`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence

import dlt
from dlt.common import logger
from dlt.common.pipeline import LoadInfo
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from pipelines.direct_merge import klink_duckdb, supports_direct_merge
from sources.klink import ALL_RESOURCES, klink_source
from sources.klink.changes import RUNS_TABLE
from sources.klink.deletes import apply_soft_deletes, remove_stale_children

PIPELINE_NAME = "klink"
DATASET_NAME = "klink_data"  # differs from the DuckDB file stem: DuckDB clashes when catalog == schema
DUCKDB_FILE = "klink.duckdb"
# DuckDB's default memory_limit is 80% of RAM, and a first full load takes what it is given (300k records,
# staging merge: 1.6 GB peak RSS). With direct merges 256MB loads as fast as 512MB (6.9 vs 7.1 s) and the
# load's peak drops from 862 to 638 MB, below the extract's (docs/performance.md).
DUCKDB_MEMORY_LIMIT = "256MB"
NEXT_ITEM_MODE_ENV = "EXTRACT__NEXT_ITEM_MODE"


@dataclass
class SyncResult:
    """What one sync did: dlt's load info, rows written per table, per-resource change counts."""

    load_info: Optional[LoadInfo]
    rows_written: Dict[str, int] = field(default_factory=dict)
    resources: List[Dict[str, Any]] = field(default_factory=list)
    soft_deleted: Dict[str, int] = field(default_factory=dict)
    stale_children: Dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def make_pipeline(
    destination: Any = "duckdb",
    dataset_name: str = DATASET_NAME,
    duckdb_path: Optional[str] = None,
    pipelines_dir: Optional[str] = None,
    pipeline_name: str = PIPELINE_NAME,
    progress: Any = None,
    duckdb_memory_limit: Optional[str] = DUCKDB_MEMORY_LIMIT,
    direct_merge: bool = True,
) -> dlt.Pipeline:
    """A klink pipeline; DuckDB writes `klink.duckdb` in the working directory unless told otherwise,
    using at most `duckdb_memory_limit` ("none" or None: DuckDB's default), merging the klink tables
    without a staging copy unless `direct_merge` is False (pipelines/direct_merge.py)."""
    if destination == "duckdb":
        credentials = DuckDbCredentials(os.path.abspath(duckdb_path or DUCKDB_FILE),
                                        global_config=duckdb_settings(duckdb_memory_limit))
        factory = klink_duckdb if direct_merge else dlt.destinations.duckdb
        destination = factory(credentials)
    kwargs: Dict[str, Any] = {}
    if pipelines_dir:
        kwargs["pipelines_dir"] = pipelines_dir
    if progress:
        kwargs["progress"] = progress
    return dlt.pipeline(pipeline_name=pipeline_name, destination=destination, dataset_name=dataset_name, **kwargs)


def duckdb_settings(memory_limit: Optional[str]) -> Optional[Dict[str, str]]:
    """DuckDB's global settings for a memory limit; None for DuckDB's own default ("none" or empty)."""
    limit = str(memory_limit or "").strip()
    return {"memory_limit": limit} if limit and limit.lower() != "none" else None


def run_sync(
    pipeline: dlt.Pipeline,
    resources: Optional[Sequence[str]] = None,
    full_refresh: bool = False,
    source: Any = None,
    loader_file_format: Optional[str] = None,
    **source_options: Any,
) -> SyncResult:
    """One sync: repair pending deletions, extract+load, mark deletions; `full_refresh` reloads everything.

    Source options not given here (resources included) come from dlt config (`sources.klink.*`);
    `loader_file_format="parquet"` is what the filesystem destination should write.
    """
    started = time.monotonic()
    finish_interrupted(pipeline)
    loader_file_format = loader_file_format or preferred_file_format(pipeline)
    if source is None:
        source_options.setdefault(
            "direct_merge", supports_direct_merge(pipeline.destination) and loader_file_format == "parquet")
        if full_refresh:
            source_options["change_detection"] = False  # the tables are dropped: write every row
        if resources:  # an explicit None would stop dlt from reading sources.klink.resources
            source_options["resources"] = list(resources)
        source = klink_source(**source_options)
    refresh = None
    if full_refresh:  # only some resources selected: drop just their tables and state, keep the rest
        partial = set(source.selected_resources) != set(ALL_RESOURCES)
        refresh = "drop_resources" if partial else "drop_sources"
    with one_resource_at_a_time():
        info = pipeline.run(source, refresh=refresh, loader_file_format=loader_file_format)
    result = SyncResult(load_info=info)
    result.soft_deleted = apply_soft_deletes(pipeline)
    result.stale_children = remove_stale_children(pipeline)
    trace = pipeline.last_trace
    if trace and trace.last_normalize_info:
        result.rows_written = dict(trace.last_normalize_info.row_counts)
    result.resources = read_run_log(pipeline, info.loads_ids)
    result.seconds = time.monotonic() - started
    return result


@contextlib.contextmanager
def one_resource_at_a_time() -> Iterator[None]:
    """dlt extracts the resources one after the other ("fifo") unless `extract.next_item_mode` is set.

    Each scan already fetches its pages concurrently; dlt's default round robin only adds the memory
    of three scans (and three helper processes) at once. 100k+100k+100k: 65 s / 1.2 GB all processes
    round robin, 51 s / 0.88 GB fifo (docs/performance.md).
    """
    if dlt.config.get("extract.next_item_mode") is not None:
        yield
        return
    os.environ[NEXT_ITEM_MODE_ENV] = "fifo"
    try:
        yield
    finally:
        os.environ.pop(NEXT_ITEM_MODE_ENV, None)


def preferred_file_format(pipeline: dlt.Pipeline) -> Optional[str]:
    """Parquet where the destination loads it (DuckDB, filesystem, ...), else dlt's default.

    Measured (20k contacts + 20k tickets + 20k cx-logs into DuckDB): dlt's default insert_values
    took 153 s and 8 GB peak RSS, parquet 31 s and 0.7 GB; the gap grows with size.
    """
    try:
        formats = pipeline.destination.capabilities().supported_loader_file_formats
    except Exception:
        return None
    return "parquet" if "parquet" in formats else None


def finish_interrupted(pipeline: dlt.Pipeline) -> None:
    """Load what an interrupted run left behind, then apply its deletions.

    dlt's `run()` with pending packages loads them and exits without extracting; doing it here first
    keeps every sync a real sync. Packages are complete units (data, deletions and state together),
    so this never trusts a partial scan: a run killed mid-extract left no package at all.
    """
    if pipeline.has_pending_data:
        logger.warning("klink: finishing the load packages an interrupted run left behind")
        pipeline.normalize()
        pipeline.load()
    apply_soft_deletes(pipeline)
    remove_stale_children(pipeline)


def read_run_log(pipeline: dlt.Pipeline, load_ids: Sequence[str]) -> List[Dict[str, Any]]:
    """The `_klink_runs` rows of the given loads (per resource: new, changed, deleted, complete...)."""
    if not load_ids or RUNS_TABLE not in pipeline.default_schema.tables:
        return []
    ids = ", ".join(f"'{i}'" for i in load_ids)
    try:
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name(RUNS_TABLE)
            with client.execute_query(f"SELECT * FROM {table} WHERE _dlt_load_id IN ({ids}) ORDER BY resource") as cur:
                columns = [c[0] for c in cur.description]
                return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
    except Exception:
        return []


# --- scenarios -------------------------------------------------------------------------------------


def load_all() -> SyncResult:
    """Full load on the first run, incremental after: every resource into klink.duckdb."""
    return run_sync(make_pipeline())


def load_incremental() -> SyncResult:
    """The scheduled run: same as load_all; only new or changed rows are written, deletions marked."""
    return run_sync(make_pipeline())


def load_full_refresh() -> SyncResult:
    """Drop the klink tables and state, then reload everything."""
    return run_sync(make_pipeline(), full_refresh=True)


def load_cx_logs_backfill(start_date: str = "2026-01-01", end_date: Optional[str] = None) -> SyncResult:
    """Backfill CX logs for a date range, in `cx_logs_window_days` chunks."""
    return run_sync(make_pipeline(), resources=["cx_logs"], start_date=start_date, end_date=end_date)


def load_selected(resources: Sequence[str] = ("contacts", "tickets")) -> SyncResult:
    """Only some resources; the others keep their data and state."""
    return run_sync(make_pipeline(), resources=resources)


def load_to_postgres() -> SyncResult:
    """Another destination: credentials from `destination.postgres.credentials` in .dlt/secrets.toml."""
    return run_sync(make_pipeline(destination="postgres"))


def load_to_parquet(bucket_url: str = "klink_parquet") -> SyncResult:
    """The filesystem destination writing parquet files (local folder or s3://, gs://, az://).

    Files are appended per load; deletions stay recorded in `_klink_deletions` (no in-place update).
    """
    destination = dlt.destinations.filesystem(bucket_url=bucket_url)
    return run_sync(make_pipeline(destination=destination), loader_file_format="parquet")


SCENARIOS = {f.__name__: f for f in (load_all, load_incremental, load_full_refresh, load_cx_logs_backfill,
                                     load_selected, load_to_postgres, load_to_parquet)}

if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "load_all"
    print(SCENARIOS[name]())  # noqa: T201

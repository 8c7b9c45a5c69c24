"""Our source through `run_sync`, into a DuckDB file in the run's work directory.

A full sync writes a fresh DuckDB; the re-run variant syncs again into the same file and pipeline
folder (nothing changed in the sandbox, so it should write no data rows).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import duckdb

from pipelines.klink_pipeline import DATASET_NAME, make_pipeline, run_sync

from .stock import phases

RESOURCES = ["contacts", "tickets", "cx_logs"]


def run(base_url: str, token: str, workdir: Path, now: str, source_options: Optional[Dict[str, Any]] = None,
        loader_file_format: Optional[str] = None, patches: Optional[List[str]] = None,
        pipeline_options: Optional[Dict[str, Any]] = None, **_: Any) -> Dict[str, Any]:
    if patches:
        from .patches import apply

        apply(patches)
    db = workdir / "klink.duckdb"
    pipeline = make_pipeline(duckdb_path=str(db), pipelines_dir=str(workdir / "pipelines"),
                             pipeline_name="klink_bench", **(pipeline_options or {}))
    # as a scheduled run: no start_date (the first run backfills 30 days, later ones read from the last
    # window end minus the lookback); end_date pins "now" to the sandbox's virtual clock
    options = {"end_date": dt.datetime.fromisoformat(now).isoformat(), **(source_options or {})}
    started = time.perf_counter()
    result = run_sync(pipeline, resources=RESOURCES, api_token=token, base_url=base_url,
                      loader_file_format=loader_file_format, **options)
    total = time.perf_counter() - started
    con = duckdb.connect(str(db), read_only=True)
    parents = {t: con.execute(f"SELECT COUNT(DISTINCT id) FROM {DATASET_NAME}.{t}").fetchone()[0]
               for t in RESOURCES}
    con.close()
    runs = {r["resource"]: {k: r[k] for k in ("new", "changed", "unchanged", "pages", "passes", "complete")}
            for r in result.resources}
    return {"rows_written": result.rows_written, "parents": parents, "phases": phases(pipeline.last_trace, total),
            "runs": runs}

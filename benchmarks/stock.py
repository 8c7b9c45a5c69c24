"""Stock dlt: the `rest_api_source` a dlt user writes for these endpoints from dlt's docs.

Page-number paginator (base_page=1, page_param="page", total_path="lastPage"), pageSize via params,
bearer auth, merge on id, every other setting at dlt's default (nesting, loader format, workers).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict

import dlt
import duckdb
from dlt.sources.rest_api import rest_api_source

from .harness import PAGE_SIZE


def source(base_url: str, token: str, cx_window: str) -> Any:
    return rest_api_source({
        "client": {
            "base_url": base_url,
            "auth": {"type": "bearer", "token": token},
            "paginator": {"type": "page_number", "base_page": 1, "page_param": "page", "total_path": "lastPage"},
        },
        "resource_defaults": {
            "primary_key": "id",
            "write_disposition": "merge",
            "endpoint": {"params": {"pageSize": PAGE_SIZE}},
        },
        "resources": [
            {"name": "contacts", "endpoint": {"path": "/api/v1/contacts", "data_selector": "data"}},
            {"name": "tickets", "endpoint": {"path": "/api/v1/tickets", "data_selector": "data"}},
            {
                "name": "cx_logs",
                "endpoint": {
                    "path": "/api/v1/cx-logs",
                    "params": {"selectedDate": cx_window},
                    "headers": {"x-client-timezone": "UTC"},
                    "data_selector": "cxLogs.data",
                    "paginator": {"type": "page_number", "base_page": 1, "page_param": "page",
                                  "total_path": "cxLogs.lastPage"},
                },
            },
        ],
    })


def run(base_url: str, token: str, workdir: Path, cx_window: str, loader_file_format: Any = None,
        **_: Any) -> Dict[str, Any]:
    db = workdir / "stock.duckdb"
    pipeline = dlt.pipeline(pipeline_name="stock_bench", destination=dlt.destinations.duckdb(str(db)),
                            dataset_name="stock_data", pipelines_dir=str(workdir / "pipelines"))
    started = time.perf_counter()
    pipeline.run(source(base_url, token, cx_window), loader_file_format=loader_file_format)
    total = time.perf_counter() - started
    trace = pipeline.last_trace
    rows = dict(trace.last_normalize_info.row_counts) if trace and trace.last_normalize_info else {}
    con = duckdb.connect(str(db), read_only=True)
    parents = {t: con.execute(f"SELECT COUNT(DISTINCT id) FROM stock_data.{t}").fetchone()[0]
               for t in ("contacts", "tickets", "cx_logs")}
    con.close()
    return {"rows_written": rows, "parents": parents, "phases": phases(trace, total)}


def phases(trace: Any, total: float) -> Dict[str, float]:
    """Seconds per dlt step (extract, normalize, load) from the pipeline trace."""
    out = {"run": total}
    for step in getattr(trace, "steps", []) or []:
        if step.started_at and step.finished_at and step.step in ("extract", "normalize", "load"):
            out[step.step] = (step.finished_at - step.started_at).total_seconds()
    return out
